// Test JWT issuer: real key pairs from OpenSSL, so the gateway's verifier is
// exercised against signatures it did not make itself.
#include "jwt_issuer.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "o2gw/auth.hpp"

namespace o2gw::test {

namespace {

constexpr int kEcCoordinateBytes = 32;

std::string bignum_bytes(EVP_PKEY* pkey, const char* param) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) throw std::runtime_error("cannot read key parameter");
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string pad_left(std::string bytes, std::size_t size) {
  if (bytes.size() < size) bytes.insert(0, size - bytes.size(), '\0');
  return bytes;
}

// OpenSSL's DER ECDSA signature to JWS's r || s.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) throw std::runtime_error("cannot decode an ECDSA signature");
  std::string raw(2 * kEcCoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, kEcCoordinateBytes);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + kEcCoordinateBytes, kEcCoordinateBytes);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string encode_part(const nlohmann::json& j) {
  return base64url_encode(j.dump());
}

}  // namespace

struct JwtIssuer::Key {
  std::string kid;
  KeyType type = KeyType::rsa;
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

JwtIssuer::JwtIssuer() = default;

JwtIssuer::~JwtIssuer() {
  for (Key* k : keys_) delete k;
}

void JwtIssuer::add_key(const std::string& kid, KeyType type) {
  auto key = std::make_unique<Key>();
  key->kid = kid;
  key->type = type;
  key->pkey = type == KeyType::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!key->pkey) throw std::runtime_error("key generation failed");
  remove_key(kid);
  keys_.push_back(key.release());
}

void JwtIssuer::remove_key(const std::string& kid) {
  auto it = std::find_if(keys_.begin(), keys_.end(), [&](const Key* k) { return k->kid == kid; });
  if (it == keys_.end()) return;
  delete *it;
  keys_.erase(it);
}

std::string JwtIssuer::jwks() const {
  nlohmann::json keys = nlohmann::json::array();
  for (const Key* k : keys_) {
    if (k->type == KeyType::rsa) {
      keys.push_back({{"kty", "RSA"},
                      {"kid", k->kid},
                      {"use", "sig"},
                      {"alg", "RS256"},
                      {"n", base64url_encode(bignum_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_N))},
                      {"e", base64url_encode(bignum_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_E))}});
    } else {
      const std::string x = pad_left(bignum_bytes(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X), kEcCoordinateBytes);
      const std::string y = pad_left(bignum_bytes(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y), kEcCoordinateBytes);
      keys.push_back({{"kty", "EC"},
                      {"kid", k->kid},
                      {"use", "sig"},
                      {"alg", "ES256"},
                      {"crv", "P-256"},
                      {"x", base64url_encode(x)},
                      {"y", base64url_encode(y)}});
    }
  }
  return nlohmann::json{{"keys", keys}}.dump();
}

std::string JwtIssuer::sign(const nlohmann::json& claims, const std::string& kid,
                            const nlohmann::json& header_overrides) const {
  auto it = std::find_if(keys_.begin(), keys_.end(), [&](const Key* k) { return k->kid == kid; });
  if (it == keys_.end()) throw std::invalid_argument("no key " + kid);
  const Key& key = **it;
  nlohmann::json header = {{"alg", key.type == KeyType::rsa ? "RS256" : "ES256"}, {"typ", "JWT"}, {"kid", kid}};
  for (const auto& [name, value] : header_overrides.items()) {
    if (value.is_null()) {
      header.erase(name);
    } else {
      header[name] = value;
    }
  }
  const std::string signing_input = encode_part(header) + "." + encode_part(claims);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string sig;
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key.pkey, nullptr) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len, data, signing_input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("signing failed");
  }
  sig.resize(len);
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data, signing_input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("signing failed");
  }
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  if (key.type == KeyType::ec) sig = der_to_raw(sig);
  return signing_input + "." + base64url_encode(sig);
}

std::string JwtIssuer::unsigned_token(const nlohmann::json& claims, const std::string& kid) const {
  const nlohmann::json header = {{"alg", "none"}, {"typ", "JWT"}, {"kid", kid}};
  return encode_part(header) + "." + encode_part(claims) + ".";
}

std::string JwtIssuer::hs256_with_public_key(const nlohmann::json& claims, const std::string& kid) const {
  const std::string secret = public_pem(kid);
  const nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}};
  const std::string signing_input = encode_part(header) + "." + encode_part(claims);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac.data(), &len);
  return signing_input + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac.data()), len));
}

std::string JwtIssuer::forged(const nlohmann::json& claims, const std::string& kid) const {
  const std::string token = sign(claims, kid);
  const auto dot = token.rfind('.');
  std::string sig;
  base64url_decode(std::string_view(token).substr(dot + 1), sig);
  sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 0x01);
  return token.substr(0, dot + 1) + base64url_encode(sig);
}

std::string JwtIssuer::public_pem(const std::string& kid) const {
  auto it = std::find_if(keys_.begin(), keys_.end(), [&](const Key* k) { return k->kid == kid; });
  if (it == keys_.end()) throw std::invalid_argument("no key " + kid);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, (*it)->pkey);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

nlohmann::json JwtIssuer::claims(const std::string& issuer, const std::string& audience, const std::string& subject,
                                 long lifetime_seconds) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {{"iss", issuer}, {"aud", audience}, {"sub", subject},
          {"iat", now},    {"nbf", now},      {"exp", now + lifetime_seconds}};
}

std::string JwtIssuer::sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace o2gw::test
