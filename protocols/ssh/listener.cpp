#include "protocols/net/tcp_listen.hpp"
#include "protocols/ssh/listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "protocols/ssh/listener_side.hpp"
#include "protocols/ssh/ssh_common.hpp"

namespace vigil::ssh {

namespace {
// Threads touch only the stack pages they use; the size bounds the address space of 1,000
// idle connections (libssh, OpenSSL and the Gatekeeper's calls stay well within it).
constexpr std::size_t kConnectionStack = 256 * 1024;

}  // namespace

struct SshListener::Conn {
  SshListener* owner = nullptr;
  std::uint64_t id = 0;
  int fd = -1;
  ssh_session session = nullptr;
  std::string client_addr;
  std::chrono::steady_clock::time_point login_deadline;
  bool login_done = false;  // guarded by owner->mu_
  bool shut = false;        // guarded by owner->mu_
  proto::SessionControl* control = nullptr;  // guarded by owner->mu_; set while proxying
};

SshListener::SshListener(proto::Gatekeeper& gatekeeper, ListenerOptions options)
    : gatekeeper_(gatekeeper), options_(std::move(options)) {}

SshListener::~SshListener() { stop(); }

bool SshListener::start(std::string& error) {
  if (started_) {
    error = "already started";
    return false;
  }
  if (options_.host_key_file.empty()) {
    error = "no SSH host key file configured";
    return false;
  }
  ssh_key key = loadOrCreateHostKey(options_.host_key_file, error);
  if (key == nullptr) return false;
  fingerprint_ = fingerprintOf(key);
  ssh_bind b = ssh_bind_new();
  if (b == nullptr) {
    ssh_key_free(key);
    error = "ssh_bind_new failed";
    return false;
  }
  // The bind owns the key from here on.
  if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, key) != SSH_OK) {
    ssh_key_free(key);
    ssh_bind_free(b);
    error = "cannot use the SSH host key";
    return false;
  }
  bind_ = b;

  listen_fd_ = net::listenTcp(options_.bind_address, options_.port, "SSH", port_, error);
  if (listen_fd_ < 0) return false;
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  started_ = true;
  accept_thread_ = std::thread([this] { acceptLoop(); });
  log().info("SSH listener on {}:{} (host key {})", options_.bind_address, port_, fingerprint_);
  return true;
}

void SshListener::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::unique_lock lk(mu_);
  // Sessions in their data phase end as "terminated" with a message to the person; give them a
  // moment to say so before every remaining socket is cut.
  bool any = false;
  for (auto& [id, c] : conns_) {
    if (c->control != nullptr) {
      c->control->terminate("Vigil is stopping");
      any = true;
    }
  }
  if (any) all_done_.wait_for(lk, std::chrono::seconds(3), [this] { return conns_.empty(); });
  for (auto& [id, c] : conns_) {
    // Unblocks whatever the connection thread waits for; it then ends its session and exits.
    if (!c->shut) ::shutdown(c->fd, SHUT_RDWR);
    c->shut = true;
  }
  if (!all_done_.wait_for(lk, std::chrono::seconds(60), [this] { return conns_.empty(); })) {
    log().error("SSH listener stop: {} connection(s) did not finish", conns_.size());
  }
  lk.unlock();
  ::close(stop_fd_);
  stop_fd_ = -1;
  ssh_bind_free(static_cast<ssh_bind>(bind_));
  bind_ = nullptr;
  log().info("SSH listener stopped");
}

SshListener::Stats SshListener::stats() const {
  std::lock_guard lk(mu_);
  return {static_cast<int>(conns_.size()), unauthenticated_, accepted_, rejected_};
}

void SshListener::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int rc = ::poll(fds, 2, 1000);
    if (stopping_) break;
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      for (int i = 0; i < 64 && !stopping_; ++i) acceptOne();
    }
    reapExpiredLogins();
  }
}

