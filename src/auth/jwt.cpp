// JWS building blocks: base64url, the compact-form split, JWKS parsing into
// OpenSSL keys and RS256/ES256 signature checks. Everything here reads
// attacker-controlled bytes, so nothing throws on bad input (except
// JwkSet::parse, which is not on the request path) and every length is checked.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/auth.hpp"

namespace o2gw {

namespace {

constexpr std::string_view kBase64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (std::size_t i = 0; i < kBase64UrlAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kBase64UrlAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr auto kDecodeTable = make_decode_table();

constexpr int kMinRsaBits = 2048;
constexpr std::size_t kP256CoordinateBytes = 32;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

BnPtr to_bignum(std::string_view big_endian) {
  return BnPtr(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

// Builds a public key of `key_type` ("RSA" or "EC") from OpenSSL parameters.
PkeyPtr pkey_from_params(const char* key_type, OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) <= 0) return nullptr;
  return PkeyPtr(raw);
}

const std::string* string_member(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

}  // namespace

// ---- base64url ----

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  // A single leftover character cannot encode a byte.
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int acc_bits = 0;
  for (char c : in) {
    const std::uint8_t v = kDecodeTable[static_cast<unsigned char>(c)];
    if (v == kInvalid) return false;
    acc = (acc << 6) | v;
    acc_bits += 6;
    if (acc_bits >= 8) {
      acc_bits -= 8;
      out.push_back(static_cast<char>((acc >> acc_bits) & 0xffu));
    }
  }
  // Leftover bits must be zero: otherwise several encodings would decode to the
  // same bytes, and a token could be altered without changing what is verified.
  return (acc & ((1u << acc_bits) - 1u)) == 0;
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int acc_bits = 0;
  for (char c : in) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    acc_bits += 8;
    while (acc_bits >= 6) {
      acc_bits -= 6;
      out.push_back(kBase64UrlAlphabet[(acc >> acc_bits) & 0x3fu]);
    }
  }
  if (acc_bits > 0) out.push_back(kBase64UrlAlphabet[(acc << (6 - acc_bits)) & 0x3fu]);
  return out;
}

// ---- compact JWS ----

std::optional<JwtParts> split_jwt(std::string_view token, std::string& why) {
  const auto first_dot = token.find('.');
  if (first_dot == std::string_view::npos) {
    why = "not three dot-separated parts";
    return std::nullopt;
  }
  const auto second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    why = "not three dot-separated parts";
    return std::nullopt;
  }
  const auto header_b64 = token.substr(0, first_dot);
  const auto payload_b64 = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const auto signature_b64 = token.substr(second_dot + 1);
  if (header_b64.empty() || payload_b64.empty()) {
    why = "empty header or payload";
    return std::nullopt;
  }
  JwtParts parts;
  if (!base64url_decode(header_b64, parts.header_json) || !base64url_decode(payload_b64, parts.payload_json) ||
      !base64url_decode(signature_b64, parts.signature)) {
    why = "a part is not base64url";
    return std::nullopt;
  }
  // Only shape is checked here; members are read by the caller.
  auto is_json_object = [](const std::string& text) {
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_object();
  };
  if (!is_json_object(parts.header_json)) {
    why = "the header is not a JSON object";
    return std::nullopt;
  }
  if (!is_json_object(parts.payload_json)) {
    why = "the payload is not a JSON object";
    return std::nullopt;
  }
  parts.signing_input.assign(token.substr(0, second_dot));
  return parts;
}

// ---- keys ----

class JwkKey {
 public:
  enum class Type { rsa, ec_p256 };
  JwkKey(std::string kid, Type type, PkeyPtr pkey) : kid_(std::move(kid)), type_(type), pkey_(std::move(pkey)) {}
  [[nodiscard]] const std::string& kid() const { return kid_; }
  [[nodiscard]] Type type() const { return type_; }
  [[nodiscard]] EVP_PKEY* pkey() const { return pkey_.get(); }

 private:
  std::string kid_;
  Type type_;
  PkeyPtr pkey_;
};

namespace {

// Why a JWK is unusable; empty when `out` was built.
std::string build_rsa_key(const nlohmann::json& jwk, PkeyPtr& out) {
  const std::string* n_b64 = string_member(jwk, "n");
  const std::string* e_b64 = string_member(jwk, "e");
  std::string n;
  std::string e;
  if (!n_b64 || !e_b64 || !base64url_decode(*n_b64, n) || !base64url_decode(*e_b64, e) || n.empty() || e.empty()) {
    return "RSA key without valid n and e";
  }
  BnPtr n_bn = to_bignum(n);
  BnPtr e_bn = to_bignum(e);
  if (!n_bn || !e_bn) return "RSA key: out of memory";
  if (BN_num_bits(n_bn.get()) < kMinRsaBits) return "RSA key shorter than 2048 bits";
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) <= 0 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) <= 0) {
    return "RSA key: cannot build parameters";
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return "RSA key: cannot build parameters";
  out = pkey_from_params("RSA", params.get());
  return out ? "" : "RSA key rejected by OpenSSL";
}

