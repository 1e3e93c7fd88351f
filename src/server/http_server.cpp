#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "o2gw/problem.hpp"
#include "o2gw/server.hpp"
#include "o2gw/uuid.hpp"
#include "tls_context.hpp"

namespace o2gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

template <typename Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// Set on every response the session writes; a header the handler set wins.
// Static strings: this runs for every response on the hot path.
constexpr std::string_view kNoSniff = "nosniff";
constexpr std::string_view kNoStore = "no-store";
constexpr std::string_view kCsp = "default-src 'none'; frame-ancestors 'none'";
constexpr std::string_view kDeny = "DENY";
constexpr std::string_view kNoReferrer = "no-referrer";

void set_security_headers(bhttp::response<bhttp::string_body>& out, std::string_view hsts) {
  out.set("X-Content-Type-Options", kNoSniff);
  out.set(bhttp::field::cache_control, kNoStore);
  out.set("Content-Security-Policy", kCsp);
  out.set(bhttp::field::x_frame_options, kDeny);
  out.set("Referrer-Policy", kNoReferrer);
  if (!hsts.empty()) out.set(bhttp::field::strict_transport_security, hsts);
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// Maps a read error to the problem the client gets before we close; 0 = just close.
struct ReadFailure {
  int status = 0;
  std::string_view reason;
  std::string detail;
};

ReadFailure classify(const beast::error_code& ec, const ServerConfig& cfg) {
  if (ec == bhttp::error::header_limit) {
    return {431, "header_limit",
            "request header fields exceed the limit of " + std::to_string(cfg.header_limit) + " bytes"};
  }
  if (ec == bhttp::error::body_limit) {
    return {413, "body_limit", "request body exceeds the limit of " + std::to_string(cfg.body_limit) + " bytes"};
  }
  if (ec == beast::error::timeout) return {408, "timeout", "the request was not received in time"};
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
    return {};
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return {400, "malformed", "malformed HTTP request: " + ec.message()};
  }
  return {};
}

// The request-target from the unparsed request line in the buffer, for the
// problem "instance" of a request rejected before its header could be parsed.
std::string peek_target(const beast::flat_buffer& buf) {
  std::string_view data(static_cast<const char*>(buf.data().data()), std::min<std::size_t>(buf.size(), 8192));
  data = data.substr(0, data.find_first_of("\r\n"));
  auto sp = data.find(' ');
  if (sp == std::string_view::npos) return {};
  data.remove_prefix(sp + 1);
  data = data.substr(0, data.find(' '));
  if (data.empty() || data.front() != '/') return {};
  return std::string(data);
}

// Where a handler's response lands. A synchronous handler fills it before the
// session looks; an asynchronous one wakes the waiting session on its strand.
struct ResponseSlot {
  std::mutex mu;
  std::optional<http::Response> value;
  std::function<void()> wake;  // set while the session waits

  void fulfil(http::Response r) {
    std::function<void()> w;
    {
      std::lock_guard lock(mu);
      if (value) return;
      value = std::move(r);
      w = std::move(wake);
    }
    if (w) w();
  }
  bool ready() {
    std::lock_guard lock(mu);
    return value.has_value();
  }
};

// The responder handed to the handler. Dropping every copy without answering
// answers 500, so a buggy handler cannot leave a connection waiting forever.
struct Responder {
  Responder(std::shared_ptr<ResponseSlot> s, const http::Request* r) : slot(std::move(s)), req(r) {}
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  std::shared_ptr<ResponseSlot> slot;
  const http::Request* req;  // alive: the session waits for the slot
  ~Responder() {
    if (!slot->ready()) {
      spdlog::error("request {} {}: handler finished without a response", req->method_text, req->path);
      slot->fulfil(problem_response(*req, 500, "internal error; see the server log for request " + req->request_id));
    }
  }
};

// Waits until the slot holds the response, resuming on the connection's strand.
// A plain function returning the operation, not a coroutine: the session's frame
// keeps the slot alive, and no shared_ptr crosses a coroutine boundary by value.
auto wait_for(ResponseSlot* slot) {
  return asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [slot](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        std::unique_lock lock(slot->mu);
        auto resume = [h] {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h] { std::move (*h)(); });
        };
        if (slot->value) {
          lock.unlock();
          resume();
        } else {
          slot->wake = std::move(resume);
        }
      },
      asio::use_awaitable);
}

}  // namespace