void SshListener::acceptOne() {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      log().warn("SSH accept failed: {}", strerror(errno));
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return;
  }
  std::string addr = net::peerName(ss);
  // Keystrokes and echoes are small packets: no Nagle delay on either leg.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  {
    std::lock_guard lk(mu_);
    bool full = static_cast<int>(conns_.size()) >= options_.max_sessions;
    bool busy = unauthenticated_ >= options_.max_unauthenticated;
    if (full || busy) {
      ++rejected_;
      log().warn("client={} refused: {}", addr,
                 full ? "too many SSH connections" : "too many SSH logins in progress");
      ::close(fd);
      return;
    }
  }
  ssh_session s = ssh_new();
  if (s == nullptr || ssh_bind_accept_fd(static_cast<ssh_bind>(bind_), s, fd) != SSH_OK) {
    log().warn("client={} refused: {}", addr, s ? ssh_get_error(s) : "ssh_new failed");
    if (s == nullptr || ssh_get_fd(s) != fd) ::close(fd);
    if (s) ssh_free(s);
    return;
  }
  auto conn = std::make_shared<Conn>();
  conn->owner = this;
  conn->fd = fd;
  conn->session = s;
  conn->client_addr = addr;
  conn->login_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.login_grace_seconds);
  launch(conn);
}

void SshListener::launch(std::shared_ptr<Conn> conn) {
  {
    std::lock_guard lk(mu_);
    conn->id = next_id_++;
    conns_[conn->id] = conn;
    ++unauthenticated_;
    ++accepted_;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kConnectionStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  auto* arg = new std::shared_ptr<Conn>(conn);
  pthread_t tid;
  int rc = pthread_create(&tid, &attr, &SshListener::connectionMain, arg);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete arg;
    log().error("client={} refused: cannot start a thread ({})", conn->client_addr, strerror(rc));
    std::lock_guard lk(mu_);
    conns_.erase(conn->id);
    --unauthenticated_;
    ++rejected_;
    ssh_free(conn->session);  // closes the socket
  }
}

void* SshListener::connectionMain(void* arg) {
  std::shared_ptr<Conn> conn = std::move(*static_cast<std::shared_ptr<Conn>*>(arg));
  delete static_cast<std::shared_ptr<Conn>*>(arg);
  SshListener* self = conn->owner;
  pthread_setname_np(pthread_self(), "vigil-ssh");

  PersonConnection pc;
  pc.gatekeeper = &self->gatekeeper_;
  pc.client_addr = conn->client_addr;
  pc.connect_timeout_seconds = self->options_.connect_timeout_seconds;
  pc.banner = self->options_.banner;
  pc.on_login_done = [self, c = conn.get()] {
    std::lock_guard lk(self->mu_);
    if (!c->login_done) {
      c->login_done = true;
      --self->unauthenticated_;
    }
  };
  pc.on_control = [self, c = conn.get()](proto::SessionControl* control) {
    std::lock_guard lk(self->mu_);
    c->control = control;
  };
  try {
    servePerson(conn->session, pc);
  } catch (const std::exception& e) {
    log().error("client={} connection failed: {}", conn->client_addr, e.what());
  } catch (...) {
    log().error("client={} connection failed", conn->client_addr);
  }
  {
    // Deregister before the socket closes, so that nobody shuts down a reused descriptor.
    std::lock_guard lk(self->mu_);
    if (!conn->login_done) {
      conn->login_done = true;
      --self->unauthenticated_;
    }
    conn->shut = true;
  }
  if (ssh_is_connected(conn->session)) ssh_disconnect(conn->session);
  ssh_free(conn->session);
  {
    std::lock_guard lk(self->mu_);
    self->conns_.erase(conn->id);
    if (self->conns_.empty()) self->all_done_.notify_all();
  }
  return nullptr;
}

void SshListener::reapExpiredLogins() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  for (auto& [id, c] : conns_) {
    if (!c->login_done && !c->shut && now >= c->login_deadline) {
      log().info("client={} login grace of {} s expired", c->client_addr, options_.login_grace_seconds);
      ::shutdown(c->fd, SHUT_RDWR);
      c->shut = true;
    }
  }
}

}  // namespace vigil::ssh
