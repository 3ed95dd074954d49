#include "server/services/session_event_writer.hpp"

#include <future>

#include "server/services/session_log.hpp"

namespace vigil::services {

SessionEventWriter::SessionEventWriter(store::Store& store, Options options)
    : store_(store), options_(options), thread_([this] { run(); }) {}

SessionEventWriter::~SessionEventWriter() { stop(); }

bool SessionEventWriter::push(store::SessionEvent e) {
  {
    std::lock_guard g(mu_);
    if (stopped_ || queued_events_ >= options_.max_queued_events) return false;
    queue_.emplace_back(std::move(e));
    if (++queued_events_ < options_.batch_size) return true;
  }
  wake_.notify_one();
  return true;
}

void SessionEventWriter::pushTask(std::function<void()> task) {
  {
    std::unique_lock g(mu_);
    if (!stopped_) {
      queue_.emplace_back(std::move(task));
      ++queued_tasks_;
      g.unlock();
      wake_.notify_one();
      return;
    }
  }
  try {
    task();
  } catch (const std::exception& e) {
    sessionLog()->error("a session's final step failed: {}", e.what());
  }
}

void SessionEventWriter::flush() {
  std::promise<void> done;
  auto f = done.get_future();
  pushTask([&done] { done.set_value(); });
  f.wait();
}

void SessionEventWriter::stop() {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SessionEventWriter::writeEvents(std::vector<store::SessionEvent>& batch) {
  if (batch.empty()) return;
  try {
    store_.insertSessionEvents(batch);
  } catch (const std::exception& e) {
    // The session keeps running; its timeline misses this batch. Never log event texts (they
    // may hold what people typed).
    sessionLog()->error("could not write {} session events: {}", batch.size(), e.what());
  }
  batch.clear();
}

void SessionEventWriter::run() {
  std::vector<store::SessionEvent> batch;
  for (;;) {
    std::function<void()> task;
    bool exit = false;
    {
      std::unique_lock lk(mu_);
      // Wait for a full batch, a task, or the interval; then take what is there.
      wake_.wait_for(lk, options_.batch_interval, [&] {
        if (stopping_) return true;
        return queued_events_ >= options_.batch_size || queued_tasks_ > 0;
      });
      while (!queue_.empty() && batch.size() < options_.batch_size) {
        auto& front = queue_.front();
        if (auto* t = std::get_if<std::function<void()>>(&front)) {
          task = std::move(*t);
          queue_.pop_front();
          --queued_tasks_;
          break;
        }
        batch.push_back(std::move(std::get<store::SessionEvent>(front)));
        queue_.pop_front();
        --queued_events_;
      }
      if (stopping_ && queue_.empty() && !task) {
        stopped_ = true;
        exit = true;
      }
    }
    writeEvents(batch);
    if (task) {
      try {
        task();
      } catch (const std::exception& e) {
        sessionLog()->error("a session's final step failed: {}", e.what());
      }
    }
    if (exit) return;
  }
}

}  // namespace vigil::services