// Coroutines and handlers capture the raw Impl pointer, never a shared_ptr: Impl
// owns the io_context, so a shared_ptr inside a pending handler would be a cycle
// (and a leak) once run() has returned with work still queued.
struct HttpServer::Impl {
  // What shutdown needs of a connection, whatever its stream type.
  struct ConnBase {
    virtual ~ConnBase() = default;
    virtual asio::any_io_executor executor() = 0;
    virtual void cancel() = 0;  // on the connection's strand
    std::atomic<bool> busy{false};
    bool timed_out = false;  // set by the request deadline timer, on the connection's strand
    std::shared_ptr<http::ConnectionInfo> info;
  };

  template <typename Stream>
  struct Conn : ConnBase {
    explicit Conn(tcp::socket s)
      requires(!kIsTls<Stream>)
        : stream(std::move(s)) {}
    Conn(tcp::socket s, tls::SslContextPtr ctx)
      requires kIsTls<Stream>
        : ssl_context(std::move(ctx)), stream(std::move(s), *ssl_context) {}
    // Declared before the stream: the context outlives the SSL object made from it,
    // even when a reload has swapped in a newer one.
    tls::SslContextPtr ssl_context;
    Stream stream;
    beast::tcp_stream& transport() { return beast::get_lowest_layer(stream); }
    asio::any_io_executor executor() override { return transport().get_executor(); }
    void cancel() override { transport().cancel(); }
  };

  Impl(ServerConfig c, ServerHooks h) : cfg(std::move(c)), hooks(std::move(h)) {
    if (cfg.tls.enabled) {
      hsts_value = "max-age=" + std::to_string(cfg.tls.hsts_max_age.count()) + "; includeSubDomains";
    }
  }

  ServerConfig cfg;
  ServerHooks hooks;
  std::string hsts_value;  // empty without TLS
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  tcp::acceptor ops_acceptor{ioc};
  std::uint16_t bound_ops_port = 0;
  std::unique_ptr<tls::ReloadingTlsContext> tls_context;
  // The reload timer lives on its own strand: shutdown cancels it from another thread.
  asio::strand<asio::io_context::executor_type> reload_strand{ioc.get_executor()};
  asio::steady_timer reload_timer{reload_strand};
  asio::signal_set signals{ioc};
  asio::steady_timer drain_deadline{ioc};
  std::atomic<bool> draining{false};
  std::mutex conns_mu;
  std::unordered_set<std::shared_ptr<ConnBase>> conns;

  void tls_event(std::string_view event) {
    if (hooks.tls_event) hooks.tls_event(event);
  }

