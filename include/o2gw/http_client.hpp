// The outbound side: one event loop (an io_context with its own threads) and a
// pooled async HTTP/1.1 client over it (Beast + OpenSSL). Webhook delivery uses
// it today; the Kubernetes and cloud adapters will use it later. Beast and Asio
// stay in src/net/: callers see only these types.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "o2gw/http.hpp"

namespace o2gw::net {

// An io_context run by `threads` threads until the loop is destroyed.
// post() and post_after() are thread-safe; callbacks run on the loop's threads.
class EventLoop {
 public:
  explicit EventLoop(unsigned threads = 1, std::string name = "net");
  ~EventLoop();  // stops the loop and joins its threads; pending callbacks are dropped
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void post(std::function<void()> fn);
  // Runs fn after `delay` unless the returned timer is cancelled (or destroyed) first.
  class Timer {
   public:
    Timer() = default;
    void cancel();
    [[nodiscard]] bool active() const;

   private:
    friend class EventLoop;
    std::shared_ptr<struct TimerState> state_;
  };
  Timer post_after(std::chrono::milliseconds delay, std::function<void()> fn);

  // The io_context, type-erased so this header stays free of Asio
  // (src/net code casts it back to boost::asio::io_context*).
  [[nodiscard]] void* native() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How to reach one kind of server over TLS. Verification is always on: there is
// deliberately no switch to turn it off here (adapters that need one for a
// kubeconfig's insecure-skip-tls-verify set `verify = false` explicitly).
// Credentials may come from files (re-read when they change) or from PEM held in
// memory (a kubeconfig's *-data fields); the in-memory strings are never logged.
struct TlsOptions {
  std::filesystem::path ca_file;           // empty (and no ca_pem): the system's default trust store
  std::filesystem::path client_cert_file;  // PEM certificate chain for mTLS (with key)
  std::filesystem::path client_key_file;   // PEM private key for mTLS
  std::string ca_pem;                      // PEM CA certificates, trusted in addition to ca_file's
  std::string client_cert_pem;             // instead of client_cert_file (setting both is an error)
  std::string client_key_pem;              // instead of client_key_file (setting both is an error)
  bool verify = true;
  // Key for connection pooling: requests with equal options may share connections.
  // The in-memory PEM enters it as a SHA-256 digest, never as text.
  [[nodiscard]] std::string profile_key() const;
};

struct ClientRequest {
  http::Method method = http::Method::get;
  std::string url;  // absolute http:// or https:// URL
  std::vector<http::Header> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // whole exchange: resolve, connect, TLS, write, read
  std::size_t max_response_bytes = 8 * 1024 * 1024;
  // stream() only: `timeout` covers the exchange up to the response head; then
  // the body may flow for ever, but a silence longer than this ends the stream
  // with a timeout error (0: no limit). max_response_bytes does not apply.
  std::chrono::milliseconds stream_idle_timeout{0};
};

struct ClientResponse {
  int status = 0;
  std::vector<http::Header> headers;
  std::string body;
  // Case-insensitive; empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

struct ClientError {
  enum class Kind {
    bad_url,           // not an absolute http(s) URL
    refused_address,   // every resolved address was refused by the address check
    resolve,           // name resolution failed
    connect,           // TCP connect failed (refused, unreachable)
    tls,               // handshake or certificate verification failed
    timeout,           // the request deadline passed
    protocol,          // malformed response, too large, connection closed early
  };
  Kind kind = Kind::protocol;
  std::string message;  // human readable, safe to log (no headers or bodies)
};

std::string_view client_error_kind_name(ClientError::Kind k);  // "timeout", ...

// Exactly one of response / error is set.
struct ClientResult {
  std::optional<ClientResponse> response;
  std::optional<ClientError> error;
  [[nodiscard]] bool ok() const { return response.has_value(); }
};

// Decides whether an address a host name resolved to may be connected to: empty
// to allow, else the reason it is refused. Checked after every resolution,
// immediately before connecting, so DNS rebinding cannot bypass it.
using AddressCheck =
    std::function<std::optional<std::string>(const std::string& host, const std::string& ip_literal)>;

struct ClientOptions {
  std::size_t max_idle_per_endpoint = 8;  // idle keep-alive connections kept per (scheme, host, port, tls)
  std::chrono::milliseconds idle_timeout{30000};
  std::string user_agent = "o2gw";
  AddressCheck address_check;  // none: every address allowed
};

// A streaming response in progress (HttpClient::stream). Destroying the handle
// cancels the stream.
class StreamHandle {
 public:
  StreamHandle() = default;
  ~StreamHandle();
  StreamHandle(StreamHandle&&) noexcept;
  StreamHandle& operator=(StreamHandle&&) noexcept;
  // Closes the connection. No callback starts after cancel() returns, and one
  // running on another thread has finished by then (so do not call cancel() while
  // holding a lock that a callback takes). Callable from inside a callback.
  void cancel();
  // Neither finished nor cancelled.
  [[nodiscard]] bool active() const;

