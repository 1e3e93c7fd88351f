// The HTTP/1.1 server: a listener and one coroutine session per connection.
// The session knows sockets; handlers know O2. Beast/Asio stay in server.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "o2gw/config.hpp"
#include "o2gw/http.hpp"

namespace o2gw {

struct ServerHooks {
  // Produces the response for a parsed request (runs on an I/O thread: must not block).
  // `respond` must be called exactly once, from any thread: before `handle` returns
  // (the common, synchronous case) or later (the session waits without blocking).
  // The request is the session's own: a handler may annotate it (the security
  // gate sets `principal`); it stays alive until `respond` has been called.
  std::function<void(http::Request&, std::function<void(http::Response)> respond)> handle;
  // After each response is written (or failed): access log and metrics.
  std::function<void(const http::Request&, const http::Response&, double seconds, std::string_view peer)>
      completed;
  // A request rejected before it could be routed: 400, 408, 413, 431.
  std::function<void(int status, std::string_view reason, std::string_view peer)> rejected;
  std::function<void(int delta)> in_flight;
  // Called once when shutdown starts (readiness goes false here).
  std::function<void()> shutdown_started;
  // TLS events for metrics: "reload_ok", "reload_failed", "handshake_failed", "handshake_timeout".
  std::function<void(std::string_view event)> tls_event;
};

class HttpServer {
 public:
  HttpServer(ServerConfig cfg, ServerHooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (the API listener and, when cfg.ops_enabled, the ops
  // listener); loads the TLS certificate when cfg.tls.enabled. Returns the API
  // port (useful with port 0). Throws on failure (a bad certificate included).
  std::uint16_t listen();
  // The ops listener's bound port; 0 when it is disabled. Valid after listen().
  [[nodiscard]] std::uint16_t ops_port() const;
  // Runs the I/O threads until shutdown completes. Installs SIGINT/SIGTERM handlers.
  void run();
  // Thread-safe: starts the staged shutdown (stop accepting, drain, cancel at deadline).
  void shutdown();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace o2gw
