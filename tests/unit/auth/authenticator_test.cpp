// The Authenticator end to end without a server: JWTs from the test issuer
// against a JWKS file in a temp dir (and a JWKS URL on a loopback server), static
// API tokens, client certificates and a trusted proxy's identity header.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/jwt_issuer.hpp"
#include "../net/loopback_server.hpp"
#include "o2gw/auth.hpp"
#include "o2gw/config.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/metrics.hpp"

namespace o2gw {
namespace {

using test::JwtIssuer;
using namespace std::chrono_literals;

constexpr const char* kIssuer = "https://idp.example";
constexpr const char* kAudience = "o2gw";

http::Request request_from(const std::string& peer_ip = "127.0.0.1") {
  http::Request req;
  req.path = "/o2ims-infrastructureInventory/v1";
  auto conn = std::make_shared<http::ConnectionInfo>();
  conn->peer_ip = peer_ip;
  req.conn = conn;
  return req;
}

http::Request bearer(const std::string& token) {
  auto req = request_from();
  req.headers.push_back({"Authorization", "Bearer " + token});
  return req;
}

// Runs authenticate() and requires it to complete before returning.
AuthOutcome run(Authenticator& auth, const http::Request& req) {
  std::optional<AuthOutcome> out;
  auth.authenticate(req, [&](AuthOutcome o) { out = std::move(o); });
  EXPECT_TRUE(out.has_value()) << "authenticate() did not complete synchronously";
  return out.value_or(AuthOutcome{});
}

// Collects an outcome delivered on another thread.
struct PendingOutcome {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<AuthOutcome> outcome;
  std::function<void(AuthOutcome)> callback() {
    return [this](AuthOutcome o) {
      std::lock_guard lock(mu);
      outcome = std::move(o);
      cv.notify_all();
    };
  }
  bool done() {
    std::lock_guard lock(mu);
    return outcome.has_value();
  }
  AuthOutcome wait() {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return outcome.has_value(); })) << "no outcome within 10 s";
    return outcome.value_or(AuthOutcome{});
  }
};

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Key generation is the slow part; one issuer serves the suite.
    issuer_ = new JwtIssuer();
    issuer_->add_key("rsa1", JwtIssuer::KeyType::rsa);
    issuer_->add_key("ec1", JwtIssuer::KeyType::ec);
  }
  static void TearDownTestSuite() {
    delete issuer_;
    issuer_ = nullptr;
  }

  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("o2gw-auth-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    write_jwks(issuer_->jwks());
    cfg_.enabled = true;
    cfg_.jwt.enabled = true;
    cfg_.jwt.issuer = kIssuer;
    cfg_.jwt.audiences = {kAudience};
    cfg_.jwt.jwks_file = jwks_path();
    cfg_.jwt.jwks_min_refresh_interval = 0s;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  [[nodiscard]] std::filesystem::path jwks_path() const { return dir_ / "jwks.json"; }
  void write_jwks(const std::string& text) const {
    // Written aside and renamed, as a key-rotation job would.
    const auto tmp = dir_ / "jwks.json.tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, jwks_path());
  }

  static nlohmann::json claims(long lifetime = 3600) { return JwtIssuer::claims(kIssuer, kAudience, "smo", lifetime); }

  static void expect_refused(const AuthOutcome& out, const std::string& reason, const std::string& detail = "") {
    EXPECT_EQ(out.kind, AuthOutcome::Kind::failed) << reason;
    EXPECT_EQ(out.status, 401) << reason;
    EXPECT_EQ(out.error, "invalid_token") << reason;
    EXPECT_EQ(out.reason, reason);
    if (!detail.empty()) {
      EXPECT_EQ(out.detail, detail);
    }
    EXPECT_EQ(out.principal, nullptr);
  }

  static JwtIssuer* issuer_;
  std::filesystem::path dir_;
  AuthConfig cfg_;
};
JwtIssuer* AuthenticatorTest::issuer_ = nullptr;

