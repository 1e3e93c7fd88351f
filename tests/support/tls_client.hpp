// A minimal blocking TLS client for tests: OpenSSL over a POSIX socket to
// 127.0.0.1, with optional server verification, a client certificate and forced
// protocol versions. A refused handshake is reported as its own outcome, also
// when TLS 1.3 delivers the server's verdict (a client-certificate alert) only
// on the first read.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;

namespace o2gw::test {

struct TlsClientOptions {
  std::filesystem::path ca_file;    // verify the server against it; empty: no verification
  std::filesystem::path cert_file;  // client certificate (mTLS); empty: none
  std::filesystem::path key_file;
  int min_version = 0;  // TLS1_2_VERSION, TLS1_3_VERSION; 0: OpenSSL's default
  int max_version = 0;
  std::string server_name = "localhost";    // SNI and the name verified
  std::chrono::milliseconds timeout{5000};  // for connect, handshake and each read
};

struct TlsHttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Case-insensitive; the first value or "".
  [[nodiscard]] std::string header(std::string_view name) const;
  [[nodiscard]] bool has_header(std::string_view name) const;
};

enum class TlsOutcome { ok, connect_failed, handshake_failed, timeout, closed, io };
std::string_view outcome_name(TlsOutcome outcome);

// One TLS connection. Construct, then check outcome() before using it.
class TlsConnection {
 public:
  TlsConnection(std::uint16_t port, const TlsClientOptions& options);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // ok after a completed handshake; the last failure otherwise.
  [[nodiscard]] TlsOutcome outcome() const { return outcome_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::string protocol() const;      // "TLSv1.3"
  [[nodiscard]] std::string peer_subject() const;  // server certificate, RFC 2253
  [[nodiscard]] long peer_serial() const;          // server certificate serial; -1 when none

  bool send(std::string_view bytes);
  // Reads one response (Content-Length bodies only). False, with outcome() set, on failure.
  bool read_response(TlsHttpResponse& out);
  // True when the server closes (close_notify, EOF or reset) within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  void open(std::uint16_t port, const TlsClientOptions& options);
  // Reads more bytes into buffer_; false with outcome_ set on failure.
  bool fill();
  void fail(TlsOutcome outcome, std::string why);

  int fd_ = -1;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  TlsOutcome outcome_ = TlsOutcome::ok;
  std::string error_;
  std::string buffer_;
  std::chrono::milliseconds timeout_;
};

struct TlsExchange {
  TlsOutcome outcome = TlsOutcome::ok;
  std::string error;
  std::string protocol;
  std::string peer_subject;
  long peer_serial = -1;
  TlsHttpResponse response;
};

// Connects, sends `GET target` (Connection: close) and reads the response.
TlsExchange tls_get(std::uint16_t port, const TlsClientOptions& options, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& headers = {});

// A plain TCP connection to 127.0.0.1:port (for clients that never start TLS); -1 when refused.
int connect_tcp(std::uint16_t port);
// Waits until the peer closes `fd` (EOF or reset), discarding bytes; false on timeout.
bool wait_tcp_closed(int fd, std::chrono::milliseconds timeout);

}  // namespace o2gw::test
