// HttpServer in-process on 127.0.0.1 port 0: HTTPS, mTLS, certificate reload,
// handshake and header deadlines, security headers and the ops listener.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>

#include "o2gw/server.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"

namespace o2gw {
namespace {

using namespace std::chrono_literals;
using test::TestPki;
using test::TlsClientOptions;
using test::TlsOutcome;
using Clock = std::chrono::steady_clock;

template <typename Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Runs an HttpServer on its own thread; the handler echoes what the session
// knows about the connection, so tests can assert on it.
class RunningServer {
 public:
  explicit RunningServer(ServerConfig cfg) : server_(prepare(std::move(cfg)), make_hooks()) {
    port_ = server_.listen();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() { stop(); }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    server_.shutdown();
    thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::uint16_t ops_port() const { return server_.ops_port(); }
  int events(const std::string& name) {
    std::lock_guard lock(mu_);
    return tls_events_[name];
  }

 private:
  static ServerConfig prepare(ServerConfig cfg) {
    cfg.listen_address = "127.0.0.1";
    cfg.port = 0;
    cfg.threads = 2;
    cfg.shutdown_grace = 2s;
    return cfg;
  }
  ServerHooks make_hooks() {
    ServerHooks hooks;
    hooks.handle = [](http::Request& req, std::function<void(http::Response)> respond) {
      http::Response res;
      res.content_type = "text/plain";
      const auto& c = *req.conn;
      res.body = "tls=" + std::to_string(c.tls) + ";ops=" + std::to_string(c.ops_listener) + ";peer_ip=" + c.peer_ip +
                 ";subject=" + c.client_subject + ";sans=";
      for (const auto& san : c.client_sans) res.body += san + ",";
      if (req.path == "/cacheable") res.set_header("Cache-Control", "max-age=60");
      respond(std::move(res));
    };
    hooks.tls_event = [this](std::string_view event) {
      std::lock_guard lock(mu_);
      ++tls_events_[std::string(event)];
    };
    return hooks;
  }

  HttpServer server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, int> tls_events_;
};

class TlsServerTest : public ::testing::Test {
 protected:
  TlsServerTest() : server_cert_(pki_.server_cert()) {}

  ServerConfig tls_config() {
    ServerConfig cfg;
    cfg.tls.enabled = true;
    cfg.tls.cert_file = server_cert_.cert_file;
    cfg.tls.key_file = server_cert_.key_file;
    cfg.tls.reload_interval = 50ms;
    return cfg;
  }
  TlsClientOptions verified() {
    TlsClientOptions o;
    o.ca_file = pki_.ca_file();
    return o;
  }