TEST_F(AuthenticatorTest, AcceptsValidRs256AndEs256Tokens) {
  Authenticator auth(cfg_, nullptr, nullptr);
  EXPECT_EQ(auth.known_keys(), 2u);
  for (const char* kid : {"rsa1", "ec1"}) {
    auto c = claims();
    c["roles"] = {"reader"};
    auto out = run(auth, bearer(issuer_->sign(c, kid)));
    ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated) << kid << ": " << out.detail;
    ASSERT_NE(out.principal, nullptr);
    EXPECT_EQ(out.principal->method, Principal::Method::jwt);
    EXPECT_EQ(out.principal->subject, "smo");
    EXPECT_TRUE(out.principal->roles.has(Role::reader));
    EXPECT_FALSE(out.principal->roles.has(Role::admin));
    EXPECT_EQ(std::chrono::system_clock::to_time_t(out.principal->expires), c["exp"].get<std::time_t>());
  }
}

TEST_F(AuthenticatorTest, BearerSchemeIsCaseInsensitive) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto req = request_from();
  req.headers.push_back({"authorization", "bEaReR   " + issuer_->sign(claims(), "ec1")});
  EXPECT_EQ(run(auth, req).kind, AuthOutcome::Kind::authenticated);
}

TEST_F(AuthenticatorTest, RefusesExpiredAndNotYetValidTokens) {
  cfg_.jwt.leeway = 30s;
  Authenticator auth(cfg_, nullptr, nullptr);
  const double now = now_seconds();
  auto c = claims();
  c["exp"] = now - 40;
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "expired", "the token has expired");
  c = claims();
  c["nbf"] = now + 40;
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "not_yet_valid", "the token is not valid yet");
  c = claims();
  c["iat"] = now + 40;
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "not_yet_valid");
}

TEST_F(AuthenticatorTest, HonoursLeewayOnBothSides) {
  cfg_.jwt.leeway = 30s;
  Authenticator auth(cfg_, nullptr, nullptr);
  const double now = now_seconds();
  auto c = claims();
  c["exp"] = now - 10;
  EXPECT_EQ(run(auth, bearer(issuer_->sign(c, "rsa1"))).kind, AuthOutcome::Kind::authenticated);
  c = claims();
  c["nbf"] = now + 10;
  c["iat"] = now + 10;
  EXPECT_EQ(run(auth, bearer(issuer_->sign(c, "rsa1"))).kind, AuthOutcome::Kind::authenticated);
}

TEST_F(AuthenticatorTest, RefusesMissingOrNonNumericDates) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto c = claims();
  c.erase("exp");
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "malformed");
  c = claims();
  c["exp"] = "tomorrow";
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "malformed");
  c = claims();
  c["nbf"] = nlohmann::json::array();
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "malformed");
}

TEST_F(AuthenticatorTest, ChecksIssuerAndAudience) {
  cfg_.jwt.audiences = {"other", kAudience};
  Authenticator auth(cfg_, nullptr, nullptr);
  auto c = claims();
  c["iss"] = "https://idp.example/";  // exact match only
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "issuer", "unexpected issuer");
  c = claims();
  c["aud"] = "someone-else";
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "audience", "the token is not meant for this audience");
  c["aud"] = {"a", "b"};
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "audience");
  c["aud"] = {"a", kAudience};
  EXPECT_EQ(run(auth, bearer(issuer_->sign(c, "rsa1"))).kind, AuthOutcome::Kind::authenticated);
  c.erase("aud");
  expect_refused(run(auth, bearer(issuer_->sign(c, "rsa1"))), "audience");
}

TEST_F(AuthenticatorTest, RefusesForgedAndHostileTokens) {
  Metrics metrics;
  Authenticator auth(cfg_, nullptr, &metrics);
  expect_refused(run(auth, bearer(issuer_->forged(claims(), "rsa1"))), "bad_signature",
                 "signature verification failed");
  expect_refused(run(auth, bearer(issuer_->forged(claims(), "ec1"))), "bad_signature");
  expect_refused(run(auth, bearer(issuer_->unsigned_token(claims(), "rsa1"))), "alg", "unsupported alg 'none'");
  expect_refused(run(auth, bearer(issuer_->hs256_with_public_key(claims(), "rsa1"))), "alg", "unsupported alg 'HS256'");
  // alg confusion: the header claims ES256 but names the RSA key.
  expect_refused(run(auth, bearer(issuer_->sign(claims(), "ec1", {{"kid", "rsa1"}}))), "bad_signature");
  expect_refused(run(auth, bearer("abc.def")), "malformed", "malformed token");
  expect_refused(run(auth, bearer("a.b.c")), "malformed");
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(o2gw_auth_failures_total{reason="bad_signature"} 3)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(o2gw_auth_failures_total{reason="alg"} 2)"), std::string::npos);
}