 private:
  friend class HttpClient;
  std::shared_ptr<struct StreamState> state_;
};

// Pooled HTTP/1.1 client. Redirects are never followed (a 3xx is returned as is).
// Requests to the same endpoint reuse idle keep-alive connections; a request that
// fails on a reused connection before any response byte arrived is retried once on
// a fresh connection. `done` runs on one of the loop's threads, exactly once.
class HttpClient {
 public:
  HttpClient(EventLoop& loop, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void request(ClientRequest req, const TlsOptions& tls, std::function<void(ClientResult)> done);
  void request(ClientRequest req, std::function<void(ClientResult)> done) {
    request(std::move(req), TlsOptions{}, std::move(done));
  }

  // A request whose response body is delivered as it arrives (a Kubernetes
  // watch, a log follow). on_head runs once with the final status and headers
  // (1xx skipped); on_data runs for each piece of the body, whatever the status;
  // returning false stops the stream (the connection is closed). on_done runs
  // once at the end: no error when the body was complete or on_data stopped it,
  // else the error (`timeout` before the head: req.timeout; after it:
  // req.stream_idle_timeout). Callbacks of one stream never run concurrently and
  // none runs after cancel(). A stream may start on a pooled connection; its
  // connection goes back to the pool only when the body ended cleanly.
  StreamHandle stream(ClientRequest req, const TlsOptions& tls,
                      std::function<void(int status, const std::vector<http::Header>& headers)> on_head,
                      std::function<bool(std::string_view chunk)> on_data,
                      std::function<void(std::optional<ClientError>)> on_done);

  // Connections currently idle in the pool (for tests and metrics).
  [[nodiscard]] std::size_t idle_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Parts of an absolute http(s) URL. parse_url returns nullopt when the URL is not
// absolute http(s), has userinfo, or has an invalid port.
struct UrlParts {
  std::string scheme;  // "http" or "https" (lower-case)
  std::string host;    // without brackets for IPv6 literals; lower-case
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string target;  // path + query, "/" when empty
};
std::optional<UrlParts> parse_url(std::string_view url);

// OAuth2 client-credentials grant (RFC 6749 §4.4): fetches a bearer token from a
// token endpoint (client authenticated with HTTP Basic), caches it until 30 s
// before it expires, and coalesces concurrent callers onto one fetch.
struct OAuth2ClientCredentials {
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scope;          // optional
  TlsOptions tls;             // for the token endpoint
};
class OAuth2TokenSource {
 public:
  OAuth2TokenSource(HttpClient& client, OAuth2ClientCredentials creds);
  ~OAuth2TokenSource();
  // done(token, error): token empty and error set on failure.
  void get(std::function<void(std::string token, std::string error)> done);
  // Drops the cached token (after a 401 from a receiver).
  void invalidate();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace o2gw::net
