// A test token issuer: generates RSA-2048 and EC P-256 key pairs with OpenSSL,
// publishes their public halves as a JWKS, and signs JWTs with them. It also
// makes the hostile tokens the gateway must refuse (alg "none", HS256 keyed
// with the public key, a forged signature).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace o2gw::test {

class JwtIssuer {
 public:
  enum class KeyType { rsa, ec };
  JwtIssuer();
  ~JwtIssuer();
  JwtIssuer(const JwtIssuer&) = delete;
  JwtIssuer& operator=(const JwtIssuer&) = delete;

  // Generates a fresh key pair under `kid` (RS256 for rsa, ES256 for ec).
  void add_key(const std::string& kid, KeyType type);
  void remove_key(const std::string& kid);
  // {"keys":[...]}: the public JWK of every key held.
  [[nodiscard]] std::string jwks() const;

  // A compact JWS of `claims`, signed with `kid`. The header is
  // {"alg": RS256|ES256, "typ": "JWT", "kid": kid}, then `header_overrides`
  // merged over it (a null value removes a member).
  [[nodiscard]] std::string sign(const nlohmann::json& claims, const std::string& kid,
                                 const nlohmann::json& header_overrides = nlohmann::json::object()) const;
  // {"alg":"none"} with an empty signature.
  [[nodiscard]] std::string unsigned_token(const nlohmann::json& claims, const std::string& kid) const;
  // HS256 keyed with the public key of `kid` (its PEM text): the algorithm-confusion attack.
  [[nodiscard]] std::string hs256_with_public_key(const nlohmann::json& claims, const std::string& kid) const;
  // A valid token for `claims` with one signature byte flipped.
  [[nodiscard]] std::string forged(const nlohmann::json& claims, const std::string& kid) const;
  // The public key of `kid` as PEM.
  [[nodiscard]] std::string public_pem(const std::string& kid) const;

  // Claims with iss, aud, sub, iat, nbf and exp (now + lifetime seconds); add roles and more after.
  static nlohmann::json claims(const std::string& issuer, const std::string& audience, const std::string& subject,
                               long lifetime_seconds = 3600);
  // Lower-case hex SHA-256 (the form auth.api_tokens[].sha256 takes).
  static std::string sha256_hex(std::string_view data);

 private:
  struct Key;
  std::vector<Key*> keys_;
};

}  // namespace o2gw::test