std::string build_ec_key(const nlohmann::json& jwk, PkeyPtr& out) {
  const std::string* crv = string_member(jwk, "crv");
  if (!crv || *crv != "P-256") return "EC key on a curve other than P-256";
  const std::string* x_b64 = string_member(jwk, "x");
  const std::string* y_b64 = string_member(jwk, "y");
  std::string x;
  std::string y;
  if (!x_b64 || !y_b64 || !base64url_decode(*x_b64, x) || !base64url_decode(*y_b64, y) ||
      x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes) {
    return "EC key without valid 32-byte x and y";
  }
  // Uncompressed SEC1 point: 0x04 || x || y.
  std::string point = "\x04" + x + y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) <= 0 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) <= 0) {
    return "EC key: cannot build parameters";
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return "EC key: cannot build parameters";
  PkeyPtr key = pkey_from_params("EC", params.get());
  if (!key) return "EC key: the point is not on P-256";
  // fromdata decodes the point; the explicit check also refuses the point at infinity.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) <= 0) return "EC key: the point is not on P-256";
  out = std::move(key);
  return "";
}

}  // namespace

struct JwkSet::Impl {
  std::vector<std::unique_ptr<JwkKey>> keys;
  std::unordered_map<std::string_view, const JwkKey*> by_kid;  // views into keys[i]->kid()
};

JwkSet::JwkSet() : impl_(std::make_unique<Impl>()) {}
JwkSet::~JwkSet() = default;
JwkSet::JwkSet(JwkSet&&) noexcept = default;
JwkSet& JwkSet::operator=(JwkSet&&) noexcept = default;

JwkSet JwkSet::parse(std::string_view json_text, std::vector<std::string>* skipped) {
  const auto doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw std::invalid_argument("a JWKS must be a JSON object");
  auto keys_it = doc.find("keys");
  if (keys_it == doc.end() || !keys_it->is_array()) throw std::invalid_argument("a JWKS needs a \"keys\" array");

  JwkSet set;
  auto skip = [&](std::size_t index, const std::string* kid, const std::string& why) {
    if (!skipped) return;
    skipped->push_back("keys[" + std::to_string(index) + "]" + (kid ? " (kid " + *kid + ")" : std::string()) + ": " +
                       why);
  };
  for (std::size_t i = 0; i < keys_it->size(); ++i) {
    const auto& jwk = (*keys_it)[i];
    if (!jwk.is_object()) {
      skip(i, nullptr, "not an object");
      continue;
    }
    const std::string* kid = string_member(jwk, "kid");
    if (!kid || kid->empty()) {
      skip(i, nullptr, "no kid");
      continue;
    }
    if (set.impl_->by_kid.contains(*kid)) {
      skip(i, kid, "duplicate kid");
      continue;
    }
    if (const std::string* use = string_member(jwk, "use"); use && *use != "sig") {
      skip(i, kid, "use is not \"sig\"");
      continue;
    }
    const std::string* kty = string_member(jwk, "kty");
    const std::string* alg = string_member(jwk, "alg");
    PkeyPtr pkey;
    std::string why;
    JwkKey::Type type = JwkKey::Type::rsa;
    if (kty && *kty == "RSA") {
      why = (alg && *alg != "RS256") ? "RSA key for an alg other than RS256" : build_rsa_key(jwk, pkey);
    } else if (kty && *kty == "EC") {
      type = JwkKey::Type::ec_p256;
      why = (alg && *alg != "ES256") ? "EC key for an alg other than ES256" : build_ec_key(jwk, pkey);
    } else {
      why = "unsupported kty";
    }
    if (!why.empty()) {
      skip(i, kid, why);
      continue;
    }
    auto key = std::make_unique<JwkKey>(*kid, type, std::move(pkey));
    set.impl_->by_kid.emplace(key->kid(), key.get());
    set.impl_->keys.push_back(std::move(key));
  }
  return set;
}

std::size_t JwkSet::size() const {
  return impl_ ? impl_->keys.size() : 0;
}

// An empty kid finds the only key of a one-key set: tokens without "kid" are
// accepted only when there is no choice to make.
const JwkKey* JwkSet::find(std::string_view kid) const {
  if (!impl_) return nullptr;
  if (kid.empty()) return impl_->keys.size() == 1 ? impl_->keys.front().get() : nullptr;
  auto it = impl_->by_kid.find(kid);
  return it == impl_->by_kid.end() ? nullptr : it->second;
}

// ---- signatures ----

namespace {

bool digest_verify(EVP_PKEY* pkey, std::string_view signing_input, const unsigned char* sig, std::size_t sig_len) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey, nullptr) <= 0) return false;
  return EVP_DigestVerify(ctx.get(), sig, sig_len, bytes(signing_input), signing_input.size()) == 1;
}

// JWS carries ES256 as raw r || s; OpenSSL wants a DER ECDSA-Sig-Value.
bool es256_to_der(std::string_view raw, std::string& der) {
  if (raw.size() != 2 * kP256CoordinateBytes) return false;
  BnPtr r = to_bignum(raw.substr(0, kP256CoordinateBytes));
  BnPtr s = to_bignum(raw.substr(kP256CoordinateBytes));
  if (!r || !s) return false;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return false;
  der.resize(static_cast<std::size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &p) == len;
}

}  // namespace

bool verify_jws_signature(const JwkKey& key, std::string_view alg, std::string_view signing_input,
                          std::string_view signature) {
  if (alg == "RS256") {
    if (key.type() != JwkKey::Type::rsa) return false;
    // PKCS#1 v1.5 signatures are exactly the modulus size.
    if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.pkey()))) return false;
    return digest_verify(key.pkey(), signing_input, bytes(signature), signature.size());
  }
  if (alg == "ES256") {
    if (key.type() != JwkKey::Type::ec_p256) return false;
    std::string der;
    if (!es256_to_der(signature, der)) return false;
    return digest_verify(key.pkey(), signing_input, bytes(der), der.size());
  }
  return false;
}

}  // namespace o2gw
