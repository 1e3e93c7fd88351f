// Authentication: who is calling. Bearer JWTs (RS256/ES256, keys from a JWKS
// file or URL), static API tokens (stored hashed) and client-certificate
// identities (mTLS, or a trusted proxy's header). The result is a Principal with
// roles; authorization (o2gw/security.hpp) decides what it may do.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "o2gw/config.hpp"
#include "o2gw/http.hpp"

namespace o2gw {

class Metrics;
namespace net {
class HttpClient;
}

// The roles of the O2 ecosystem.
enum class Role : std::uint8_t { reader, subscriber, maintainer, deployer, provisioner, admin };
inline constexpr std::size_t kRoleCount = 6;
std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view name);

// A set of roles as bits (1 << Role).
struct RoleSet {
  std::uint8_t bits = 0;
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) bits |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(r));
  }
  [[nodiscard]] constexpr bool has(Role r) const { return (bits >> static_cast<unsigned>(r)) & 1u; }
  constexpr void add(Role r) { bits |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(r)); }
  [[nodiscard]] constexpr bool intersects(RoleSet o) const { return (bits & o.bits) != 0; }
  [[nodiscard]] constexpr bool empty() const { return bits == 0; }
  // "reader,subscriber"
  [[nodiscard]] std::string str() const;
};
// Role names to a set; throws ConfigError(key, ...) on an unknown name.
RoleSet parse_roles(const std::vector<std::string>& names, const std::string& key);

// An authenticated caller.
struct Principal {
  enum class Method { jwt, api_token, client_certificate, trusted_proxy };
  Method method = Method::jwt;
  std::string subject;  // JWT subject claim, API token name, or certificate subject/SAN
  RoleSet roles;
  std::string tenant;   // empty: none
  std::chrono::system_clock::time_point expires = std::chrono::system_clock::time_point::max();
  [[nodiscard]] std::string_view method_name() const;
};

// What authenticate() concluded.
struct AuthOutcome {
  enum class Kind {
    authenticated,  // principal is set
    anonymous,      // no credentials presented (the route may still allow it)
    failed          // credentials presented and refused: status/error/detail say why
  };
  Kind kind = Kind::anonymous;
  std::shared_ptr<const Principal> principal;
  int status = 401;    // 401, or 400 for a malformed request (a token in the query string)
  std::string error;   // RFC 6750 code for WWW-Authenticate: "invalid_request" or "invalid_token"
  std::string detail;  // public, never contains the credential
  std::string reason;  // short metric/audit label: "expired", "bad_signature", "unknown_kid", ...
};

// Verifies credentials. Thread-safe; one instance per process.
class Authenticator {
 public:
  // Reads JWKS files and checks the config; throws ConfigError. `client` (may be
  // null when jwt.jwks_url is empty) fetches the JWKS URL off the I/O threads.
  Authenticator(const AuthConfig& cfg, net::HttpClient* client, Metrics* metrics);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Completes synchronously (before returning) unless an unknown `kid` needs a
  // JWKS fetch over the network; then `done` runs later on the client's loop.
  void authenticate(const http::Request& req, std::function<void(AuthOutcome)> done);

  // Starts the periodic JWKS refresh (URL sources); a no-op for files.
  void start();
  void stop();

  // For tests and metrics.
  [[nodiscard]] std::size_t cached_tokens() const;
  [[nodiscard]] std::size_t known_keys() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// ---- Building blocks, public for unit tests and the fuzz target ----

// base64url without padding (RFC 7515 §2); false on a character outside the alphabet.
bool base64url_decode(std::string_view in, std::string& out);
std::string base64url_encode(std::string_view in);

// The three parts of a compact JWS, decoded. Fails (nullopt + why) on anything
// that is not exactly three base64url parts with JSON-object header and payload.
struct JwtParts {
  std::string header_json;
  std::string payload_json;
  std::string signing_input;  // "<b64 header>.<b64 payload>"
  std::string signature;      // raw bytes
};
std::optional<JwtParts> split_jwt(std::string_view token, std::string& why);

// A public key from a JWKS, ready for verification (an OpenSSL EVP_PKEY inside).
class JwkKey;
class JwkSet {
 public:
  JwkSet();
  ~JwkSet();
  JwkSet(JwkSet&&) noexcept;
  JwkSet& operator=(JwkSet&&) noexcept;
  // Parses {"keys":[...]}: RSA (n, e; at least 2048 bits) and EC P-256 (x, y)
  // signature keys. Keys that are unusable (other kty/crv, "use":"enc", missing
  // kid) are skipped and named in `skipped`; a document that is not a JWKS throws
  // std::invalid_argument.
  static JwkSet parse(std::string_view json_text, std::vector<std::string>* skipped = nullptr);
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] const JwkKey* find(std::string_view kid) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Verifies a JWS signature with `key` for `alg` ("RS256" or "ES256"). The key's
// type must match the algorithm (no HS256 with a public key, no alg confusion).
bool verify_jws_signature(const JwkKey& key, std::string_view alg, std::string_view signing_input,
                          std::string_view signature);

}  // namespace o2gw
