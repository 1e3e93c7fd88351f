// The server.tls, server.ops_listen, auth, rate_limit and audit sections.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "o2gw/config.hpp"

namespace o2gw {
namespace {

using json = nlohmann::json;

const std::string kHash(64, 'a');

std::string error_key(const json& doc) {
  try {
    (void)parse_config(doc);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "(no error)";
}

TEST(SecurityConfig, DefaultsAreOffWithAuditOn) {
  Config c = parse_config(json::object());
  EXPECT_FALSE(c.server.tls.enabled);
  EXPECT_FALSE(c.server.ops_enabled);
  EXPECT_FALSE(c.auth.enabled);
  EXPECT_FALSE(c.rate_limit.enabled);
  EXPECT_TRUE(c.audit.enabled);
  EXPECT_EQ(c.auth.anonymous_paths, (std::vector<std::string>{"/healthz", "/readyz"}));
}

TEST(SecurityConfig, TlsAndOpsListener) {
  Config c = parse_config(json{{"server",
                                {{"listen", "127.0.0.1:8443"},
                                 {"ops_listen", "127.0.0.1:9090"},
                                 {"tls",
                                  {{"cert_file", "/c.pem"},
                                   {"key_file", "/k.pem"},
                                   {"client_auth", "required"},
                                   {"client_ca_file", "/ca.pem"},
                                   {"reload_interval_ms", 500}}}}}});
  EXPECT_TRUE(c.server.tls.enabled);
  EXPECT_EQ(c.server.tls.min_version, "1.3");
  EXPECT_EQ(c.server.tls.client_auth, TlsServerConfig::ClientAuth::required);
  EXPECT_EQ(c.server.tls.reload_interval.count(), 500);
  EXPECT_TRUE(c.server.ops_enabled);
  EXPECT_EQ(c.server.ops_port, 9090);
  EXPECT_EQ(error_key(json{{"server", {{"tls", {{"cert_file", "/c.pem"}}}}}}), "server.tls.key_file");
  EXPECT_EQ(error_key(json{{"server", {{"tls", {{"cert_file", "/c"}, {"key_file", "/k"}, {"min_version", "1.1"}}}}}}),
            "server.tls.min_version");
  EXPECT_EQ(error_key(json{{"server", {{"tls", {{"cert_file", "/c"}, {"key_file", "/k"}, {"client_auth", "required"}}}}}}),
            "server.tls.client_ca_file");
  EXPECT_EQ(error_key(json{{"server", {{"tls", {{"client_auth", "optional"}, {"client_ca_file", "/ca"}}}}}}),
            "server.tls.client_auth");
  EXPECT_EQ(error_key(json{{"server", {{"ops_listen", "9090"}}}}), "server.ops_listen");
}

TEST(SecurityConfig, JwtSection) {
  Config c = parse_config(json{{"auth",
                                {{"enabled", true},
                                 {"jwt",
                                  {{"issuer", "https://idp"},
                                   {"audience", "o2gw"},
                                   {"jwks_file", "/jwks.json"},
                                   {"role_map", {{"o2-admins", "admin"}}},
                                   {"tenant_claim", "tenant"}}}}}});
  EXPECT_TRUE(c.auth.jwt.enabled);
  EXPECT_EQ(c.auth.jwt.audiences, (std::vector<std::string>{"o2gw"}));
  ASSERT_EQ(c.auth.jwt.role_map.size(), 1u);
  EXPECT_EQ(c.auth.jwt.role_map[0].second, "admin");
  EXPECT_EQ(c.auth.jwt.algorithms, (std::vector<std::string>{"RS256", "ES256"}));

  Config list = parse_config(
      json{{"auth", {{"jwt", {{"issuer", "i"}, {"audience", {"a", "b"}}, {"jwks_url", "https://idp/keys"}}}}}});
  EXPECT_EQ(list.auth.jwt.audiences, (std::vector<std::string>{"a", "b"}));

  EXPECT_EQ(error_key(json{{"auth", {{"jwt", {{"audience", "a"}, {"jwks_file", "/j"}}}}}}), "auth.jwt.issuer");
  EXPECT_EQ(error_key(json{{"auth", {{"jwt", {{"issuer", "i"}, {"jwks_file", "/j"}}}}}}), "auth.jwt.audience");
  EXPECT_EQ(error_key(json{{"auth", {{"jwt", {{"issuer", "i"}, {"audience", "a"}, {"jwks_file", "/j"},
                                               {"algorithms", {"HS256"}}}}}}}),
            "auth.jwt.algorithms[0]");
  EXPECT_EQ(error_key(json{{"auth", {{"jwt", {{"issuer", "i"}, {"audience", "a"}, {"jwks_file", "/j"},
                                               {"role_map", {{"x", "root"}}}}}}}}),
            "auth.jwt.role_map.x");
  EXPECT_EQ(error_key(json{{"auth", {{"jwt", {{"jwks_url", "ftp://x"}}}}}}), "auth.jwt.jwks_url");
}

TEST(SecurityConfig, TokensIdentitiesAndProxies) {
  Config c = parse_config(json{{"auth",
                                {{"enabled", true},
                                 {"api_tokens", {{{"name", "ci"}, {"sha256", std::string(64, 'A')}, {"roles", {"reader"}}}}},
                                 {"client_identities", {{{"san", "DNS:smo.example"}, {"roles", {"subscriber"}}}}},
                                 {"trusted_proxies", {"10.0.0.0/8", "::1"}}}}});
  EXPECT_EQ(c.auth.api_tokens[0].sha256, std::string(64, 'a'));  // stored lower-case
  EXPECT_EQ(c.auth.client_identities[0].san, "DNS:smo.example");
  EXPECT_EQ(error_key(json{{"auth", {{"api_tokens", {{{"name", "x"}, {"sha256", "abc"}, {"roles", {"reader"}}}}}}}}),
            "auth.api_tokens[0].sha256");
  EXPECT_EQ(error_key(json{{"auth", {{"api_tokens", {{{"name", "x"}, {"sha256", kHash}, {"roles", {"god"}}}}}}}}),
            "auth.api_tokens[0].roles");
  EXPECT_EQ(error_key(json{{"auth", {{"client_identities", {{{"subject", "CN=a"}, {"san", "DNS:a"}}}}}}}),
            "auth.client_identities[0]");
  EXPECT_EQ(error_key(json{{"auth", {{"trusted_proxies", {"10.0.0.0/33"}}}}}), "auth.trusted_proxies[0]");
  EXPECT_EQ(error_key(json{{"auth", {{"trusted_proxies", {"proxy.example"}}}}}), "auth.trusted_proxies[0]");
  // Enabled with no way to authenticate anyone is a mistake, not a locked door.
  EXPECT_EQ(error_key(json{{"auth", {{"enabled", true}}}}), "auth");
  EXPECT_EQ(error_key(json{{"auth", {{"anonymous_paths", {"healthz"}}}}}), "auth.anonymous_paths[0]");
}

TEST(SecurityConfig, RateLimitAndAudit) {
  Config c = parse_config(json{{"rate_limit", {{"enabled", true}, {"write", {{"rate", 5}, {"burst", 10}}}}},
                               {"audit", {{"path", "-"}}}});
  EXPECT_TRUE(c.rate_limit.enabled);
  EXPECT_EQ(c.rate_limit.write.rate, 5);
  EXPECT_EQ(c.rate_limit.write.burst, 10);
  EXPECT_EQ(c.rate_limit.read.burst, 400);
  EXPECT_EQ(c.audit.path, "-");
  EXPECT_EQ(error_key(json{{"rate_limit", {{"read", {{"burst", 0}}}}}}), "rate_limit.read.burst");
  EXPECT_EQ(error_key(json{{"rate_limit", {{"reads", {{"burst", 1}}}}}}), "rate_limit.reads");
}

TEST(SecurityConfig, EnvironmentOverridesReachTheNewSections) {
  std::string a = "O2GW_AUTH__ENABLED=true";
  std::string c = "O2GW_RATE_LIMIT__ENABLED=true";
  std::vector<char*> env{a.data(), c.data(), nullptr};
  // auth.enabled with nothing to authenticate with: the override reached the section.
  try {
    (void)load_config(std::nullopt, env.data());
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "auth");
  }
}

}  // namespace
}  // namespace o2gw
