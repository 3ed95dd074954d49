#pragma once
// One background thread for the whole process that writes session timelines to the database:
// sessions queue events without waiting (their threads never block on the database), the thread
// inserts them in batches (every ~200 ms or 500 events), and runs each session's final step
// (closing the recording, which fsyncs, and ending the row) after the events queued before it.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <variant>

#include "server/store/store.hpp"

namespace vigil::services {

class SessionEventWriter {
 public:
  struct Options {
    std::size_t max_queued_events = 100000;  // beyond this, push() refuses (and says so)
    std::chrono::milliseconds batch_interval{200};
    std::size_t batch_size = 500;
  };
  SessionEventWriter(store::Store& store, Options options);
  explicit SessionEventWriter(store::Store& store) : SessionEventWriter(store, Options{}) {}
  /// Writes what is queued, then stops the thread.
  ~SessionEventWriter();
  SessionEventWriter(const SessionEventWriter&) = delete;
  SessionEventWriter& operator=(const SessionEventWriter&) = delete;

  /// Queues an event; false (dropped) if the queue is full. Any thread, never blocks on I/O.
  bool push(store::SessionEvent e);
  /// Queues work that runs on the writer thread once every event queued before it is written.
  /// Always accepted; after stop() it runs on the caller's thread.
  void pushTask(std::function<void()> task);
  /// Blocks until everything queued so far has been written (tests, shutdown).
  void flush();
  /// Drains the queue and joins the thread. Idempotent.
  void stop();

 private:
  void run();
  void writeEvents(std::vector<store::SessionEvent>& batch);

  store::Store& store_;
  Options options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::variant<store::SessionEvent, std::function<void()>>> queue_;
  std::size_t queued_events_ = 0;
  std::size_t queued_tasks_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace vigil::services
