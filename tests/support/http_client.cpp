#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace o2gw::test {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

bool method_has_body(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool HttpResponse::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

nlohmann::json HttpResponse::json() const {
  return nlohmann::json::parse(body);
}

bool HttpResponse::connection_close() const {
  std::string c = header("Connection");
  std::transform(c.begin(), c.end(), c.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return c.find("close") != std::string::npos;
}

std::string build_request(std::string_view method, std::string_view target, const HeaderList& headers,
                          std::string_view body) {
  std::string out;
  out.reserve(128 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    has_host = has_host || iequals(k, "Host");
    has_length = has_length || iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding");
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_host) out.append("Host: 127.0.0.1\r\n");
  if (!has_length && (!body.empty() || method_has_body(method))) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout) : timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw HttpClientError(HttpClientError::Kind::io, errno_text("socket"));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd_, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    int err = 0;
    socklen_t len = sizeof err;
    if (n <= 0) {
      err = ETIMEDOUT;
    } else {
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    rc = err == 0 ? 0 : -1;
    errno = err;
  }
  if (rc != 0) {
    std::string what = "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw HttpClientError(HttpClientError::Kind::connect_failed, what);
  }
}

std::optional<HttpConnection> HttpConnection::try_connect(std::uint16_t port, std::chrono::milliseconds timeout) {
  try {
    return HttpConnection(port, timeout);
  } catch (const HttpClientError& e) {
    if (e.kind() == HttpClientError::Kind::connect_failed) return std::nullopt;
    throw;
  }
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), timeout_(other.timeout_), buffer_(std::move(other.buffer_)) {}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    timeout_ = other.timeout_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

bool HttpConnection::try_send_raw(std::string_view bytes) noexcept {
  auto deadline = Clock::now() + timeout_;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

void HttpConnection::send_raw(std::string_view bytes) {
  if (!try_send_raw(bytes)) throw HttpClientError(HttpClientError::Kind::io, errno_text("send"));
}

std::size_t HttpConnection::fill(Clock::time_point deadline) {
  if (fd_ < 0) return 0;  // parsing bytes received earlier: nothing more will come
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return static_cast<std::size_t>(n);
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) {
        throw HttpClientError(HttpClientError::Kind::timeout,
                              "no complete response within " + std::to_string(timeout_.count()) +
                                  " ms (received so far: " + std::to_string(buffer_.size()) + " bytes)");
      }
      if (rc < 0 && errno != EINTR) throw HttpClientError(HttpClientError::Kind::io, errno_text("poll"));
      continue;
    }
    if (errno == ECONNRESET || errno == EPIPE) return 0;
    throw HttpClientError(HttpClientError::Kind::io, errno_text("recv"));
  }
}

std::string HttpConnection::take_line(Clock::time_point deadline) {
  for (;;) {
    auto eol = buffer_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 2);
      return line;
    }
    if (buffer_.size() > 1 << 20) throw HttpClientError(HttpClientError::Kind::malformed, "header line too long");
    if (fill(deadline) == 0) {
      throw HttpClientError(
          HttpClientError::Kind::closed,
          "connection closed by the server" + (buffer_.empty() ? std::string() : " after a partial line: " + buffer_));
    }
  }
}

void HttpConnection::need(std::size_t n, Clock::time_point deadline) {
  while (buffer_.size() < n) {
    if (fill(deadline) == 0) {
      throw HttpClientError(HttpClientError::Kind::closed, "connection closed by the server in the middle of a body");
    }
  }
}

HttpResponse HttpConnection::parse(std::string raw, bool head) {
  HttpConnection c;
  c.buffer_ = std::move(raw);
  return c.read_response(head);
}

HttpResponse HttpConnection::read_response(bool head) {
  if (fd_ < 0 && buffer_.empty()) throw HttpClientError(HttpClientError::Kind::io, "not connected");
  auto deadline = Clock::now() + timeout_;
  HttpResponse res;
  for (;;) {
    std::string status_line = take_line(deadline);
    // "HTTP/1.1 200 OK"
    auto sp1 = status_line.find(' ');
    if (sp1 == std::string::npos || status_line.compare(0, 5, "HTTP/") != 0) {
      throw HttpClientError(HttpClientError::Kind::malformed, "bad status line: " + status_line);
    }
    res.version = status_line.substr(0, sp1);
    auto sp2 = status_line.find(' ', sp1 + 1);
    std::string code = status_line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
    if (code.size() != 3 || !std::all_of(code.begin(), code.end(), ::isdigit)) {
      throw HttpClientError(HttpClientError::Kind::malformed, "bad status code: " + status_line);
    }
    res.status = std::stoi(code);
    res.reason = sp2 == std::string::npos ? "" : status_line.substr(sp2 + 1);
    res.headers.clear();
    for (;;) {
      std::string line = take_line(deadline);
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string::npos) throw HttpClientError(HttpClientError::Kind::malformed, "bad header: " + line);
      res.headers.emplace_back(trim(std::string_view(line).substr(0, colon)),
                               trim(std::string_view(line).substr(colon + 1)));
    }
    if (res.status >= 100 && res.status < 200) continue;  // interim response: the real one follows
    break;
  }
  if (head || res.status == 204 || res.status == 304) return res;

  std::string te = res.header("Transfer-Encoding");
  std::transform(te.begin(), te.end(), te.begin(), [](unsigned char c) { return std::tolower(c); });
  if (te.find("chunked") != std::string::npos) {
    for (;;) {
      std::string size_line = take_line(deadline);
      std::size_t size = 0;
      try {
        size = std::stoul(size_line.substr(0, size_line.find(';')), nullptr, 16);
      } catch (...) {
        throw HttpClientError(HttpClientError::Kind::malformed, "bad chunk size: " + size_line);
      }
      if (size == 0) {
        while (!take_line(deadline).empty()) {
        }  // trailers
        break;
      }
      need(size + 2, deadline);
      res.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
    }
    return res;
  }
  if (res.has_header("Content-Length")) {
    std::size_t len = 0;
    try {
      len = std::stoul(res.header("Content-Length"));
    } catch (...) {
      throw HttpClientError(HttpClientError::Kind::malformed, "bad Content-Length: " + res.header("Content-Length"));
    }
    need(len, deadline);
    res.body = buffer_.substr(0, len);
    buffer_.erase(0, len);
    return res;
  }
  // No length: the body runs to the end of the connection.
  while (fill(deadline) != 0) {
  }
  res.body = std::move(buffer_);
  buffer_.clear();
  return res;
}

