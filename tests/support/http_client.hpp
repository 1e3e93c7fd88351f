// A minimal blocking HTTP/1.1 client for the integration tests: plain POSIX
// sockets on 127.0.0.1 (no Beast or Asio, to keep the tests cheap to compile).
// Every read has a deadline, so a misbehaving server fails a test instead of
// hanging it. It speaks just enough HTTP to check a server: raw writes,
// pipelining, Content-Length and chunked bodies, HEAD, and noticing a close.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace o2gw::test {

using namespace std::chrono_literals;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Why a client operation failed. Tests match on the kind (e.g. "the server closed").
class HttpClientError : public std::runtime_error {
 public:
  enum class Kind { connect_failed, timeout, closed, io, malformed };
  HttpClientError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  HeaderList headers;  // in the order received
  std::string body;

  // Case-insensitive lookup; the first value, or "" when absent.
  [[nodiscard]] std::string header(std::string_view name) const;
  [[nodiscard]] bool has_header(std::string_view name) const;
  // The body as JSON; throws nlohmann::json::parse_error when it is not JSON.
  [[nodiscard]] nlohmann::json json() const;
  // True when the server announced it will close the connection.
  [[nodiscard]] bool connection_close() const;
};

// Serialises a request. Adds Host, and Content-Length when a body is given (or
// for methods that usually carry one), unless the caller set them.
std::string build_request(std::string_view method, std::string_view target, const HeaderList& headers = {},
                          std::string_view body = {});

// One client connection to 127.0.0.1:port.
class HttpConnection {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout = 5000ms;

  // Connects; throws HttpClientError(connect_failed) when refused.
  explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Connects, or returns nothing when the connection is refused (e.g. after shutdown).
  static std::optional<HttpConnection> try_connect(std::uint16_t port,
                                                   std::chrono::milliseconds timeout = kDefaultTimeout);
  ~HttpConnection();
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Deadline applied to each read_response / wait_closed call.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  // Writes all the bytes in one go (one send loop). Throws HttpClientError(io)
  // when the peer has gone away.
  void send_raw(std::string_view bytes);
  // Like send_raw but reports failure instead of throwing (for tests where the
  // server may legitimately close first).
  bool try_send_raw(std::string_view bytes) noexcept;

  // Reads exactly one response. `head` = the request was HEAD (no body follows
  // whatever Content-Length says). Throws HttpClientError: timeout, closed
  // (EOF/reset before a full response), malformed.
  HttpResponse read_response(bool head = false);

  // Sends one request and reads its response.
  HttpResponse request(std::string_view method, std::string_view target, const HeaderList& headers = {},
                       std::string_view body = {});
  HttpResponse get(std::string_view target, const HeaderList& headers = {}) { return request("GET", target, headers); }

  // Waits for the peer to close (EOF or reset). Bytes received meanwhile are
  // appended to `received` when given. False when still open after `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout, std::string* received = nullptr);

  // Parses one complete response from bytes already received (e.g. what
  // wait_closed collected). Throws HttpClientError like read_response.
  static HttpResponse parse(std::string raw, bool head = false);

  // Half-closes the sending side (the server sees EOF).
  void shutdown_write();

  // Bytes received but not yet consumed by read_response (pipelining leftovers).
  [[nodiscard]] const std::string& pending() const { return buffer_; }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  HttpConnection() = default;
  // Reads more bytes into buffer_ before the deadline; returns 0 on EOF.
  std::size_t fill(std::chrono::steady_clock::time_point deadline);
  std::string take_line(std::chrono::steady_clock::time_point deadline);
  void need(std::size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::chrono::milliseconds timeout_ = kDefaultTimeout;
  std::string buffer_;
};

// One request on a fresh connection (Connection: close).
HttpResponse http_get(std::uint16_t port, std::string_view target, const HeaderList& headers = {});
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const HeaderList& headers = {}, std::string_view body = {});

// Writes all the requests in a single send, then reads one response per request.
struct PipelinedRequest {
  std::string method = "GET";
  std::string target;
  HeaderList headers;
};
std::vector<HttpResponse> http_pipeline(std::uint16_t port, const std::vector<PipelinedRequest>& requests);

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

// 8-4-4-4-12 hex digits, lower case (the form o2gw serves ids in).
bool is_lower_uuid(std::string_view s);

// Checks an RFC 9457 / O-RAN ProblemDetails response: the status line, the
// application/problem+json type, status/title/detail/instance in the body, and
// additionalAttributes.requestId equal to the X-Request-Id response header.
// `instance`, when given, must equal the body's instance.
::testing::AssertionResult IsProblem(const HttpResponse& res, int status,
                                     std::optional<std::string> instance = std::nullopt);

// The Prometheus text exposition format, just enough to read o2gw's /metrics.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
std::vector<MetricSample> parse_prometheus_text(std::string_view text);
// Sum of the samples named `name` whose labels include every pair of `match`.
double metric_sum(const std::vector<MetricSample>& samples, std::string_view name,
                  const std::map<std::string, std::string>& match = {});
// Number of samples named `name` (whatever their labels).
std::size_t metric_count(const std::vector<MetricSample>& samples, std::string_view name);
// GET /metrics on a fresh connection, parsed.
std::vector<MetricSample> scrape_metrics(std::uint16_t port);

}  // namespace o2gw::test
