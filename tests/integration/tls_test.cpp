// HTTPS on the real binary: server.tls (TLS 1.3, mTLS, certificate reload) and
// the plain ops listener (server.ops_listen) that serves probes beside it.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"

namespace o2gw::test {
namespace {

const std::string kInventoryRoot = "/o2ims-infrastructureInventory/v1";

class TlsGatewayTest : public ::testing::Test {
 protected:
  TlsGatewayTest() : server_cert_(pki_.server_cert()) {}

  // `tls_extra`: more lines under server.tls, indented by four spaces.
  std::string config(const std::string& tls_extra = "") const {
    return "server:\n"
           "  ops_listen: 127.0.0.1:0\n"
           "  tls:\n"
           "    cert_file: " +
           server_cert_.cert_file.string() +
           "\n"
           "    key_file: " +
           server_cert_.key_file.string() + "\n" + tls_extra +
           "adapters:\n"
           "  - {name: inv, category: ims, type: file, config: {path: deploy/inventory/example-inventory.yaml}}\n";
  }
  GatewayOptions options(const std::string& tls_extra = "") const {
    GatewayOptions o;
    o.config_yaml = config(tls_extra);
    o.ready_on_ops_port = true;
    return o;
  }
  TlsClientOptions verified() const {
    TlsClientOptions o;
    o.ca_file = pki_.ca_file();
    return o;
  }