  TestPki pki_;
  test::IssuedCert server_cert_;
};

// A plain-HTTP request on a fresh connection; returns everything the server sent.
std::string plain_exchange(std::uint16_t port, const std::string& request) {
  int fd = test::connect_tcp(port);
  if (fd < 0) return {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char chunk[4096];
  ssize_t n;
  while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0) out.append(chunk, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

void expect_security_headers(const test::TlsHttpResponse& res) {
  EXPECT_EQ(res.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res.header("Cache-Control"), "no-store");
  EXPECT_EQ(res.header("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
  EXPECT_EQ(res.header("X-Frame-Options"), "DENY");
  EXPECT_EQ(res.header("Referrer-Policy"), "no-referrer");
}

TEST_F(TlsServerTest, Tls13ServesWithHstsAndSecurityHeaders) {
  RunningServer server(tls_config());
  auto ex = test::tls_get(server.port(), verified(), "/x");
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.protocol, "TLSv1.3");
  EXPECT_EQ(ex.peer_subject, "CN=localhost,O=o2gw tests");
  EXPECT_EQ(ex.peer_serial, server_cert_.serial);
  EXPECT_EQ(ex.response.status, 200);
  EXPECT_EQ(ex.response.body, "tls=1;ops=0;peer_ip=127.0.0.1;subject=;sans=");
  EXPECT_EQ(ex.response.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
  expect_security_headers(ex.response);
}

TEST_F(TlsServerTest, HandlerHeaderWinsOverDefault) {
  RunningServer server(tls_config());
  auto ex = test::tls_get(server.port(), verified(), "/cacheable");
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.response.header("Cache-Control"), "max-age=60");
  int count = 0;
  for (const auto& h : ex.response.headers) count += h.first == "Cache-Control" ? 1 : 0;
  EXPECT_EQ(count, 1);
}

TEST_F(TlsServerTest, Tls12RefusedByDefault) {
  RunningServer server(tls_config());
  auto options = verified();
  options.max_version = TLS1_2_VERSION;
  auto ex = test::tls_get(server.port(), options, "/x");
  EXPECT_EQ(ex.outcome, TlsOutcome::handshake_failed) << ex.error;
  EXPECT_TRUE(eventually([&] { return server.events("handshake_failed") == 1; }, 2s));
}

TEST_F(TlsServerTest, Tls12AcceptedWithMinVersion12) {
  auto cfg = tls_config();
  cfg.tls.min_version = "1.2";
  RunningServer server(cfg);
  auto options = verified();
  options.max_version = TLS1_2_VERSION;
  auto ex = test::tls_get(server.port(), options, "/x");
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.protocol, "TLSv1.2");
  EXPECT_EQ(ex.response.status, 200);
  // TLS 1.3 still works, and is preferred.
  auto ex13 = test::tls_get(server.port(), verified(), "/x");
  ASSERT_EQ(ex13.outcome, TlsOutcome::ok) << ex13.error;
  EXPECT_EQ(ex13.protocol, "TLSv1.3");
}

TEST_F(TlsServerTest, PlainHttpOnTlsPortIsRefused) {
  RunningServer server(tls_config());
  std::string got = plain_exchange(server.port(), "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return server.events("handshake_failed") == 1; }, 2s));
}

// mTLS: client_auth mode x the certificate the client presents.
enum class ClientCert { none, right, other_ca, expired };

struct MtlsCase {
  TlsServerConfig::ClientAuth mode;
  ClientCert cert;
  bool accepted;
  bool identified;  // client_subject and client_sans reach the handler
};

std::string case_name(const ::testing::TestParamInfo<MtlsCase>& info) {
  static const char* modes[] = {"off", "optional", "required"};
  static const char* certs[] = {"none", "right", "other_ca", "expired"};
  return std::string(modes[static_cast<int>(info.param.mode)]) + "_" + certs[static_cast<int>(info.param.cert)];
}

class MtlsTest : public TlsServerTest, public ::testing::WithParamInterface<MtlsCase> {};

TEST_P(MtlsTest, HandshakeAndIdentity) {
  const MtlsCase& c = GetParam();
  auto cfg = tls_config();
  cfg.tls.client_auth = c.mode;
  cfg.tls.client_ca_file = pki_.ca_file();
  RunningServer server(cfg);
  auto options = verified();
  if (c.cert != ClientCert::none) {
    auto issued = pki_.client_cert("client", "smo",
                                   c.cert == ClientCert::other_ca ? TestPki::Issuer::other_ca : TestPki::Issuer::ca,
                                   c.cert == ClientCert::expired);
    options.cert_file = issued.cert_file;
    options.key_file = issued.key_file;
  }
  auto ex = test::tls_get(server.port(), options, "/whoami");
  if (!c.accepted) {
    EXPECT_EQ(ex.outcome, TlsOutcome::handshake_failed) << test::outcome_name(ex.outcome) << ": " << ex.error;
    EXPECT_EQ(ex.response.status, 0);
    EXPECT_TRUE(eventually([&] { return server.events("handshake_failed") == 1; }, 2s));
    return;
  }
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  ASSERT_EQ(ex.response.status, 200);
  if (c.identified) {
    EXPECT_EQ(ex.response.body,
              "tls=1;ops=0;peer_ip=127.0.0.1;subject=CN=smo,O=Operator;sans=DNS:smo.example.net,URI:spiffe://"
              "o2gw.test/smo,");
  } else {
    EXPECT_EQ(ex.response.body, "tls=1;ops=0;peer_ip=127.0.0.1;subject=;sans=");
  }
}

using Auth = TlsServerConfig::ClientAuth;
INSTANTIATE_TEST_SUITE_P(Matrix, MtlsTest,
                         ::testing::Values(MtlsCase{Auth::off, ClientCert::none, true, false},
                                           MtlsCase{Auth::off, ClientCert::right, true, false},
                                           MtlsCase{Auth::off, ClientCert::other_ca, true, false},
                                           MtlsCase{Auth::optional, ClientCert::none, true, false},
                                           MtlsCase{Auth::optional, ClientCert::right, true, true},
                                           MtlsCase{Auth::optional, ClientCert::other_ca, false, false},
                                           MtlsCase{Auth::optional, ClientCert::expired, false, false},
                                           MtlsCase{Auth::required, ClientCert::none, false, false},
                                           MtlsCase{Auth::required, ClientCert::right, true, true},
                                           MtlsCase{Auth::required, ClientCert::other_ca, false, false},
                                           MtlsCase{Auth::required, ClientCert::expired, false, false}),
                         case_name);

TEST_F(TlsServerTest, CertificateReloadedWithoutRestart) {
  RunningServer server(tls_config());
  // A keep-alive connection opened before the rotation keeps working after it.
  test::TlsConnection old_conn(server.port(), verified());
  ASSERT_EQ(old_conn.outcome(), TlsOutcome::ok) << old_conn.error();
  EXPECT_EQ(old_conn.peer_serial(), server_cert_.serial);

  auto rotated = pki_.server_cert("rotated");
  ASSERT_NE(rotated.serial, server_cert_.serial);
  test::replace_file(server_cert_.key_file, rotated.key_pem);
  test::replace_file(server_cert_.cert_file, rotated.cert_pem);
  EXPECT_TRUE(eventually(
      [&] {
        auto ex = test::tls_get(server.port(), verified(), "/x");
        return ex.outcome == TlsOutcome::ok && ex.peer_serial == rotated.serial;
      },
      5s));
  EXPECT_GE(server.events("reload_ok"), 1);

  ASSERT_TRUE(old_conn.send("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  test::TlsHttpResponse res;
  ASSERT_TRUE(old_conn.read_response(res)) << old_conn.error();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(old_conn.peer_serial(), server_cert_.serial);
}

TEST_F(TlsServerTest, BrokenReplacementKeepsTheWorkingCertificate) {
  RunningServer server(tls_config());
  test::replace_file(server_cert_.cert_file, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  ASSERT_TRUE(eventually([&] { return server.events("reload_failed") == 1; }, 5s));
  auto ex = test::tls_get(server.port(), verified(), "/x");
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.peer_serial, server_cert_.serial);
  EXPECT_EQ(ex.response.status, 200);

  // A key that does not match the certificate is refused the same way. The key
  // goes first, so no state the reload timer may see in between is a valid pair.
  auto other = pki_.server_cert("other");
  test::replace_file(server_cert_.key_file, other.key_pem);
  test::replace_file(server_cert_.cert_file, server_cert_.cert_pem);
  ASSERT_TRUE(eventually([&] { return server.events("reload_failed") >= 2; }, 5s));
  ex = test::tls_get(server.port(), verified(), "/x");
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.peer_serial, server_cert_.serial);
  EXPECT_EQ(server.events("reload_ok"), 0);
}

TEST_F(TlsServerTest, ListenThrowsOnUnusableCertificate) {
  auto cfg = tls_config();
  cfg.tls.cert_file = pki_.dir() / "missing.crt";
  cfg.listen_address = "127.0.0.1";
  cfg.port = 0;
  HttpServer missing(cfg, {});
  try {
    missing.listen();
    FAIL() << "listen() accepted a missing certificate";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.crt"), std::string::npos) << e.what();
  }

  auto other = pki_.server_cert("other");
  cfg = tls_config();
  cfg.tls.key_file = other.key_file;
  cfg.listen_address = "127.0.0.1";
  cfg.port = 0;
  HttpServer mismatched(cfg, {});
  EXPECT_THROW(mismatched.listen(), std::runtime_error);
}

TEST_F(TlsServerTest, SilentClientIsCutOffAtTheHandshakeDeadline) {
  auto cfg = tls_config();
  cfg.tls.handshake_timeout = 300ms;
  RunningServer server(cfg);
  int fd = test::connect_tcp(server.port());
  ASSERT_GE(fd, 0);
  auto start = Clock::now();
  EXPECT_TRUE(test::wait_tcp_closed(fd, 2s));
  auto waited = Clock::now() - start;
  ::close(fd);
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 1500ms);
  EXPECT_TRUE(eventually([&] { return server.events("handshake_timeout") == 1; }, 2s));
}

TEST_F(TlsServerTest, TricklingHandshakeIsCutOff) {
  auto cfg = tls_config();
  cfg.tls.handshake_timeout = 300ms;
  RunningServer server(cfg);
  int fd = test::connect_tcp(server.port());
  ASSERT_GE(fd, 0);
  // A TLS record header announcing a large ClientHello, then a byte every 50 ms:
  // each byte is progress, but the deadline covers the whole handshake.
  const std::string header("\x16\x03\x01\x02\x00", 5);
  ::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
  auto start = Clock::now();
  bool closed = false;
  while (!closed && Clock::now() - start < 2s) {
    ::send(fd, "\x01", 1, MSG_NOSIGNAL);
    closed = test::wait_tcp_closed(fd, 50ms);
  }
  auto waited = Clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(waited, 1500ms);
  EXPECT_TRUE(eventually([&] { return server.events("handshake_timeout") == 1; }, 2s));
}

TEST_F(TlsServerTest, SlowlorisAfterHandshakeGets408) {
  auto cfg = tls_config();
  cfg.header_timeout = 300ms;
  RunningServer server(cfg);
  test::TlsConnection conn(server.port(), verified());
  ASSERT_EQ(conn.outcome(), TlsOutcome::ok) << conn.error();
  auto start = Clock::now();
  conn.send("GET /slow HTTP/1.1\r\nHost: localhost\r\n");
  // One header line every 100 ms, never the blank line that ends the header.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    if (!conn.send("X-Slow-" + std::to_string(i) + ": 1\r\n")) break;
  }
  test::TlsHttpResponse res;
  ASSERT_TRUE(conn.read_response(res)) << test::outcome_name(conn.outcome()) << ": " << conn.error();
  EXPECT_EQ(res.status, 408);
  EXPECT_LT(Clock::now() - start, 2s);
  expect_security_headers(res);
  EXPECT_EQ(res.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
  EXPECT_TRUE(conn.wait_closed(2s));
}

TEST_F(TlsServerTest, OversizedHeaderGets431WithSecurityHeaders) {
  auto cfg = tls_config();
  cfg.header_limit = 1024;
  RunningServer server(cfg);
  test::TlsConnection conn(server.port(), verified());
  ASSERT_EQ(conn.outcome(), TlsOutcome::ok) << conn.error();
  conn.send("GET /big HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  test::TlsHttpResponse res;
  ASSERT_TRUE(conn.read_response(res)) << conn.error();
  EXPECT_EQ(res.status, 431);
  EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
  expect_security_headers(res);
  EXPECT_EQ(res.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
}

TEST_F(TlsServerTest, PlainServerSendsSecurityHeadersButNoHsts) {
  ServerConfig cfg;
  cfg.header_limit = 1024;
  RunningServer server(cfg);
  std::string ok = plain_exchange(server.port(), "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(ok.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Referrer-Policy: no-referrer\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("tls=0;ops=0;peer_ip=127.0.0.1;"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("Strict-Transport-Security"), std::string::npos) << ok;
  std::string big = plain_exchange(server.port(), "GET /x HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  EXPECT_NE(big.find("HTTP/1.1 431 "), std::string::npos) << big;
  EXPECT_NE(big.find("X-Frame-Options: DENY\r\n"), std::string::npos) << big;
  EXPECT_NE(big.find("Cache-Control: no-store\r\n"), std::string::npos) << big;
  EXPECT_EQ(big.find("Strict-Transport-Security"), std::string::npos) << big;
}

TEST_F(TlsServerTest, OpsListenerServesPlainHttpBesideTls) {
  auto cfg = tls_config();
  cfg.ops_enabled = true;
  cfg.ops_listen_address = "127.0.0.1";
  cfg.ops_port = 0;
  RunningServer server(cfg);
  ASSERT_NE(server.ops_port(), 0);
  ASSERT_NE(server.ops_port(), server.port());
  std::string ops = plain_exchange(server.ops_port(), "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(ops.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << ops;
  EXPECT_NE(ops.find("tls=0;ops=1;"), std::string::npos) << ops;
  EXPECT_EQ(ops.find("Strict-Transport-Security"), std::string::npos) << ops;
  auto api = test::tls_get(server.port(), verified(), "/x");
  ASSERT_EQ(api.outcome, TlsOutcome::ok) << api.error;
  EXPECT_EQ(api.response.body.substr(0, 12), "tls=1;ops=0;");
}

TEST_F(TlsServerTest, OpsListenerDisabledReportsPortZero) {
  RunningServer server(tls_config());
  EXPECT_EQ(server.ops_port(), 0);
}

TEST_F(TlsServerTest, ShutdownClosesBothListenersAndDrainsIdleConnections) {
  auto cfg = tls_config();
  cfg.ops_enabled = true;
  cfg.ops_listen_address = "127.0.0.1";
  cfg.ops_port = 0;
  RunningServer server(cfg);
  std::uint16_t api_port = server.port();
  std::uint16_t ops_port = server.ops_port();
  test::TlsConnection idle_tls(api_port, verified());
  ASSERT_EQ(idle_tls.outcome(), TlsOutcome::ok);
  int idle_ops = test::connect_tcp(ops_port);
  ASSERT_GE(idle_ops, 0);
  auto start = Clock::now();
  server.stop();
  // Well inside the 2 s grace: idle connections are closed at once.
  EXPECT_LT(Clock::now() - start, 1500ms);
  EXPECT_TRUE(idle_tls.wait_closed(1s));
  EXPECT_TRUE(test::wait_tcp_closed(idle_ops, 1s));
  ::close(idle_ops);
  int fd = test::connect_tcp(api_port);
  EXPECT_LT(fd, 0);
  if (fd >= 0) ::close(fd);
  fd = test::connect_tcp(ops_port);
  EXPECT_LT(fd, 0);
  if (fd >= 0) ::close(fd);
}

}  // namespace
}  // namespace o2gw