TEST_F(AuthenticatorTest, RefusesAlgorithmsNotConfigured) {
  cfg_.jwt.algorithms = {"ES256"};
  Authenticator auth(cfg_, nullptr, nullptr);
  expect_refused(run(auth, bearer(issuer_->sign(claims(), "rsa1"))), "alg", "unsupported alg 'RS256'");
  EXPECT_EQ(run(auth, bearer(issuer_->sign(claims(), "ec1"))).kind, AuthOutcome::Kind::authenticated);
}

TEST_F(AuthenticatorTest, KidIsRequiredOnlyWhenThereIsAChoice) {
  Authenticator two_keys(cfg_, nullptr, nullptr);
  expect_refused(run(two_keys, bearer(issuer_->sign(claims(), "ec1", {{"kid", nullptr}}))), "unknown_kid");

  JwtIssuer single;
  single.add_key("only", JwtIssuer::KeyType::ec);
  write_jwks(single.jwks());
  Authenticator one_key(cfg_, nullptr, nullptr);
  EXPECT_EQ(run(one_key, bearer(single.sign(claims(), "only", {{"kid", nullptr}}))).kind,
            AuthOutcome::Kind::authenticated);
}

TEST_F(AuthenticatorTest, RereadsTheJwksFileOnAnUnknownKid) {
  Metrics metrics;
  Authenticator auth(cfg_, nullptr, &metrics);
  JwtIssuer rotated;
  rotated.add_key("rsa2", JwtIssuer::KeyType::rsa);
  const std::string token = rotated.sign(claims(), "rsa2");
  expect_refused(run(auth, bearer(token)), "unknown_kid", "unknown signing key id");

  write_jwks(rotated.jwks());
  auto out = run(auth, bearer(token));
  EXPECT_EQ(out.kind, AuthOutcome::Kind::authenticated) << out.detail;
  EXPECT_EQ(auth.known_keys(), 1u);
  // The old keys are gone with the rotation.
  expect_refused(run(auth, bearer(issuer_->sign(claims(), "rsa1"))), "unknown_kid");

  // A broken file keeps the current keys.
  write_jwks("{ not json");
  expect_refused(run(auth, bearer(issuer_->sign(claims(), "ec1"))), "unknown_kid");
  EXPECT_EQ(auth.known_keys(), 1u);
  EXPECT_NE(metrics.render().find(R"(o2gw_jwks_refreshes_total{outcome="failed"} 1)"), std::string::npos);
}

TEST_F(AuthenticatorTest, RateLimitsRereadsOnUnknownKids) {
  cfg_.jwt.jwks_min_refresh_interval = 3600s;
  Authenticator auth(cfg_, nullptr, nullptr);
  JwtIssuer rotated;
  rotated.add_key("rsa2", JwtIssuer::KeyType::rsa);
  write_jwks(rotated.jwks());
  // The first unknown kid may re-read.
  EXPECT_EQ(run(auth, bearer(rotated.sign(claims(), "rsa2"))).kind, AuthOutcome::Kind::authenticated);
  // A second one within the interval may not, although the file now has its key.
  rotated.add_key("ec2", JwtIssuer::KeyType::ec);
  write_jwks(rotated.jwks());
  expect_refused(run(auth, bearer(rotated.sign(claims(), "ec2"))), "unknown_kid");
  EXPECT_EQ(auth.known_keys(), 1u);
}

TEST_F(AuthenticatorTest, RefusesOversizedTokensBeforeDecoding) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto c = claims();
  c["padding"] = std::string(9000, 'x');
  expect_refused(run(auth, bearer(issuer_->sign(c, "ec1"))), "too_large", "the token exceeds 8192 bytes");
  expect_refused(run(auth, bearer(std::string(8193, 'a'))), "too_large");
}