  template <typename Stream, typename... Args>
  void start_session(tcp::socket sock, bool ops_listener, Args&&... stream_args) {
    beast::error_code opt_ec;
    sock.set_option(tcp::no_delay(true), opt_ec);
    auto info = std::make_shared<http::ConnectionInfo>();
    info->tls = kIsTls<Stream>;
    info->ops_listener = ops_listener;
    auto ep = sock.remote_endpoint(opt_ec);
    if (!opt_ec) {
      info->peer_ip = ep.address().to_string();
      info->peer = info->peer_ip + ":" + std::to_string(ep.port());
    }
    auto conn = std::make_shared<Conn<Stream>>(std::move(sock), std::forward<Args>(stream_args)...);
    conn->info = std::move(info);
    {
      std::lock_guard lock(conns_mu);
      conns.insert(conn);
    }
    asio::co_spawn(conn->executor(), session<Stream>(conn), asio::detached);
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& from, bool ops_listener) {
    while (!draining) {
      auto [ec, sock] = co_await from.async_accept(asio::make_strand(ioc), kTuple);
      if (ec) {
        if (draining || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        // Out of descriptors: back off instead of spinning.
        asio::steady_timer t(ioc, std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      if (tls_context && !ops_listener) {
        // The newest context: connections accepted after a reload get the new certificate.
        start_session<TlsStream>(std::move(sock), false, tls_context->current());
      } else {
        start_session<PlainStream>(std::move(sock), ops_listener);
      }
    }
  }

  asio::awaitable<void> reload_loop() {
    while (!draining) {
      reload_timer.expires_after(cfg.tls.reload_interval);
      auto [ec] = co_await reload_timer.async_wait(kTuple);
      if (ec || draining) co_return;
      std::string error;
      switch (tls_context->reload_if_changed(error)) {
        case tls::ReloadingTlsContext::Reload::unchanged:
          break;
        case tls::ReloadingTlsContext::Reload::reloaded:
          spdlog::info("TLS certificate reloaded from {}", cfg.tls.cert_file.string());
          tls_event("reload_ok");
          break;
        case tls::ReloadingTlsContext::Reload::failed:
          spdlog::error("TLS certificate reload failed, keeping the previous one: {}", error);
          tls_event("reload_failed");
          break;
      }
    }
  }

  std::string_view hsts_for(const ConnBase& conn) const {
    return conn.info->tls ? std::string_view(hsts_value) : std::string_view();
  }

  template <typename Stream>
  asio::awaitable<void> write_problem(Conn<Stream>& conn, int status, std::string_view instance, std::string detail) {
    std::string rid = Uuid::v4().str();
    http::Response p = problem_response(instance, rid, status, std::move(detail));
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(status), 11};
    out.reason(reason_phrase(status));
    out.set(bhttp::field::server, "o2gw");
    out.set(bhttp::field::content_type, p.content_type);
    out.set("X-Request-Id", rid);
    set_security_headers(out, hsts_for(conn));
    out.keep_alive(false);
    out.body() = std::move(p.body);
    out.prepare_payload();
    conn.transport().expires_after(std::chrono::seconds(2));
    co_await bhttp::async_write(conn.stream, out, kTuple);
  }

  // The TLS handshake under its own deadline; false when the connection is unusable.
  asio::awaitable<bool> handshake(Conn<TlsStream>& conn) {
    conn.transport().expires_after(cfg.tls.handshake_timeout);
    auto [ec] = co_await conn.stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!ec) {
      tls::fill_client_identity(conn.stream.native_handle(), *conn.info);
      co_return true;
    }
    if (ec == beast::error::timeout) {
      spdlog::debug("TLS handshake from {} timed out", conn.info->peer);
      tls_event("handshake_timeout");
    } else if (ec != asio::error::eof && ec != asio::error::connection_reset &&
               ec != asio::error::operation_aborted) {
      // A client that closes before saying anything is not a failed negotiation.
      spdlog::debug("TLS handshake from {} failed: {}", conn.info->peer, ec.message());
      tls_event("handshake_failed");
    }
    co_return false;
  }

  template <typename Stream>
  asio::awaitable<void> session(std::shared_ptr<Conn<Stream>> conn) {
    auto& stream = conn->stream;
    auto& lowest = conn->transport();
    bool usable = true;
    if constexpr (kIsTls<Stream>) usable = co_await handshake(*conn);
    if (usable) co_await serve_requests(conn);
    if constexpr (kIsTls<Stream>) {
      if (usable) {
        // Sends close_notify without waiting for the peer's (RFC 8446 6.1 allows
        // it): an idle client must not hold up the close or a drain.
        SSL* ssl = stream.native_handle();
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        lowest.expires_after(std::chrono::seconds(1));
        co_await stream.async_shutdown(kTuple);
      }
    }
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest.close();
    bool last = false;
    {
      std::lock_guard lock(conns_mu);
      conns.erase(conn);
      last = conns.empty();
    }
    if (last && draining) ioc.stop();
  }

  template <typename Stream>
  asio::awaitable<void> serve_requests(std::shared_ptr<Conn<Stream>> conn) {
    auto& stream = conn->stream;
    auto& lowest = conn->transport();
    const std::shared_ptr<const http::ConnectionInfo> info = conn->info;
    const std::string_view peer = info->peer;
    const std::string_view hsts = hsts_for(*conn);
    beast::flat_buffer buf;
    // Header and body deadlines use a timer that cancels the read but leaves the
    // socket open (tcp_stream's own expiry closes it), so the client can get a 408.
    asio::steady_timer request_deadline(lowest.get_executor());
    auto arm = [&](std::chrono::milliseconds d) {
      lowest.expires_never();
      conn->timed_out = false;
      request_deadline.expires_after(d);
      request_deadline.async_wait([conn](beast::error_code e) {
        if (e) return;
        conn->timed_out = true;
        beast::error_code ignored;
        conn->transport().socket().cancel(ignored);
      });
    };
    for (;;) {
      if (draining) break;
      if (buf.size() == 0) {
        // Between requests only the idle timeout applies; header timing starts at the first byte.
        lowest.expires_after(cfg.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), kTuple);
        if (ec) break;
        buf.commit(n);
      }
      conn->busy = true;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
      parser.body_limit(cfg.body_limit);
      // The deadline covers the whole header: a client trickling bytes (slowloris) is cut off.
      arm(cfg.header_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buf, parser, kTuple);
      beast::error_code ec = hec;
      if (!ec && !parser.is_done()) {
        arm(cfg.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
        ec = bec;
      }
      request_deadline.cancel();
      if (ec == asio::error::operation_aborted && conn->timed_out) ec = beast::error::timeout;
      if (ec) {
        ReadFailure f = classify(ec, cfg);
        if (!f.reason.empty() && hooks.rejected) hooks.rejected(f.status, f.reason, peer);
        if (f.status != 0) {
          // Beast consumes the request line before the fields, so the target is
          // usually known even when the fields were too large; else look at the bytes.
          std::string instance(parser.get().target());
          if (instance.empty()) instance = peek_target(buf);
          co_await write_problem(*conn, f.status, instance.substr(0, instance.find('?')), std::move(f.detail));
        }
        break;
      }
      auto start = Clock::now();
      auto& msg = parser.get();
      http::Request req;
      req.conn = info;
      req.method_text = std::string(msg.method_string());
      req.method = http::parse_method(req.method_text);
      req.target = std::string(msg.target());
      std::string_view target = req.target;
      // absolute-form (RFC 9112 3.2.2): "http://host/path?q" is served as "/path?q".
      if (target.starts_with("http://") || target.starts_with("https://")) {
        auto authority = target.find("//") + 2;
        auto slash = target.find('/', authority);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      }
      auto qpos = target.find('?');
      std::string_view raw_path = target.substr(0, qpos);
      if (qpos != std::string_view::npos) req.query = std::string(target.substr(qpos + 1));
      for (const auto& f : msg) {
        req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
      }
      std::string_view given_id = req.header("X-Request-Id");
      req.request_id = valid_request_id(given_id) ? std::string(given_id) : Uuid::v4().str();
      req.body = std::move(msg.body());

      http::Response res;
      if (raw_path.empty() || raw_path.front() != '/' || !http::percent_decode(raw_path, req.path) ||
          req.path.find('\0') != std::string::npos) {
        req.path = std::string(raw_path);
        res = problem_response(req, 400, "the request target must be an absolute path with valid percent-encoding");
      } else if (!http::percent_encoding_valid(req.query)) {
        // Otherwise a parameter with a broken escape would read as absent and be ignored.
        res = problem_response(req, 400, "the query string has invalid percent-encoding");
      } else if (raw_path.find("%2F") != std::string_view::npos || raw_path.find("%2f") != std::string_view::npos) {
        // Decoded before routing, an encoded slash would silently become a separator.
        req.path = std::string(raw_path);
        res = problem_response(req, 400, "an encoded slash (%2F) is not allowed in the request path");
      } else {
        if (hooks.in_flight) hooks.in_flight(1);
        auto slot = std::make_shared<ResponseSlot>();
        try {
          auto responder = std::make_shared<Responder>(slot, &req);
          hooks.handle(req, [responder](http::Response r) { responder->slot->fulfil(std::move(r)); });
        } catch (const std::exception& e) {
          // A stray exception is a counted 500, never a crash; the detail stays in the log.
          spdlog::error("request {} {} failed: {}", req.method_text, req.path, e.what());
          slot->fulfil(problem_response(req, 500, "internal error; see the server log for request " + req.request_id));
        }
        if (!slot->ready()) co_await wait_for(slot.get());
        res = std::move(*slot->value);
        if (hooks.in_flight) hooks.in_flight(-1);
      }

      bool keep_alive = msg.keep_alive() && !draining;
      bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), msg.version()};
      out.reason(reason_phrase(res.status));
      out.set(bhttp::field::server, "o2gw");
      if (!res.body.empty() || res.status != 204) out.set(bhttp::field::content_type, res.content_type);
      out.set("X-Request-Id", req.request_id);
      set_security_headers(out, hsts);
      for (auto& h : res.headers) out.set(h.name, h.value);
      out.keep_alive(keep_alive);
      if (req.method == http::Method::head) {
        out.content_length(res.body.size());  // what GET would send, without the bytes
      } else {
        out.body() = std::move(res.body);
        out.prepare_payload();
      }
      lowest.expires_after(cfg.write_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, out, kTuple);
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      // Hand the bytes back so the access log and metrics see what was sent.
      if (req.method == http::Method::head) {
        res.body.clear();
      } else {
        res.body = std::move(out.body());
      }
      if (hooks.completed) hooks.completed(req, res, seconds, peer);
      conn->busy = false;
      if (wec || !keep_alive) break;
    }
  }

  void begin_shutdown() {
    if (draining.exchange(true)) return;
    spdlog::info("shutdown: no longer accepting; draining connections for up to {} ms", cfg.shutdown_grace.count());
    if (hooks.shutdown_started) hooks.shutdown_started();
    beast::error_code ec;
    acceptor.close(ec);
    ops_acceptor.close(ec);
    asio::post(reload_strand, [this] { reload_timer.cancel(); });
    std::vector<std::shared_ptr<ConnBase>> snapshot;
    {
      std::lock_guard lock(conns_mu);
      snapshot.assign(conns.begin(), conns.end());
    }
    if (snapshot.empty()) {
      ioc.stop();
      return;
    }
    for (auto& c : snapshot) {
      // Idle keep-alive connections are closed now; busy ones finish their response first.
      // Checked on the connection's strand, so a request that just arrived is not cut short.
      asio::post(c->executor(), [c] {
        if (!c->busy) c->cancel();
      });
    }
    drain_deadline.expires_after(cfg.shutdown_grace);
    drain_deadline.async_wait([this](beast::error_code wait_ec) {
      if (wait_ec) return;
      std::size_t left = 0;
      {
        std::lock_guard lock(conns_mu);
        left = conns.size();
      }
      spdlog::warn("shutdown: grace period over, cancelling {} connection(s)", left);
      ioc.stop();
    });
  }
};

