#include "web/https_server.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "web/server_internal.hpp"

namespace vigil::web {

using namespace detail;

namespace {

std::shared_ptr<spdlog::logger> webLogger() {
  if (auto l = spdlog::get("web")) return l;
  try {
    return spdlog::stdout_color_mt("web");
  } catch (const spdlog::spdlog_ex&) {
    // Another component registered it between get() and create.
    if (auto l = spdlog::get("web")) return l;
    return spdlog::default_logger();
  }
}

// Mozilla "intermediate" for TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites are
// OpenSSL's defaults, which are all fine.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

void configureTls(ssl::context& ctx, const HttpsServerOptions& opts) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression);
  SSL_CTX* native = ctx.native_handle();
  // The no_tlsv1_x options are deprecated in OpenSSL 3; the floor is what actually binds.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1)
    throw std::runtime_error("web: cannot set TLS 1.2 minimum");
  // Client-initiated renegotiation is a CPU-exhaustion vector and nothing here needs it.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1)
    throw std::runtime_error("web: cannot set TLS cipher list");
  try {
    ctx.use_certificate_chain_file(opts.cert_file);
  } catch (const std::exception& e) {
    throw std::runtime_error("web: cannot load certificate " + opts.cert_file + ": " + e.what());
  }
  try {
    ctx.use_private_key_file(opts.key_file, ssl::context::pem);
  } catch (const std::exception& e) {
    throw std::runtime_error("web: cannot load private key " + opts.key_file + ": " + e.what());
  }
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("web: private key " + opts.key_file + " does not match " +
                             opts.cert_file);
}

}  // namespace

namespace detail {

void ConnectionRegistry::add(std::weak_ptr<Closable> c) {
  std::lock_guard lk(mu_);
  // Amortised pruning: sweep dead entries only when the list has doubled since the last sweep.
  if (live_.size() >= prune_at_) {
    std::erase_if(live_, [](const auto& w) { return w.expired(); });
    prune_at_ = std::max<std::size_t>(64, live_.size() * 2);
  }
  live_.push_back(std::move(c));
}

void ConnectionRegistry::closeAll() {
  std::vector<std::shared_ptr<Closable>> snapshot;
  {
    std::lock_guard lk(mu_);
    for (auto& w : live_)
      if (auto s = w.lock()) snapshot.push_back(std::move(s));
    live_.clear();
  }
  for (auto& s : snapshot) s->closeNow();
}

void logFailure(spdlog::logger& log, const beast::error_code& ec, const char* what,
                const std::string& remote) {
  if (ec == net::error::operation_aborted) return;
  log.debug("{} from {}: {}", what, remote, ec.message());
}

}  // namespace detail

struct HttpsServer::Impl {
  std::shared_ptr<ServerShared> shared = std::make_shared<ServerShared>();
  // Declared before everything that holds sockets or posts to it, so it is destroyed last:
  // its destructor drops queued handlers, and with them the sessions they keep alive.
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  net::thread_pool pool;
  std::vector<std::thread> io_threads;
  std::uint16_t port = 0;

  std::mutex mu;
  std::condition_variable stopped_cv;
  bool started = false;
  bool stop_requested = false;
  bool stop_done = false;
  std::thread reaper;  // finishes a stop() that was called from one of our own threads

  Impl(HttpsServerOptions opts, RequestHandler handler)
      : ioc(std::max(1, opts.io_threads)),
        pool(static_cast<std::size_t>(std::max(1, opts.worker_threads))) {
    shared->log = webLogger();
    shared->pool = &pool;
    configureTls(shared->tls, opts);
    listen(opts);
    shared->opts = std::move(opts);
    shared->handler = std::move(handler);
  }

