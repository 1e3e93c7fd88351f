// Fuzzes the JWS code that reads bearer tokens and JWKS documents: the input is
// split on NUL bytes into a token, a JWKS document and a raw signature. The token
// goes through split_jwt and, when it splits, its signature is checked with fixed
// RSA and EC keys under both algorithms; the JWKS goes through JwkSet::parse (whose
// only documented exception is std::invalid_argument) and any keys it yields check
// the token too. A crash, a sanitizer report or another exception is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "o2gw/auth.hpp"
#include "split_input.hpp"

namespace {

// A fixed RSA-2048 key and a P-256 key (public halves only, from a test issuer run).
constexpr const char* kFixedJwks = R"({"keys":[
{"kty":"RSA","kid":"rsa","e":"AQAB","n":"scF4Ou-BWE645c55V5EdeH5pb34q6aC5GKSxbxEr8OX2b5J_caAwfpGDbYqMSubbTaBTIFgdhn-MA2kzXweWjssIjBRjj2bGXnNeVokMeUPI96gqiISrNV_zwlzO7BvoSxVXkntfjFeLmgdqKLMAsCT1eB9PG5vFalN1uwS1mYK_TXJRTkdVXR0sLss0vvXNs0R-GDNGqVOSMzLwsNQhjN3dPyhJh2d1ANjMGAiPzbUpDgNGi0nCqAZXT7reVah5yfa3mqqOHp0KHWbbenhEy9nedgbLC97ILNr9O0-yaQSh49XUC9Y9iHYoz__pcCfZ85zTiPKJ1yffX8Su9wKBUw"},
{"kty":"EC","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
]})";

const o2gw::JwkSet& fixed_keys() {
  static const o2gw::JwkSet keys = o2gw::JwkSet::parse(kFixedJwks);
  if (keys.size() != 2) __builtin_trap();  // the harness would silently test nothing
  return keys;
}

void check_with(const o2gw::JwkKey* key, const o2gw::JwtParts& parts, const std::string& raw_signature) {
  if (!key) return;
  for (const char* alg : {"RS256", "ES256", "HS256", "none"}) {
    (void)o2gw::verify_jws_signature(*key, alg, parts.signing_input, parts.signature);
    (void)o2gw::verify_jws_signature(*key, alg, parts.signing_input, raw_signature);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [token, jwks_text, raw_signature] = o2gw::fuzz::split_input<3>(data, size);

  std::string decoded;
  if (o2gw::base64url_decode(token, decoded)) {
    std::string again;
    // Decoding is the exact inverse of encoding.
    if (!o2gw::base64url_decode(o2gw::base64url_encode(decoded), again) || again != decoded) __builtin_trap();
  }

  std::string why;
  auto parts = o2gw::split_jwt(token, why);
  if (parts) {
    check_with(fixed_keys().find("rsa"), *parts, raw_signature);
    check_with(fixed_keys().find("ec"), *parts, raw_signature);
  } else if (why.empty()) {
    __builtin_trap();  // a refusal always says why
  }

  try {
    std::vector<std::string> skipped;
    const auto keys = o2gw::JwkSet::parse(jwks_text, &skipped);
    if (parts) {
      check_with(keys.find("rsa"), *parts, raw_signature);
      check_with(keys.find("ec"), *parts, raw_signature);
      check_with(keys.find(""), *parts, raw_signature);
    }
  } catch (const std::invalid_argument&) {
    // Not a JWKS: documented.
  }
  return 0;
}