HttpServer::HttpServer(ServerConfig cfg, ServerHooks hooks)
    : impl_(std::make_shared<Impl>(std::move(cfg), std::move(hooks))) {}

HttpServer::~HttpServer() = default;

namespace {

void bind_and_listen(tcp::acceptor& a, const std::string& address, std::uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(address), port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
}

}  // namespace

std::uint16_t HttpServer::listen() {
  auto& impl = *impl_;
  if (impl.cfg.tls.enabled) {
    // Before binding: a gateway that cannot serve TLS must not take the port.
    auto ctx = std::make_unique<tls::ReloadingTlsContext>(impl.cfg.tls);
    std::string error;
    if (!ctx->load(error)) throw std::runtime_error("TLS: " + error);
    impl.tls_context = std::move(ctx);
  }
  bind_and_listen(impl.acceptor, impl.cfg.listen_address, impl.cfg.port);
  if (impl.cfg.ops_enabled) {
    bind_and_listen(impl.ops_acceptor, impl.cfg.ops_listen_address, impl.cfg.ops_port);
    impl.bound_ops_port = impl.ops_acceptor.local_endpoint().port();
  }
  return impl.acceptor.local_endpoint().port();
}

std::uint16_t HttpServer::ops_port() const { return impl_->bound_ops_port; }

void HttpServer::run() {
  Impl* impl = impl_.get();
  impl->signals.add(SIGINT);
  impl->signals.add(SIGTERM);
  impl->signals.async_wait([impl](beast::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("received signal {}", sig);
    impl->begin_shutdown();
    // A second signal ends the process without waiting for the grace period.
    impl->signals.async_wait([impl](beast::error_code ec2, int) {
      if (!ec2) impl->ioc.stop();
    });
  });
  asio::co_spawn(impl->ioc, impl->accept_loop(impl->acceptor, false), asio::detached);
  if (impl->ops_acceptor.is_open()) {
    asio::co_spawn(impl->ioc, impl->accept_loop(impl->ops_acceptor, true), asio::detached);
  }
  if (impl->tls_context) asio::co_spawn(impl->reload_strand, impl->reload_loop(), asio::detached);
  unsigned n = impl->cfg.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : impl->cfg.threads;
  std::vector<std::jthread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([impl] { impl->ioc.run(); });
  impl->ioc.run();
  for (auto& t : threads) t.join();
}

void HttpServer::shutdown() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_shutdown(); });
}

}  // namespace o2gw