TEST_F(AuthenticatorTest, RefusesTokenInQueryString) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto req = bearer(issuer_->sign(claims(), "ec1"));
  req.query = "filter=(eq,name,x)&access_token=abc";
  auto out = run(auth, req);
  EXPECT_EQ(out.kind, AuthOutcome::Kind::failed);
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(out.error, "invalid_request");
  EXPECT_EQ(out.reason, "token_in_query");
  EXPECT_EQ(out.detail, "credentials in the query string are refused; send them in the Authorization header");
  req.query = "filter=(eq,name,access_token)";
  EXPECT_EQ(run(auth, req).kind, AuthOutcome::Kind::authenticated);
}

TEST_F(AuthenticatorTest, RefusesOtherSchemesAndEmptyBearer) {
  Authenticator auth(cfg_, nullptr, nullptr);
  for (const char* value : {"Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"}) {
    auto req = request_from();
    req.headers.push_back({"Authorization", value});
    auto out = run(auth, req);
    EXPECT_EQ(out.kind, AuthOutcome::Kind::failed) << value;
    EXPECT_EQ(out.status, 401) << value;
    EXPECT_EQ(out.error, "invalid_request") << value;
    EXPECT_EQ(out.detail.find("dXNlcjpwYXNz"), std::string::npos);
  }
}

TEST_F(AuthenticatorTest, NoCredentialsIsAnonymous) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto out = run(auth, request_from());
  EXPECT_EQ(out.kind, AuthOutcome::Kind::anonymous);
  EXPECT_EQ(out.principal, nullptr);
}

TEST_F(AuthenticatorTest, StaticApiTokens) {
  cfg_.api_tokens = {{"ci-bot", JwtIssuer::sha256_hex("s3cr3t-api-token"), {"reader", "subscriber"}, "tenant-a"},
                     {"ops", JwtIssuer::sha256_hex("another-token"), {"admin"}, ""}};
  Authenticator auth(cfg_, nullptr, nullptr);
  auto out = run(auth, bearer("s3cr3t-api-token"));
  ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
  EXPECT_EQ(out.principal->method, Principal::Method::api_token);
  EXPECT_EQ(out.principal->subject, "ci-bot");
  EXPECT_EQ(out.principal->tenant, "tenant-a");
  EXPECT_TRUE(out.principal->roles.has(Role::subscriber));
  EXPECT_FALSE(out.principal->roles.has(Role::admin));
  EXPECT_EQ(run(auth, bearer("another-token")).principal->subject, "ops");
  auto bad = run(auth, bearer("s3cr3t-api-tokeN"));
  expect_refused(bad, "unknown_api_token");
  EXPECT_EQ(bad.detail.find("s3cr3t"), std::string::npos);
}

TEST_F(AuthenticatorTest, ConfigErrorsNameTheKey) {
  auto key_of = [](const AuthConfig& cfg) {
    try {
      Authenticator auth(cfg, nullptr, nullptr);
    } catch (const ConfigError& e) {
      return e.key();
    }
    return std::string("no error");
  };
  auto cfg = cfg_;
  cfg.jwt.jwks_file = dir_ / "missing.json";
  EXPECT_EQ(key_of(cfg), "auth.jwt.jwks_file");
  write_jwks(R"({"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]})");
  EXPECT_EQ(key_of(cfg_), "auth.jwt.jwks_file");
  write_jwks(issuer_->jwks());
  cfg = cfg_;
  cfg.jwt.algorithms = {"HS256"};
  EXPECT_EQ(key_of(cfg), "auth.jwt.algorithms");
  cfg = cfg_;
  cfg.jwt.jwks_file.clear();
  cfg.jwt.jwks_url = "http://jwks.example/keys";
  EXPECT_EQ(key_of(cfg), "auth.jwt.jwks_url");
  cfg = cfg_;
  cfg.api_tokens = {{"x", "not-hex", {"reader"}, ""}};
  EXPECT_EQ(key_of(cfg), "auth.api_tokens[0].sha256");
  cfg = cfg_;
  cfg.trusted_proxies = {"10.0.0.0/33"};
  EXPECT_EQ(key_of(cfg), "auth.trusted_proxies[0]");
  EXPECT_EQ(key_of(cfg_), "no error");
}