  void listen(const HttpsServerOptions& opts) {
    const std::string where = opts.bind_address + ":" + std::to_string(opts.port);
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(opts.bind_address, std::to_string(opts.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty())
      throw std::runtime_error("web: cannot resolve " + where + ": " + ec.message());
    tcp::endpoint ep = results.begin()->endpoint();
    auto check = [&](const char* step) {
      if (ec)
        throw std::runtime_error("web: cannot listen on " + where + " (" + step +
                                 "): " + ec.message());
    };
    acceptor.open(ep.protocol(), ec);
    check("open");
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    check("SO_REUSEADDR");
    acceptor.bind(ep, ec);
    check("bind");
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    check("listen");
    port = acceptor.local_endpoint(ec).port();
    check("local_endpoint");
  }

  void doAccept() {
    // Each connection gets its own strand so its handlers never run concurrently.
    acceptor.async_accept(net::make_strand(ioc),
                          [this](beast::error_code ec, tcp::socket socket) {
                            onAccept(ec, std::move(socket));
                          });
  }

  void onAccept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      shared->log->warn("accept failed: {}", ec.message());
      // Out of descriptors or similar: back off instead of spinning on the error.
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](beast::error_code wec) {
        if (!wec) doAccept();
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    try {
      startDetectSession(std::move(socket), shared);
    } catch (const std::exception& e) {
      shared->log->error("cannot start session: {}", e.what());
    }
    doAccept();
  }

  void runIo() {
    // An exception escaping a handler would end this thread and silently halve the server.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        shared->log->error("unexpected exception in I/O thread: {}", e.what());
      } catch (...) {
        shared->log->error("unexpected exception in I/O thread");
      }
    }
  }

  bool onOwnThread() {
    return ioc.get_executor().running_in_this_thread() ||
           pool.get_executor().running_in_this_thread();
  }

  void finishStop() {
    for (auto& t : io_threads)
      if (t.joinable()) t.join();
    pool.join();  // waits for handlers already running; queued ones were dropped by stop()
    // With every thread joined nothing touches a socket any more, so closing from here cannot
    // race a session's handlers (posting closes to strands would not run on a stopped context).
    beast::error_code ec;
    acceptor.close(ec);
    shared->registry.closeAll();
    std::lock_guard lk(mu);
    stop_done = true;
    stopped_cv.notify_all();
  }
};

HttpsServer::HttpsServer(HttpsServerOptions opts, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(handler))) {}

HttpsServer::~HttpsServer() {
  stop();
  std::lock_guard lk(impl_->mu);
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

void HttpsServer::start() {
  std::lock_guard lk(impl_->mu);
  if (impl_->started || impl_->stop_requested) return;
  impl_->started = true;
  impl_->doAccept();
  const int n = std::max(1, impl_->shared->opts.io_threads);
  for (int i = 0; i < n; ++i)
    impl_->io_threads.emplace_back([impl = impl_.get()] { impl->runIo(); });
  impl_->shared->log->info("listening on https://{}:{}", impl_->shared->opts.bind_address,
                           impl_->port);
}

void HttpsServer::stop() {
  auto& im = *impl_;
  const bool own_thread = im.onOwnThread();
  {
    std::unique_lock lk(im.mu);
    if (im.stop_requested) {
      // An outside caller must find the server fully stopped on return; one of our own threads
      // cannot wait, since the wait would include joining itself.
      if (!own_thread) im.stopped_cv.wait(lk, [&] { return im.stop_done; });
      return;
    }
    im.stop_requested = true;
    im.shared->stopping = true;
    im.ioc.stop();
    im.pool.stop();
    if (own_thread) {
      im.reaper = std::thread([p = &im] { p->finishStop(); });
      return;
    }
  }
  im.finishStop();
}

void HttpsServer::setWebSocketHandler(WebSocketHandler handler) {
  std::lock_guard lk(impl_->mu);
  // Sessions read the handler without a lock: it may only change while nothing runs.
  if (impl_->started) throw std::logic_error("web: setWebSocketHandler after start()");
  impl_->shared->ws_handler = std::move(handler);
}

std::uint16_t HttpsServer::port() const { return impl_->port; }

}  // namespace vigil::web