HttpResponse HttpConnection::request(std::string_view method, std::string_view target, const HeaderList& headers,
                                     std::string_view body) {
  send_raw(build_request(method, target, headers, body));
  return read_response(method == "HEAD");
}

bool HttpConnection::wait_closed(std::chrono::milliseconds timeout, std::string* received) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    std::size_t n = 0;
    try {
      n = fill(deadline);
    } catch (const HttpClientError& e) {
      if (e.kind() == HttpClientError::Kind::timeout) return false;
      throw;
    }
    if (n == 0) {
      if (received != nullptr) received->append(buffer_);
      buffer_.clear();
      return true;
    }
  }
}

void HttpConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const HeaderList& headers, std::string_view body) {
  HttpConnection conn(port);
  HeaderList h = headers;
  bool has_connection = std::any_of(h.begin(), h.end(), [](const auto& kv) { return iequals(kv.first, "Connection"); });
  if (!has_connection) h.emplace_back("Connection", "close");
  return conn.request(method, target, h, body);
}

HttpResponse http_get(std::uint16_t port, std::string_view target, const HeaderList& headers) {
  return http_request(port, "GET", target, headers);
}

std::vector<HttpResponse> http_pipeline(std::uint16_t port, const std::vector<PipelinedRequest>& requests) {
  HttpConnection conn(port);
  std::string bytes;
  for (const auto& r : requests) bytes += build_request(r.method, r.target, r.headers);
  conn.send_raw(bytes);
  std::vector<HttpResponse> out;
  out.reserve(requests.size());
  for (const auto& r : requests) out.push_back(conn.read_response(r.method == "HEAD"));
  return out;
}

}  // namespace o2gw::test

namespace o2gw::test {

bool is_lower_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

::testing::AssertionResult IsProblem(const HttpResponse& res, int status, std::optional<std::string> instance) {
  auto fail = [&res]() {
    return ::testing::AssertionFailure() << "response " << res.status << " " << res.reason << " ["
                                         << res.header("Content-Type") << "] body: " << res.body << "\n  ";
  };
  if (res.status != status) return fail() << "expected status " << status;
  if (res.header("Content-Type").rfind("application/problem+json", 0) != 0) {
    return fail() << "expected Content-Type application/problem+json";
  }
  nlohmann::json body;
  try {
    body = res.json();
  } catch (const std::exception& e) {
    return fail() << "body is not JSON: " << e.what();
  }
  if (!body.is_object()) return fail() << "body is not a JSON object";
  if (!body.contains("status") || !body["status"].is_number_integer() || body["status"].get<int>() != status) {
    return fail() << "body.status must be the integer " << status;
  }
  for (const char* key : {"title", "detail"}) {
    if (!body.contains(key) || !body[key].is_string() || body[key].get<std::string>().empty()) {
      return fail() << "body." << key << " must be a non-empty string";
    }
  }
  if (!body.contains("instance") || !body["instance"].is_string()) return fail() << "body.instance must be a string";
  if (instance && body["instance"].get<std::string>() != *instance) {
    return fail() << "body.instance must be '" << *instance << "'";
  }
  const auto& attrs = body.value("additionalAttributes", nlohmann::json());
  if (!attrs.is_object() || !attrs.contains("requestId") || !attrs["requestId"].is_string()) {
    return fail() << "body.additionalAttributes.requestId must be a string";
  }
  std::string rid = attrs["requestId"].get<std::string>();
  if (rid.empty() || rid != res.header("X-Request-Id")) {
    return fail() << "body.additionalAttributes.requestId '" << rid << "' must equal the X-Request-Id header '"
                  << res.header("X-Request-Id") << "'";
  }
  return ::testing::AssertionSuccess();
}

std::vector<MetricSample> parse_prometheus_text(std::string_view text) {
  std::vector<MetricSample> out;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#') continue;
    MetricSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return out;
        std::string key(line.substr(i, eq - i));
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        s.labels.emplace(std::move(key), std::move(value));
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    while (i < line.size() && line[i] == ' ') ++i;
    auto end = line.find(' ', i);
    std::string number(line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    try {
      s.value = std::stod(number);
    } catch (...) {
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

double metric_sum(const std::vector<MetricSample>& samples, std::string_view name,
                  const std::map<std::string, std::string>& match) {
  double sum = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = std::all_of(match.begin(), match.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (ok) sum += s.value;
  }
  return sum;
}

std::size_t metric_count(const std::vector<MetricSample>& samples, std::string_view name) {
  return static_cast<std::size_t>(
      std::count_if(samples.begin(), samples.end(), [&](const auto& s) { return s.name == name; }));
}

std::vector<MetricSample> scrape_metrics(std::uint16_t port) {
  HttpResponse res = http_get(port, "/metrics");
  if (res.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(res.status));
  return parse_prometheus_text(res.body);
}

}  // namespace o2gw::test