TEST_F(AuthenticatorTest, RolesFromArrayScopeStringRoleMapAndDottedPath) {
  cfg_.jwt.role_map = {{"o2ims:admin", "admin"}, {"o2ims-read", "reader"}};
  {
    Authenticator auth(cfg_, nullptr, nullptr);
    auto c = claims();
    c["roles"] = {"subscriber", "o2ims:admin", "no-such-role", 7};
    auto out = run(auth, bearer(issuer_->sign(c, "ec1")));
    ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
    EXPECT_EQ(out.principal->roles.bits, (RoleSet{Role::subscriber, Role::admin}.bits));
  }
  {
    cfg_.jwt.roles_claim = "scope";
    Authenticator auth(cfg_, nullptr, nullptr);
    auto c = claims();
    c["scope"] = "openid o2ims-read  deployer";
    auto out = run(auth, bearer(issuer_->sign(c, "ec1")));
    ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
    EXPECT_EQ(out.principal->roles.bits, (RoleSet{Role::reader, Role::deployer}.bits));
  }
  {
    cfg_.jwt.roles_claim = "realm_access.roles";
    cfg_.jwt.tenant_claim = "org.tenant";
    Authenticator auth(cfg_, nullptr, nullptr);
    auto c = claims();
    c["realm_access"] = {{"roles", {"maintainer"}}};
    c["org"] = {{"tenant", "tenant-42"}};
    c["roles"] = {"admin"};  // not the configured claim
    auto out = run(auth, bearer(issuer_->sign(c, "ec1")));
    ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
    EXPECT_EQ(out.principal->roles.bits, (RoleSet{Role::maintainer}.bits));
    EXPECT_EQ(out.principal->tenant, "tenant-42");
  }
}

TEST_F(AuthenticatorTest, SubjectFromConfiguredClaim) {
  cfg_.jwt.subject_claim = "client_id";
  Authenticator auth(cfg_, nullptr, nullptr);
  auto c = claims();
  c["client_id"] = "smo-client";
  EXPECT_EQ(run(auth, bearer(issuer_->sign(c, "ec1"))).principal->subject, "smo-client");
  c.erase("client_id");
  expect_refused(run(auth, bearer(issuer_->sign(c, "ec1"))), "malformed");
}

TEST_F(AuthenticatorTest, CacheReturnsTheSamePrincipalUntilExpiry) {
  cfg_.jwt.leeway = 0s;
  Authenticator auth(cfg_, nullptr, nullptr);
  const std::string token = issuer_->sign(claims(), "rsa1");
  auto first = run(auth, bearer(token));
  auto second = run(auth, bearer(token));
  ASSERT_NE(first.principal, nullptr);
  EXPECT_EQ(first.principal.get(), second.principal.get());
  EXPECT_EQ(auth.cached_tokens(), 1u);

  // A token expiring a fraction of a second from now (dates may be fractional).
  auto c = claims();
  const double exp = now_seconds() + 0.3;
  c["exp"] = exp;
  const std::string short_lived = issuer_->sign(c, "ec1");
  ASSERT_EQ(run(auth, bearer(short_lived)).kind, AuthOutcome::Kind::authenticated);
  EXPECT_EQ(auth.cached_tokens(), 2u);
  ASSERT_TRUE(wait_until([&] { return now_seconds() > exp + 0.01; }));
  expect_refused(run(auth, bearer(short_lived)), "expired");
  EXPECT_EQ(auth.cached_tokens(), 1u);
}

TEST_F(AuthenticatorTest, CacheStaysBounded) {
  cfg_.jwt.cache_entries = 32;
  Authenticator auth(cfg_, nullptr, nullptr);
  for (int i = 0; i < 200; ++i) {
    auto c = claims();
    c["n"] = i;
    ASSERT_EQ(run(auth, bearer(issuer_->sign(c, "ec1"))).kind, AuthOutcome::Kind::authenticated);
  }
  EXPECT_LE(auth.cached_tokens(), 32u);
  EXPECT_GT(auth.cached_tokens(), 0u);
}

