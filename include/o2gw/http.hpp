// Transport-neutral HTTP request/response types. Handlers see only these; the
// session (src/server) translates to and from Beast, so most translation units
// never include Beast or Asio.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace o2gw::http {

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