  TestPki pki_;
  IssuedCert server_cert_;
};

TEST_F(TlsGatewayTest, HttpsServesTheInventoryApiWithHsts) {
  GatewayProcess gw(options());
  auto ex = tls_get(gw.port(), verified(), kInventoryRoot);
  ASSERT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
  EXPECT_EQ(ex.protocol, "TLSv1.3");
  EXPECT_EQ(ex.peer_serial, server_cert_.serial);
  EXPECT_EQ(ex.response.status, 200) << ex.response.body;
  EXPECT_NE(ex.response.body.find("oCloudId"), std::string::npos) << ex.response.body;
  EXPECT_EQ(ex.response.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
  EXPECT_EQ(ex.response.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(ex.response.header("Cache-Control"), "no-store");
}

TEST_F(TlsGatewayTest, TlsOneTwoIsRefusedByDefault) {
  GatewayProcess gw(options());
  auto o = verified();
  o.max_version = TLS1_2_VERSION;
  auto ex = tls_get(gw.port(), o, kInventoryRoot);
  EXPECT_EQ(ex.outcome, TlsOutcome::handshake_failed) << outcome_name(ex.outcome) << ": " << ex.error;
}

TEST_F(TlsGatewayTest, OpsListenerServesHealthzInPlainHttp) {
  GatewayProcess gw(options());
  std::uint16_t ops = gw.ops_port();
  ASSERT_NE(ops, 0);
  ASSERT_NE(ops, gw.port());
  auto health = http_get(ops, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_FALSE(health.has_header("Strict-Transport-Security"));
  EXPECT_EQ(health.header("X-Content-Type-Options"), "nosniff");
  // The API stays on the TLS port.
  EXPECT_EQ(http_get(ops, kInventoryRoot).status, 404);
  // Plain HTTP on the TLS port gets no response.
  auto conn = HttpConnection::try_connect(gw.port(), 2000ms);
  ASSERT_TRUE(conn.has_value());
  conn->send_raw(build_request("GET", kInventoryRoot, {{"Connection", "close"}}));
  std::string received;
  EXPECT_TRUE(conn->wait_closed(3000ms, &received));
  EXPECT_EQ(received.find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(TlsGatewayTest, MutualTlsRequiredRefusesMissingAndUntrustedCertificates) {
  GatewayProcess gw(options("    client_auth: required\n    client_ca_file: " + pki_.ca_file().string() + "\n"));

  auto none = tls_get(gw.port(), verified(), kInventoryRoot);
  EXPECT_EQ(none.outcome, TlsOutcome::handshake_failed) << outcome_name(none.outcome) << ": " << none.error;

  auto wrong = pki_.client_cert("wrong", "smo", TestPki::Issuer::other_ca);
  auto o = verified();
  o.cert_file = wrong.cert_file;
  o.key_file = wrong.key_file;
  auto untrusted = tls_get(gw.port(), o, kInventoryRoot);
  EXPECT_EQ(untrusted.outcome, TlsOutcome::handshake_failed)
      << outcome_name(untrusted.outcome) << ": " << untrusted.error;

  auto right = pki_.client_cert("right", "smo");
  o.cert_file = right.cert_file;
  o.key_file = right.key_file;
  auto ok = tls_get(gw.port(), o, kInventoryRoot);
  ASSERT_EQ(ok.outcome, TlsOutcome::ok) << ok.error;
  EXPECT_EQ(ok.response.status, 200);

  // Probes need no certificate: they use the ops listener.
  EXPECT_EQ(http_get(gw.ops_port(), "/readyz").status, 200);
}

// A verified client certificate is an identity: auth.client_identities maps its
// subject or a SAN to roles; a verified certificate nobody mapped has no roles.
TEST_F(TlsGatewayTest, ClientCertificatesAuthenticateThroughIdentityRules) {
  auto admin = pki_.client_cert("admin", "smo-admin");
  TestPki::CertOptions reader_options;
  reader_options.common_name = "smo-reader";
  reader_options.sans = {"URI:spiffe://o2.example/smo-reader"};
  auto reader = pki_.issue("reader", reader_options);
  auto stranger = pki_.client_cert("stranger", "someone-else");
  GatewayProcess gw(options("    client_auth: optional\n    client_ca_file: " + pki_.ca_file().string() +
                            "\nauth:\n  enabled: true\n  client_identities:\n"
                            "    - {subject: \"" + admin.subject + "\", roles: [admin]}\n"
                            "    - {san: \"URI:spiffe://o2.example/smo-reader\", roles: [reader]}\n"));
  auto with = [&](const IssuedCert* cert, const std::string& target) {
    auto o = verified();
    if (cert != nullptr) {
      o.cert_file = cert->cert_file;
      o.key_file = cert->key_file;
    }
    auto ex = tls_get(gw.port(), o, target);
    EXPECT_EQ(ex.outcome, TlsOutcome::ok) << ex.error;
    return ex.response;
  };
  EXPECT_EQ(with(&admin, "/admin/v1/adapters").status, 200);
  EXPECT_EQ(with(&reader, kInventoryRoot).status, 200);
  auto forbidden = with(&reader, "/admin/v1/adapters");
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_NE(forbidden.body.find("the caller has reader"), std::string::npos) << forbidden.body;
  EXPECT_EQ(with(&stranger, kInventoryRoot).status, 403);
  auto anonymous = with(nullptr, kInventoryRoot);
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.header("WWW-Authenticate"), "Bearer realm=\"o2gw\"");
}

TEST_F(TlsGatewayTest, RotatedCertificateIsServedWithoutRestart) {
  GatewayProcess gw(options("    reload_interval_ms: 100\n"));
  auto rotated = pki_.server_cert("rotated");
  replace_file(server_cert_.key_file, rotated.key_pem);
  replace_file(server_cert_.cert_file, rotated.cert_pem);
  EXPECT_TRUE(eventually(
      [&] {
        auto ex = tls_get(gw.port(), verified(), kInventoryRoot);
        return ex.outcome == TlsOutcome::ok && ex.peer_serial == rotated.serial && ex.response.status == 200;
      },
      5s));
  EXPECT_TRUE(gw.running());
}

TEST_F(TlsGatewayTest, UnreadableCertificateStopsStartup) {
  GatewayOptions o;
  o.config_yaml = "server:\n  tls:\n    cert_file: " + (pki_.dir() / "missing.crt").string() +
                  "\n    key_file: " + server_cert_.key_file.string() + "\n";
  o.wait_ready = false;
  try {
    GatewayProcess gw(o);
    FAIL() << "the gateway started without its certificate";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.crt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace o2gw::test