TEST_F(AuthenticatorTest, ConcurrentCallersShareTheCache) {
  Authenticator auth(cfg_, nullptr, nullptr);
  const std::string token = issuer_->sign(claims(), "rsa1");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auth.authenticate(bearer(token), [&](AuthOutcome o) {
          if (o.kind == AuthOutcome::Kind::authenticated) ++ok;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
  EXPECT_EQ(auth.cached_tokens(), 1u);
}

class IdentityTest : public AuthenticatorTest {
 protected:
  void SetUp() override {
    AuthenticatorTest::SetUp();
    cfg_.client_identities = {{"CN=smo,O=Operator", "", {"reader"}, "tenant-a"},
                              {"", "URI:spiffe://operator/smo-admin", {"admin"}, ""}};
    cfg_.trusted_proxies = {"10.0.0.0/8", "::1", "2001:db8::/32"};
  }
  static http::Request with_cert(std::string subject, std::vector<std::string> sans) {
    auto req = request_from("192.0.2.10");
    auto conn = std::make_shared<http::ConnectionInfo>(*req.conn);
    conn->tls = true;
    conn->client_subject = std::move(subject);
    conn->client_sans = std::move(sans);
    req.conn = conn;
    return req;
  }
  static http::Request from_proxy(const std::string& peer, const std::string& subject) {
    auto req = request_from(peer);
    req.headers.push_back({"X-Client-Subject", subject});
    return req;
  }
};

TEST_F(IdentityTest, ClientCertificateSubjectAndSanRules) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto out = run(auth, with_cert("CN=smo,O=Operator", {"DNS:smo.example"}));
  ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
  EXPECT_EQ(out.principal->method, Principal::Method::client_certificate);
  EXPECT_EQ(out.principal->subject, "CN=smo,O=Operator");
  EXPECT_EQ(out.principal->roles.bits, (RoleSet{Role::reader}.bits));
  EXPECT_EQ(out.principal->tenant, "tenant-a");

  out = run(auth, with_cert("CN=other", {"DNS:x.example", "URI:spiffe://operator/smo-admin"}));
  ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
  EXPECT_TRUE(out.principal->roles.has(Role::admin));

  // Verified but unknown: authenticated with no roles (authorization refuses it later).
  out = run(auth, with_cert("CN=stranger", {"DNS:stranger.example"}));
  ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
  EXPECT_EQ(out.principal->subject, "CN=stranger");
  EXPECT_TRUE(out.principal->roles.empty());
}

TEST_F(IdentityTest, BearerTokenWinsOverClientCertificate) {
  Authenticator auth(cfg_, nullptr, nullptr);
  auto req = with_cert("CN=smo,O=Operator", {});
  req.headers.push_back({"Authorization", "Bearer " + issuer_->sign(claims(), "ec1")});
  EXPECT_EQ(run(auth, req).principal->method, Principal::Method::jwt);
}

TEST_F(IdentityTest, ProxyHeaderIsBelievedOnlyFromTrustedPeers) {
  Metrics metrics;
  Authenticator auth(cfg_, nullptr, &metrics);
  for (const char* peer : {"10.1.2.3", "::1", "2001:db8:1::5", "::ffff:10.9.9.9"}) {
    auto out = run(auth, from_proxy(peer, "CN=smo,O=Operator"));
    ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated) << peer;
    EXPECT_EQ(out.principal->method, Principal::Method::trusted_proxy) << peer;
    EXPECT_TRUE(out.principal->roles.has(Role::reader)) << peer;
    EXPECT_EQ(out.principal->tenant, "tenant-a");
  }
  for (const char* peer : {"192.168.1.1", "11.0.0.1", "::2", "2001:db9::1", ""}) {
    auto out = run(auth, from_proxy(peer, "CN=smo,O=Operator"));
    EXPECT_EQ(out.kind, AuthOutcome::Kind::anonymous) << peer;
  }
  EXPECT_NE(metrics.render().find(R"(o2gw_auth_failures_total{reason="untrusted_identity_header"} 5)"),
            std::string::npos);
  // A trusted proxy vouching for an unknown subject: authenticated, no roles.
  auto out = run(auth, from_proxy("10.0.0.1", "CN=nobody"));
  ASSERT_EQ(out.kind, AuthOutcome::Kind::authenticated);
  EXPECT_TRUE(out.principal->roles.empty());
}

class JwksUrlTest : public AuthenticatorTest {
 protected:
  void SetUp() override {
    AuthenticatorTest::SetUp();
    set_jwks(issuer_->jwks());
    cfg_.jwt.jwks_file.clear();
    cfg_.jwt.jwks_url = server_.url("/jwks");
  }
  void set_jwks(std::string body, int status = 200, std::chrono::milliseconds delay = 0ms) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
    status_ = status;
    delay_ = delay;
  }
  test::ServerReply reply() {
    ++fetches_;
    std::lock_guard lock(mu_);
    test::ServerReply r;
    r.status = status_;
    r.body = body_;
    r.delay = delay_;
    r.headers.push_back({"Content-Type", "application/json"});
    return r;
  }

  std::mutex mu_;
  std::string body_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  std::atomic<int> fetches_{0};
  test::LoopbackServer server_{[this](const test::SeenRequest&) { return reply(); }};
  net::EventLoop loop_{1, "jwks-test"};
  net::HttpClient client_{loop_};
};

