// Authentication, authorization, rate limiting, tenancy and the audit log of
// the real binary. Tokens come from a test issuer (tests/support/jwt_issuer)
// whose JWKS the gateway reads from a file; every refusal is checked for its
// exact status, problem body and WWW-Authenticate challenge.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/jwt_issuer.hpp"
#include "support/webhook_receiver.hpp"

namespace o2gw::test {
namespace {

using json = nlohmann::json;

const std::string kIssuer = "https://idp.o2gw.test/realms/o2";
const std::string kAudience = "o2gw";
const std::string kCloud = "/o2ims-infrastructureInventory/v1";
const std::string kSubscriptions = kCloud + "/subscriptions";
const std::string kStaticToken = "o2gw-static-reader-token-0123456789";
const std::string kAdminToken = "o2gw-static-admin-token-9876543210";
const std::string kSecret = "s3cr3t-cluster-token";

long now_s() { return static_cast<long>(std::time(nullptr)); }

// The example inventory, with credentials in its deployment manager's profileData.
std::string inventory_with_credentials() {
  std::string inv = read_file_text(source_dir() / "deploy/inventory/example-inventory.yaml");
  const std::string from = "extensions: {distribution: upstream, cni: [ovn-kubernetes, sriov]}";
  auto pos = inv.find(from);
  if (pos == std::string::npos) throw std::runtime_error("the example inventory changed: update auth_test");
  inv.replace(pos, from.size(),
              "extensions: {profileName: native_k8sapi, profileData: {cluster_api_endpoint: "
              "\"https://api.kista-edge.k8s.example.net:6443\", admin_user: admin, admin_token: " +
                  kSecret + ", admin_client_key: \"-----BEGIN PRIVATE KEY-----x\"}}");
  return inv;
}

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    issuer_ = std::make_unique<JwtIssuer>();
    issuer_->add_key("rsa-1", JwtIssuer::KeyType::rsa);
    issuer_->add_key("ec-1", JwtIssuer::KeyType::ec);
    files_ = std::make_unique<TempDir>();
    jwks_path_ = files_->write("jwks.json", issuer_->jwks());
    inventory_path_ = files_->write("inventory.yaml", inventory_with_credentials());
    const auto& inventory = inventory_path_;
    std::ostringstream cfg;
    cfg << "auth:\n"
        << "  enabled: true\n"
        << "  multi_tenant: true\n"
        << "  jwt:\n"
        << "    issuer: " << kIssuer << "\n"
        << "    audience: [other, " << kAudience << "]\n"
        << "    jwks_file: " << jwks_path_.string() << "\n"
        << "    jwks_min_refresh_interval_s: 0\n"
        << "    roles_claim: realm_access.roles\n"
        << "    role_map: {o2-subscribers: subscriber}\n"
        << "    tenant_claim: tenant\n"
        << "  api_tokens:\n"
        << "    - {name: ci-reader, sha256: " << JwtIssuer::sha256_hex(kStaticToken) << ", roles: [reader]}\n"
        << "    - {name: ops-admin, sha256: " << JwtIssuer::sha256_hex(kAdminToken) << ", roles: [admin]}\n"
        << "  client_identities:\n"
        << "    - {subject: \"CN=smo-admin,O=Operator\", roles: [admin]}\n"
        << "subscriptions:\n"
        << "  callback_allow: [\"127.0.0.1\"]\n"
        << "rate_limit:\n"
        << "  enabled: true\n"
        << "  read: {rate: 10000, burst: 10000}\n"
        << "  write: {rate: 10000, burst: 10000}\n"
        << "  admin: {rate: 1, burst: 2}\n"
        << "  unauthenticated: {rate: 10000, burst: 10000}\n"
        << "adapters:\n"
        << "  - {name: lab, type: file, config: {path: " << inventory.string() << ", poll_interval_ms: 100}}\n";
    gateway_ = std::make_unique<GatewayProcess>(GatewayOptions{.config_yaml = cfg.str()});
  }
  static void TearDownTestSuite() {
    gateway_.reset();
    files_.reset();
    issuer_.reset();
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }

