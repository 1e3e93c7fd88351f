// Transport-neutral HTTP request/response types. Handlers see only these; the
// session (src/server) translates to and from Beast, so most translation units
// never include Beast or Asio.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace o2gw {
struct Principal;  // o2gw/auth.hpp
}

namespace o2gw::http {

// What the session knows about the connection a request came on. Shared by
// every request of the connection (one allocation per connection, not per request).
struct ConnectionInfo {
  bool tls = false;
  bool ops_listener = false;  // the plain health/metrics listener (server.ops_listen)
  std::string peer_ip;        // remote address without the port
  std::string peer;           // "ip:port", for logs
  // The client certificate, only when one was presented and verified against
  // server.tls.client_ca_file (mTLS). Empty otherwise.
  std::string client_subject;             // RFC 2253, e.g. "CN=smo,O=Operator"
  std::vector<std::string> client_sans;   // "DNS:x", "URI:x", "IP:x", "email:x"
};

enum class Method { get, head, post, put, patch, del, options, other };

std::string_view method_name(Method m);
Method parse_method(std::string_view s);

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  Method method = Method::get;
  std::string method_text;  // as received, for logs and 405 details
  std::string target;       // raw request-target
  std::string path;         // target without the query, percent-decoded once
  std::string query;        // raw query string (no '?')
  std::vector<Header> headers;
  std::string body;
  std::string request_id;
  // Set by the session; never null for requests that came through HttpServer.
  std::shared_ptr<const ConnectionInfo> conn;
  // Set by the security gate once the caller is authenticated; null when
  // authentication is disabled or the route is anonymous and no credentials came.
  std::shared_ptr<const Principal> principal;

  // Case-insensitive header lookup; empty view when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
  // Value of a query parameter, percent-decoded; nullopt-like: returns false when absent.
  [[nodiscard]] bool query_param(std::string_view name, std::string& out) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;
  // Filled by the router for metrics and logs: the matched path template.
  std::string_view route = "unmatched";

  void set_header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
  }
};

// Percent-decode once. Returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space = false);
// Percent-encodes everything but RFC 3986 unreserved characters (a path segment,
// a query or form value).
std::string percent_encode(std::string_view in);
// True when every '%' starts a two-hex-digit escape (the check percent_decode makes, without the copy).
bool percent_encoding_valid(std::string_view in);

}  // namespace o2gw::http