TEST_F(JwksUrlTest, FetchesAtStartAndWaitsForARefreshOnAnUnknownKid) {
  Metrics metrics;
  Authenticator auth(cfg_, &client_, &metrics);
  EXPECT_EQ(auth.known_keys(), 0u);
  auth.start();
  ASSERT_TRUE(wait_until([&] { return auth.known_keys() == 2; }));
  EXPECT_EQ(run(auth, bearer(issuer_->sign(claims(), "rsa1"))).kind, AuthOutcome::Kind::authenticated);
  const int fetches_before = fetches_.load();

  // Rotate: a new key appears at the URL; the request waits for the refetch.
  JwtIssuer rotated;
  rotated.add_key("ec2", JwtIssuer::KeyType::ec);
  set_jwks(rotated.jwks(), 200, 200ms);
  PendingOutcome pending;
  auth.authenticate(bearer(rotated.sign(claims(), "ec2")), pending.callback());
  EXPECT_FALSE(pending.done()) << "should wait for the JWKS fetch";
  auto out = pending.wait();
  EXPECT_EQ(out.kind, AuthOutcome::Kind::authenticated) << out.detail;
  EXPECT_EQ(fetches_.load(), fetches_before + 1);
  EXPECT_EQ(auth.known_keys(), 1u);

  // A failed fetch keeps the current keys and the unknown kid is refused.
  set_jwks("oops", 500);
  PendingOutcome failed;
  auth.authenticate(bearer(issuer_->sign(claims(), "ec1")), failed.callback());
  expect_refused(failed.wait(), "unknown_kid");
  EXPECT_EQ(auth.known_keys(), 1u);
  EXPECT_EQ(run(auth, bearer(rotated.sign(claims(5000), "ec2"))).kind, AuthOutcome::Kind::authenticated);
  ASSERT_TRUE(wait_until(
      [&] { return metrics.render().find(R"(o2gw_jwks_refreshes_total{outcome="failed"} 1)") != std::string::npos; }));
  auth.stop();
}

TEST_F(JwksUrlTest, UnknownKidWithinTheIntervalDoesNotRefetch) {
  cfg_.jwt.jwks_min_refresh_interval = 3600s;
  Authenticator auth(cfg_, &client_, nullptr);
  auth.start();
  ASSERT_TRUE(wait_until([&] { return auth.known_keys() == 2; }));
  const int fetches_before = fetches_.load();
  PendingOutcome first;
  auth.authenticate(bearer(issuer_->sign(claims(), "rsa1", {{"kid", "nope"}})), first.callback());
  expect_refused(first.wait(), "unknown_kid");
  EXPECT_EQ(fetches_.load(), fetches_before + 1);
  // The second unknown kid is refused at once, without a fetch.
  expect_refused(run(auth, bearer(issuer_->sign(claims(), "rsa1", {{"kid", "nope2"}}))), "unknown_kid");
  EXPECT_EQ(fetches_.load(), fetches_before + 1);
}

TEST_F(JwksUrlTest, PeriodicRefreshPicksUpNewKeys) {
  cfg_.jwt.jwks_refresh_interval = 1s;
  cfg_.jwt.jwks_min_refresh_interval = 3600s;
  Authenticator auth(cfg_, &client_, nullptr);
  auth.start();
  ASSERT_TRUE(wait_until([&] { return auth.known_keys() == 2; }));
  JwtIssuer rotated;
  rotated.add_key("a", JwtIssuer::KeyType::ec);
  rotated.add_key("b", JwtIssuer::KeyType::ec);
  rotated.add_key("c", JwtIssuer::KeyType::rsa);
  set_jwks(rotated.jwks());
  EXPECT_TRUE(wait_until([&] { return auth.known_keys() == 3; }, 5s));
  auth.stop();
}

}  // namespace
}  // namespace o2gw