  static std::uint16_t port() { return gateway_->port(); }
  static std::string token(json claims, const std::string& kid = "rsa-1") { return issuer_->sign(claims, kid); }
  static json claims(const std::vector<std::string>& roles, const std::string& subject = "smo-1",
                     const std::string& tenant = "") {
    json c = JwtIssuer::claims(kIssuer, kAudience, subject);
    c["realm_access"] = {{"roles", roles}};
    if (!tenant.empty()) c["tenant"] = tenant;
    return c;
  }
  static HeaderList bearer(const std::string& t) { return {{"Authorization", "Bearer " + t}}; }
  static HttpResponse get(const std::string& target, const HeaderList& h = {}) { return http_get(port(), target, h); }

  // A refusal by authentication: the status, a problem+json body whose detail
  // contains `detail_part`, and the Bearer challenge (with `error` when given).
  static void expect_refused(const HttpResponse& res, int status, const std::string& detail_part,
                             const std::string& error) {
    EXPECT_EQ(res.status, status) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/problem+json") << res.body;
    json body = json::parse(res.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res.body;
    EXPECT_EQ(body.value("status", 0), status);
    EXPECT_NE(body.value("detail", "").find(detail_part), std::string::npos) << body.dump();
    const std::string challenge = res.header("WWW-Authenticate");
    EXPECT_EQ(challenge.rfind("Bearer realm=\"o2gw\"", 0), 0u) << challenge;
    if (error.empty()) {
      EXPECT_EQ(challenge.find("error="), std::string::npos) << challenge;
    } else {
      EXPECT_NE(challenge.find("error=\"" + error + "\""), std::string::npos) << challenge;
    }
  }

  static std::string audit_log() { return read_file_text(gateway_->dir() / "data" / "audit.log"); }

  static inline std::unique_ptr<JwtIssuer> issuer_;
  static inline std::unique_ptr<TempDir> files_;
  static inline std::filesystem::path jwks_path_;
  static inline std::filesystem::path inventory_path_;
  static inline std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(AuthTest, NoCredentialsIs401BeforeRoutingWithABearerChallenge) {
  expect_refused(get(kCloud), 401, "authentication required", "");
  // An unknown path is not revealed either: 401, not 404.
  expect_refused(get("/no/such/path"), 401, "authentication required", "");
  // Probes stay open.
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST_F(AuthTest, ValidRs256AndEs256TokensAreAccepted) {
  auto rs = get(kCloud, bearer(token(claims({"reader"}))));
  EXPECT_EQ(rs.status, 200) << rs.body;
  auto es = get(kCloud, bearer(token(claims({"reader"}), "ec-1")));
  EXPECT_EQ(es.status, 200) << es.body;
  // Authenticated but unknown path: now a 404.
  EXPECT_EQ(get("/no/such/path", bearer(token(claims({"reader"})))).status, 404);
}

TEST_F(AuthTest, ExpiredTokenIsRefused) {
  json c = claims({"reader"});
  c["iat"] = now_s() - 7200;
  c["nbf"] = now_s() - 7200;
  c["exp"] = now_s() - 120;  // beyond the 30 s leeway
  expect_refused(get(kCloud, bearer(token(c))), 401, "expired", "invalid_token");
}

TEST_F(AuthTest, NotYetValidTokenIsRefused) {
  json c = claims({"reader"});
  c["nbf"] = now_s() + 3600;
  expect_refused(get(kCloud, bearer(token(c))), 401, "not valid yet", "invalid_token");
}

TEST_F(AuthTest, WrongIssuerAndWrongAudienceAreRefused) {
  json c = claims({"reader"});
  c["iss"] = "https://evil.example/realms/o2";
  expect_refused(get(kCloud, bearer(token(c))), 401, "issuer", "invalid_token");
  json d = claims({"reader"});
  d["aud"] = "someone-else";
  expect_refused(get(kCloud, bearer(token(d))), 401, "audience", "invalid_token");
}

TEST_F(AuthTest, ForgedSignatureAlgNoneAndHs256WithThePublicKeyAreRefused) {
  json c = claims({"admin"});
  expect_refused(get(kCloud, bearer(issuer_->forged(c, "rsa-1"))), 401, "signature", "invalid_token");
  expect_refused(get(kCloud, bearer(issuer_->unsigned_token(c, "rsa-1"))), 401, "none", "invalid_token");
  expect_refused(get(kCloud, bearer(issuer_->hs256_with_public_key(c, "rsa-1"))), 401, "HS256", "invalid_token");
}

TEST_F(AuthTest, UnknownKeyIdIsRefusedUntilTheJwksRotates) {
  // A second issuer's key the gateway has never seen.
  JwtIssuer next;
  next.add_key("rsa-2", JwtIssuer::KeyType::rsa);
  const std::string t = next.sign(claims({"reader"}), "rsa-2");
  expect_refused(get(kCloud, bearer(t)), 401, "unknown signing key", "invalid_token");
  // Rotation: the JWKS now holds the old and the new key.
  json merged = json::parse(issuer_->jwks());
  const json added = json::parse(next.jwks());
  for (const auto& k : added["keys"]) merged["keys"].push_back(k);
  write_file_atomically(jwks_path_, merged.dump());
  auto res = get(kCloud, bearer(t));
  EXPECT_EQ(res.status, 200) << res.body;
  // The old key still works after the rotation.
  EXPECT_EQ(get(kCloud, bearer(token(claims({"reader"})))).status, 200);
}

TEST_F(AuthTest, OversizedTokenIsRefusedBeforeDecoding) {
  json c = claims({"reader"});
  c["padding"] = std::string(9000, 'x');
  expect_refused(get(kCloud, bearer(token(c))), 401, "exceeds", "invalid_token");
}

TEST_F(AuthTest, TokenInTheQueryStringIsRefused) {
  const std::string t = token(claims({"reader"}, "query-user"));
  expect_refused(get(kCloud + "?access_token=" + t), 400, "query string", "invalid_request");
  // Even with a valid header alongside it.
  expect_refused(get(kCloud + "?fields=name&access_token=" + t, bearer(t)), 400, "query string", "invalid_request");
  // The refused token is not logged either.
  ASSERT_TRUE(eventually([] { return gateway_->access_log().find("access_token=REDACTED") != std::string::npos; }, 5s));
  EXPECT_EQ(gateway_->access_log().find(t), std::string::npos);
}

TEST_F(AuthTest, OtherSchemesAreRefused) {
  expect_refused(get(kCloud, {{"Authorization", "Basic YWRtaW46YWRtaW4="}}), 401, "Bearer", "invalid_request");
}

TEST_F(AuthTest, SpoofedIdentityHeaderWithoutATrustedProxyIsIgnored) {
  // The header names a configured admin identity, but 127.0.0.1 is no trusted proxy.
  expect_refused(get("/admin/v1/adapters", {{"X-Client-Subject", "CN=smo-admin,O=Operator"}}), 401,
                 "authentication required", "");
}

TEST_F(AuthTest, StaticApiTokensAuthenticateByTheirHash) {
  EXPECT_EQ(get(kCloud, bearer(kStaticToken)).status, 200);
  expect_refused(get(kCloud, bearer(kStaticToken + "x")), 401, "", "invalid_token");
}

TEST_F(AuthTest, RolesGateEachRoute) {
  const json sub = {{"callback", "http://127.0.0.1:9/cb"}};
  // A reader may read but not subscribe.
  auto reader = http_request(port(), "POST", kSubscriptions,
                             {{"Authorization", "Bearer " + token(claims({"reader"}))},
                              {"Content-Type", "application/json"}},
                             sub.dump());
  EXPECT_EQ(reader.status, 403) << reader.body;
  EXPECT_EQ(reader.header("Content-Type"), "application/problem+json");
  EXPECT_NE(reader.json().value("detail", "").find("subscriber"), std::string::npos) << reader.body;
  // The role comes through role_map from the claim value "o2-subscribers".
  auto subscriber = http_request(port(), "POST", kSubscriptions,
                                 {{"Authorization", "Bearer " + token(claims({"o2-subscribers"}))},
                                  {"Content-Type", "application/json"}},
                                 sub.dump());
  ASSERT_EQ(subscriber.status, 201) << subscriber.body;
  const std::string id = subscriber.json()["subscriptionId"];
  // The admin area needs admin.
  auto denied = get("/admin/v1/adapters", bearer(token(claims({"subscriber", "maintainer"}))));
  EXPECT_EQ(denied.status, 403) << denied.body;
  auto del = http_request(port(), "DELETE", kSubscriptions + "/" + id, bearer(token(claims({"o2-subscribers"}))));
  EXPECT_EQ(del.status, 200) << del.body;
  // A token with no known role is authenticated but may do nothing.
  EXPECT_EQ(get(kCloud, bearer(token(claims({"unrelated-group"})))).status, 403);
}

TEST_F(AuthTest, DeploymentManagerCredentialsOnlyForDeployersAndAdmins) {
  auto find_profile = [](const HttpResponse& res) {
    for (const auto& dm : res.json()) {
      if (dm.value("name", "") == "kista-edge-cluster" && dm.contains("extensions")) {
        return dm["extensions"].value("profileData", json());
      }
    }
    return json();
  };
  const std::string list = kCloud + "/deploymentManagers?all_fields";
  auto as_reader = get(list, bearer(token(claims({"reader"}))));
  ASSERT_EQ(as_reader.status, 200) << as_reader.body;
  EXPECT_EQ(as_reader.body.find(kSecret), std::string::npos);
  json p = find_profile(as_reader);
  ASSERT_TRUE(p.is_object()) << as_reader.body;
  EXPECT_EQ(p.value("admin_token", "?"), "");
  EXPECT_EQ(p.value("admin_client_key", "?"), "");
  EXPECT_EQ(p.value("cluster_api_endpoint", ""), "https://api.kista-edge.k8s.example.net:6443");
  EXPECT_EQ(p.value("admin_user", ""), "admin");

  auto as_deployer = get(list, bearer(token(claims({"deployer"}))));
  ASSERT_EQ(as_deployer.status, 200);
  EXPECT_EQ(find_profile(as_deployer).value("admin_token", ""), kSecret);
  // One object: the same rule.
  std::string dm_id;
  for (const auto& dm : as_deployer.json()) {
    if (dm.value("name", "") == "kista-edge-cluster") dm_id = dm["deploymentManagerId"];
  }
  auto one = get(kCloud + "/deploymentManagers/" + dm_id, bearer(token(claims({"subscriber"}))));
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body.find(kSecret), std::string::npos);
  auto one_admin = get(kCloud + "/deploymentManagers/" + dm_id, bearer(kAdminToken));
  EXPECT_NE(one_admin.body.find(kSecret), std::string::npos);
}

// Notifications reach subscribers whatever their role: a deployment manager's
// change is notified with its credentials blanked, even to a subscriber that is an admin.
TEST_F(AuthTest, NotificationsNeverCarryDeploymentManagerCredentials) {
  WebhookReceiver rx(gateway_->dir() / "data" / "signing-keys");
  auto created = http_request(port(), "POST", kSubscriptions,
                              {{"Authorization", "Bearer " + kAdminToken}, {"Content-Type", "application/json"}},
                              json{{"callback", rx.url()}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json()["subscriptionId"];
  std::string inv = read_file_text(inventory_path_);
  const std::string from = "description: Kubernetes cluster running the DU and CU workloads of the Kista site";
  auto pos = inv.find(from);
  ASSERT_NE(pos, std::string::npos);
  inv.replace(pos, from.size(), "description: Kista cluster, changed for the notification test");
  write_file_atomically(inventory_path_, inv);
  auto got = rx.wait_posts(1, 5s);
  ASSERT_FALSE(got.empty());
  const json& body = got[0].at("body");
  EXPECT_EQ(body.value("notificationEventType", -1), 1) << body.dump();
  EXPECT_EQ(body.dump().find(kSecret), std::string::npos) << body.dump();
  const json& profile = body.at("postObjectState").at("extensions").at("profileData");
  EXPECT_EQ(profile.value("admin_token", "?"), "");
  EXPECT_EQ(profile.value("cluster_api_endpoint", ""), "https://api.kista-edge.k8s.example.net:6443");
  EXPECT_EQ(body.at("priorObjectState").at("extensions").at("profileData").value("admin_token", "?"), "");
  EXPECT_EQ(http_request(port(), "DELETE", kSubscriptions + "/" + id, bearer(kAdminToken)).status, 200);
}

TEST_F(AuthTest, TenantsSeeOnlyTheirOwnSubscriptions) {
  auto make = [](const std::string& tenant, const std::string& callback) {
    return http_request(port(), "POST", kSubscriptions,
                        {{"Authorization", "Bearer " + token(claims({"subscriber"}, "smo-" + tenant, tenant))},
                         {"Content-Type", "application/json"}},
                        json{{"callback", callback}}.dump());
  };
  auto a = make("tenant-a", "http://127.0.0.1:9/a");
  ASSERT_EQ(a.status, 201) << a.body;
  const std::string id = a.json()["subscriptionId"];
  // The same callback in another tenant is not a duplicate of a's.
  auto b = make("tenant-b", "http://127.0.0.1:9/a");
  ASSERT_EQ(b.status, 201) << b.body;
  const std::string b_id = b.json()["subscriptionId"];

  auto as_b = bearer(token(claims({"subscriber"}, "smo-tenant-b", "tenant-b")));
  auto list_b = get(kSubscriptions, as_b);
  ASSERT_EQ(list_b.status, 200);
  EXPECT_EQ(list_b.body.find(id), std::string::npos) << list_b.body;
  EXPECT_NE(list_b.body.find(b_id), std::string::npos) << list_b.body;
  EXPECT_EQ(get(kSubscriptions + "/" + id, as_b).status, 404);
  EXPECT_EQ(http_request(port(), "DELETE", kSubscriptions + "/" + id, as_b).status, 404);

  auto as_a = bearer(token(claims({"subscriber"}, "smo-tenant-a", "tenant-a")));
  EXPECT_EQ(get(kSubscriptions + "/" + id, as_a).status, 200);
  // An admin sees every tenant's.
  auto all = get(kSubscriptions, bearer(kAdminToken));
  EXPECT_NE(all.body.find(id), std::string::npos);
  EXPECT_NE(all.body.find(b_id), std::string::npos);
  EXPECT_EQ(http_request(port(), "DELETE", kSubscriptions + "/" + id, as_a).status, 200);
  EXPECT_EQ(http_request(port(), "DELETE", kSubscriptions + "/" + b_id, as_b).status, 200);
}

TEST_F(AuthTest, RateLimitAnswers429WithRetryAfterThenRecovers) {
  // The admin class allows a burst of 2 at 1 per second, per identity.
  auto as_admin = bearer(kAdminToken);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // earlier tests may have used the bucket
  auto first = get("/admin/v1/adapters", as_admin);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("RateLimit-Limit"), "2");
  EXPECT_EQ(first.header("RateLimit-Remaining"), "1");
  EXPECT_EQ(get("/admin/v1/adapters", as_admin).status, 200);
  auto refused = get("/admin/v1/adapters", as_admin);
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(refused.header("RateLimit-Remaining"), "0");
  EXPECT_FALSE(refused.header("RateLimit-Policy").empty());
  EXPECT_NE(refused.json().value("detail", "").find("rate limit"), std::string::npos);
  // Another identity is not affected.
  EXPECT_EQ(get("/admin/v1/adapters", bearer(token(claims({"admin"})))).status, 200);
  // Recovered after Retry-After.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(get("/admin/v1/adapters", as_admin).status, 200);
}

TEST_F(AuthTest, AuditLogRecordsFailuresAndMutationsWithoutSecrets) {
  const std::string bad = issuer_->forged(claims({"admin"}, "mallory"), "rsa-1");
  EXPECT_EQ(get(kCloud, bearer(bad)).status, 401);
  const std::string good = token(claims({"subscriber"}, "audited-smo"));
  auto created = http_request(port(), "POST", kSubscriptions,
                              {{"Authorization", "Bearer " + good}, {"Content-Type", "application/json"}},
                              json{{"callback", "http://127.0.0.1:9/audit"}}.dump());
  ASSERT_EQ(created.status, 201);
  const std::string id = created.json()["subscriptionId"];
  EXPECT_EQ(http_request(port(), "DELETE", kSubscriptions + "/" + id, bearer(good)).status, 200);
  EXPECT_EQ(get("/admin/v1/adapters", bearer(token(claims({"reader"}, "nosy-reader")))).status, 403);

  bool found_failure = false, found_create = false, found_delete = false, found_forbidden = false;
  ASSERT_TRUE(eventually(
      [&] {
        found_failure = found_create = found_delete = found_forbidden = false;
        std::istringstream lines(audit_log());
        for (std::string line; std::getline(lines, line);) {
          json r = json::parse(line, nullptr, false);
          if (!r.is_object()) continue;
          if (r.value("outcome", "") == "unauthenticated" && r.value("reason", "") == "bad_signature") {
            found_failure = true;
          }
          if (r.value("subject", "") == "audited-smo" && r.value("method", "") == "POST" &&
              r.value("status", 0) == 201 && r.value("outcome", "") == "allowed" &&
              r.value("route", "") == kSubscriptions) {
            found_create = true;
          }
          if (r.value("subject", "") == "audited-smo" && r.value("method", "") == "DELETE" &&
              r.value("status", 0) == 200) {
            found_delete = true;
          }
          if (r.value("subject", "") == "nosy-reader" && r.value("outcome", "") == "forbidden" &&
              r.value("status", 0) == 403) {
            found_forbidden = true;
          }
        }
        return found_failure && found_create && found_delete && found_forbidden;
      },
      5s))
      << audit_log();
  // No credential reaches the audit log or the log.
  const std::string audit = audit_log();
  for (const std::string& secret : {bad, good, kStaticToken, kAdminToken, kSecret}) {
    EXPECT_EQ(audit.find(secret), std::string::npos);
    EXPECT_EQ(gateway_->log().find(secret), std::string::npos);
    EXPECT_EQ(gateway_->access_log().find(secret), std::string::npos);
  }
  // Reads that were let through are not audited (refused ones are).
  std::istringstream lines(audit);
  for (std::string line; std::getline(lines, line);) {
    json r = json::parse(line, nullptr, false);
    ASSERT_TRUE(r.is_object()) << line;
    EXPECT_FALSE(r.value("method", "") == "GET" && r.value("outcome", "") == "allowed") << line;
  }
}

TEST_F(AuthTest, MetricsCountRefusals) {
  EXPECT_EQ(get(kCloud).status, 401);
  auto m = get("/metrics", bearer(token(claims({"admin"}, "metrics-scraper"))));
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("o2gw_auth_failures_total{reason=\"missing\"}"), std::string::npos);
  EXPECT_NE(m.body.find("o2gw_authz_denied_total"), std::string::npos);
}

}  // namespace
}  // namespace o2gw::test
