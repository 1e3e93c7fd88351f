#include "support/tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace o2gw::test {

namespace {

using Clock = std::chrono::steady_clock;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "";
}

// True when the last OpenSSL error is an alert the server sent us.
bool received_alert() {
  unsigned long code = ERR_peek_last_error();
  return code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string TlsHttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequal(k, name)) return v;
  }
  return {};
}

bool TlsHttpResponse::has_header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequal(h.first, name)) return true;
  }
  return false;
}

std::string_view outcome_name(TlsOutcome outcome) {
  switch (outcome) {
    case TlsOutcome::ok: return "ok";
    case TlsOutcome::connect_failed: return "connect_failed";
    case TlsOutcome::handshake_failed: return "handshake_failed";
    case TlsOutcome::timeout: return "timeout";
    case TlsOutcome::closed: return "closed";
    case TlsOutcome::io: return "io";
  }
  return "?";
}

int connect_tcp(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool wait_tcp_closed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  char scratch[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = ::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
  }
}

TlsConnection::TlsConnection(std::uint16_t port, const TlsClientOptions& options) : timeout_(options.timeout) {
  open(port, options);
}

void TlsConnection::open(std::uint16_t port, const TlsClientOptions& options) {
  // A write to a connection the server already reset must fail, not kill the test runner.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return fail(TlsOutcome::io, "SSL_CTX_new");
  if (options.min_version != 0) SSL_CTX_set_min_proto_version(ctx_, options.min_version);
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, options.max_version);
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) != 1)
      return fail(TlsOutcome::io, "cannot load CA " + options.ca_file.string());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail(TlsOutcome::io, "cannot load client certificate " + options.cert_file.string());
  }
  fd_ = connect_tcp(port);
  if (fd_ < 0) return fail(TlsOutcome::connect_failed, std::string("connect: ") + std::strerror(errno));
  set_timeouts(fd_, timeout_);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (!options.server_name.empty()) {
    SSL_set_tlsext_host_name(ssl_, options.server_name.c_str());
    if (!options.ca_file.empty()) SSL_set1_host(ssl_, options.server_name.c_str());
  }
  int r = SSL_connect(ssl_);
  if (r != 1) {
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
        (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
      return fail(TlsOutcome::timeout, "handshake timed out");
    std::string reason = openssl_reason();
    return fail(TlsOutcome::handshake_failed, reason.empty() ? "handshake failed (connection closed)" : reason);
  }
}

TlsConnection::~TlsConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

void TlsConnection::fail(TlsOutcome outcome, std::string why) {
  outcome_ = outcome;
  error_ = std::move(why);
  ERR_clear_error();
}

std::string TlsConnection::protocol() const {
  return ssl_ != nullptr ? SSL_get_version(ssl_) : "";
}

std::string TlsConnection::peer_subject() const {
  X509* cert = ssl_ != nullptr ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (cert == nullptr) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

long TlsConnection::peer_serial() const {
  X509* cert = ssl_ != nullptr ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (cert == nullptr) return -1;
  return ASN1_INTEGER_get(X509_get0_serialNumber(cert));
}

bool TlsConnection::send(std::string_view bytes) {
  if (outcome_ != TlsOutcome::ok) return false;
  while (!bytes.empty()) {
    int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) {
      ERR_clear_error();
      return false;  // the read that follows tells why (an alert is still readable)
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool TlsConnection::fill() {
  if (outcome_ != TlsOutcome::ok && outcome_ != TlsOutcome::io) return false;
  char chunk[16384];
  int n = SSL_read(ssl_, chunk, sizeof chunk);
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  int err = SSL_get_error(ssl_, n);
  int saved_errno = errno;
  if (err == SSL_ERROR_ZERO_RETURN) {
    fail(TlsOutcome::closed, "close_notify");
  } else if (err == SSL_ERROR_WANT_READ ||
             (err == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))) {
    fail(TlsOutcome::timeout, "read timed out");
  } else if (err == SSL_ERROR_SSL && received_alert()) {
    // TLS 1.3: the server judges our certificate after our handshake has completed.
    fail(TlsOutcome::handshake_failed, openssl_reason());
  } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL) {
    fail(TlsOutcome::closed, openssl_reason().empty() ? "connection closed" : openssl_reason());
  } else {
    fail(TlsOutcome::io, "SSL_read error " + std::to_string(err));
  }
  return false;
}

bool TlsConnection::read_response(TlsHttpResponse& out) {
  out = {};
  std::size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  std::string_view head(buffer_.data(), header_end);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  if (sp == std::string_view::npos || status_line.size() < sp + 4) {
    fail(TlsOutcome::io, "malformed status line");
    return false;
  }
  out.status = std::stoi(std::string(status_line.substr(sp + 1, 3)));
  std::size_t content_length = 0;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      if (iequal(line.substr(0, colon), "Content-Length")) content_length = std::stoul(std::string(value));
    }
    pos = end + 2;
  }
  std::size_t body_start = header_end + 4;
  while (buffer_.size() < body_start + content_length) {
    if (!fill()) return false;
  }
  out.body = buffer_.substr(body_start, content_length);
  buffer_.erase(0, body_start + content_length);
  return true;
}

bool TlsConnection::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    set_timeouts(fd_, std::max(left, std::chrono::milliseconds(1)));
    buffer_.clear();
    if (fill()) continue;
    bool closed = outcome_ == TlsOutcome::closed || outcome_ == TlsOutcome::handshake_failed;
    if (outcome_ == TlsOutcome::timeout) outcome_ = TlsOutcome::ok;  // still open
    set_timeouts(fd_, timeout_);
    if (closed) return true;
    if (Clock::now() >= deadline) return false;
  }
}

TlsExchange tls_get(std::uint16_t port, const TlsClientOptions& options, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  TlsExchange result;
  TlsConnection conn(port, options);
  if (conn.outcome() == TlsOutcome::ok) {
    result.protocol = conn.protocol();
    result.peer_subject = conn.peer_subject();
    result.peer_serial = conn.peer_serial();
    std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
    request += "\r\n";
    conn.send(request);
    conn.read_response(result.response);
  }
  result.outcome = conn.outcome();
  result.error = conn.error();
  return result;
}

}  // namespace o2gw::test
