// The JWS building blocks: base64url, the compact split, JWKS parsing and the
// RS256/ES256 signature checks, against keys and tokens from the test issuer.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/jwt_issuer.hpp"
#include "o2gw/auth.hpp"

namespace o2gw {
namespace {

using test::JwtIssuer;

std::string decode(std::string_view in) {
  std::string out;
  EXPECT_TRUE(base64url_decode(in, out)) << in;
  return out;
}

TEST(Base64Url, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64Url, DecodesRfc4648Vectors) {
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("Zg"), "f");
  EXPECT_EQ(decode("Zm8"), "fo");
  EXPECT_EQ(decode("Zm9v"), "foo");
  EXPECT_EQ(decode("Zm9vYg"), "foob");
  EXPECT_EQ(decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode("-_8"), "\xfb\xff");
}

TEST(Base64Url, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    EXPECT_EQ(decode(base64url_encode(all.substr(0, len))), all.substr(0, len));
  }
}

TEST(Base64Url, RefusesPaddingForeignCharactersAndLooseBits) {
  std::string out;
  EXPECT_FALSE(base64url_decode("Zg==", out));
  EXPECT_FALSE(base64url_decode("Zm9v=", out));
  EXPECT_FALSE(base64url_decode("Zm+v", out));  // standard base64, not base64url
  EXPECT_FALSE(base64url_decode("Zm/v", out));
  EXPECT_FALSE(base64url_decode("Zm9 v", out));
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4), out));
  EXPECT_FALSE(base64url_decode("Zm9vY", out));  // a lone sixth-bit group cannot be a byte
  EXPECT_FALSE(base64url_decode("Zh", out));     // "f" with non-zero leftover bits
}

std::string b64(std::string_view s) {
  return base64url_encode(s);
}

TEST(SplitJwt, SplitsAWellFormedToken) {
  const std::string token = b64(R"({"alg":"RS256"})") + "." + b64(R"({"sub":"a"})") + "." + b64("sig");
  std::string why;
  auto parts = split_jwt(token, why);
  ASSERT_TRUE(parts) << why;
  EXPECT_EQ(parts->header_json, R"({"alg":"RS256"})");
  EXPECT_EQ(parts->payload_json, R"({"sub":"a"})");
  EXPECT_EQ(parts->signature, "sig");
  EXPECT_EQ(parts->signing_input, token.substr(0, token.rfind('.')));
}

TEST(SplitJwt, RefusesMalformedTokens) {
  const std::string h = b64(R"({"alg":"RS256"})");
  const std::string p = b64(R"({"sub":"a"})");
  const std::vector<std::string> bad = {
      "",
      "abc",
      h + "." + p,                           // two parts
      h + "." + p + ".c2ln.c2ln",            // four parts
      "." + p + ".c2ln",                     // empty header
      h + "..c2ln",                          // empty payload
      h + "=." + p + ".c2ln",                // padding
      h + "." + p + ".c2l+",                 // not base64url
      b64("[1,2]") + "." + p + ".c2ln",      // header not an object
      h + "." + b64("\"text\"") + ".c2ln",   // payload not an object
      h + "." + b64("{\"sub\":") + ".c2ln",  // payload not JSON
  };
  for (const auto& token : bad) {
    std::string why;
    EXPECT_FALSE(split_jwt(token, why)) << token;
    EXPECT_FALSE(why.empty()) << token;
  }
}

// A JWK of an RSA key of `bits` (below 2048 the set must skip it).
nlohmann::json rsa_jwk(const std::string& kid, unsigned bits) {
  EVP_PKEY* pkey = EVP_RSA_gen(bits);
  auto bn = [&](const char* name) {
    BIGNUM* v = nullptr;
    EVP_PKEY_get_bn_param(pkey, name, &v);
    std::string out(static_cast<std::size_t>(BN_num_bytes(v)), '\0');
    BN_bn2bin(v, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(v);
    return base64url_encode(out);
  };
  nlohmann::json jwk = {
      {"kty", "RSA"}, {"kid", kid}, {"n", bn(OSSL_PKEY_PARAM_RSA_N)}, {"e", bn(OSSL_PKEY_PARAM_RSA_E)}};
  EVP_PKEY_free(pkey);
  return jwk;
}

class JwkSetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    issuer_ = new JwtIssuer();
    issuer_->add_key("rsa1", JwtIssuer::KeyType::rsa);
    issuer_->add_key("ec1", JwtIssuer::KeyType::ec);
  }
  static void TearDownTestSuite() {
    delete issuer_;
    issuer_ = nullptr;
  }
  static nlohmann::json claims() { return JwtIssuer::claims("https://idp", "o2gw", "smo"); }
  static JwkSet keys() { return JwkSet::parse(issuer_->jwks()); }
  static JwtParts parts(const std::string& token) {
    std::string why;
    auto p = split_jwt(token, why);
    EXPECT_TRUE(p) << why;
    return p.value_or(JwtParts{});
  }
  static JwtIssuer* issuer_;
};
JwtIssuer* JwkSetTest::issuer_ = nullptr;

TEST_F(JwkSetTest, ParsesRsaAndEcKeys) {
  std::vector<std::string> skipped;
  auto set = JwkSet::parse(issuer_->jwks(), &skipped);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(skipped.empty());
  EXPECT_NE(set.find("rsa1"), nullptr);
  EXPECT_NE(set.find("ec1"), nullptr);
  EXPECT_EQ(set.find("other"), nullptr);
  EXPECT_EQ(set.find(""), nullptr);  // no implicit choice among two keys
}

TEST_F(JwkSetTest, EmptyKidFindsTheOnlyKey) {
  JwtIssuer one;
  one.add_key("only", JwtIssuer::KeyType::ec);
  auto set = JwkSet::parse(one.jwks());
  EXPECT_EQ(set.find(""), set.find("only"));
  EXPECT_NE(set.find(""), nullptr);
}

TEST_F(JwkSetTest, SkipsUnusableKeysAndNamesThem) {
  auto doc = nlohmann::json::parse(issuer_->jwks());
  auto& keys = doc["keys"];
  keys.push_back({{"kty", "oct"}, {"kid", "sym"}, {"k", "c2VjcmV0"}});
  auto enc = keys[0];
  enc["kid"] = "enc";
  enc["use"] = "enc";
  keys.push_back(enc);
  keys.push_back(rsa_jwk("small", 1024));
  keys.push_back({{"kty", "EC"},
                  {"kid", "p384"},
                  {"crv", "P-384"},
                  {"x", b64(std::string(48, 'x'))},
                  {"y", b64(std::string(48, 'y'))}});
  auto no_kid = keys[1];
  no_kid.erase("kid");
  keys.push_back(no_kid);
  auto dup = keys[1];
  keys.push_back(dup);
  auto off_curve = keys[1];
  off_curve["kid"] = "off-curve";
  off_curve["y"] = b64(std::string(32, '\x01'));
  keys.push_back(off_curve);
  keys.push_back("not an object");

  std::vector<std::string> skipped;
  auto set = JwkSet::parse(doc.dump(), &skipped);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(skipped.size(), 8u);
  for (const char* kid : {"sym", "enc", "small", "p384", "off-curve"}) {
    EXPECT_EQ(set.find(kid), nullptr) << kid;
    const bool named = std::any_of(skipped.begin(), skipped.end(),
                                   [&](const std::string& s) { return s.find(kid) != std::string::npos; });
    EXPECT_TRUE(named) << kid;
  }
  // A key of the minimum size is kept.
  auto ok = JwkSet::parse(nlohmann::json{{"keys", {rsa_jwk("big", 2048)}}}.dump());
  EXPECT_EQ(ok.size(), 1u);
}

TEST_F(JwkSetTest, ThrowsOnADocumentThatIsNotAJwks) {
  EXPECT_THROW(JwkSet::parse("not json"), std::invalid_argument);
  EXPECT_THROW(JwkSet::parse("[]"), std::invalid_argument);
  EXPECT_THROW(JwkSet::parse(R"({"keys":{}})"), std::invalid_argument);
  EXPECT_THROW(JwkSet::parse(R"({"other":[]})"), std::invalid_argument);
  EXPECT_EQ(JwkSet::parse(R"({"keys":[]})").size(), 0u);
}

TEST_F(JwkSetTest, VerifiesRs256AndEs256) {
  auto set = keys();
  for (const char* kid : {"rsa1", "ec1"}) {
    const std::string alg = std::string(kid) == "rsa1" ? "RS256" : "ES256";
    auto p = parts(issuer_->sign(claims(), kid));
    EXPECT_TRUE(verify_jws_signature(*set.find(kid), alg, p.signing_input, p.signature)) << kid;
    // Another payload under the same signature fails.
    EXPECT_FALSE(verify_jws_signature(*set.find(kid), alg, p.signing_input + "x", p.signature)) << kid;
    auto forged = parts(issuer_->forged(claims(), kid));
    EXPECT_FALSE(verify_jws_signature(*set.find(kid), alg, forged.signing_input, forged.signature)) << kid;
  }
}

TEST_F(JwkSetTest, RefusesAnotherKeysSignature) {
  JwtIssuer other;
  other.add_key("rsa1", JwtIssuer::KeyType::rsa);
  auto p = parts(other.sign(claims(), "rsa1"));
  EXPECT_FALSE(verify_jws_signature(*keys().find("rsa1"), "RS256", p.signing_input, p.signature));
}

TEST_F(JwkSetTest, RefusesAlgorithmKeyMismatch) {
  auto set = keys();
  auto es = parts(issuer_->sign(claims(), "ec1"));
  auto rs = parts(issuer_->sign(claims(), "rsa1"));
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "ES256", es.signing_input, es.signature));
  EXPECT_FALSE(verify_jws_signature(*set.find("ec1"), "RS256", rs.signing_input, rs.signature));
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "HS256", rs.signing_input, rs.signature));
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "none", rs.signing_input, ""));
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "PS256", rs.signing_input, rs.signature));
}

TEST_F(JwkSetTest, RefusesEs256SignatureInDerForm) {
  auto p = parts(issuer_->sign(claims(), "ec1"));
  ASSERT_EQ(p.signature.size(), 64u);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(p.signature.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(p.signature.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ASSERT_GT(len, 0);
  const std::string der_sig(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  auto set = keys();
  EXPECT_FALSE(verify_jws_signature(*set.find("ec1"), "ES256", p.signing_input, der_sig));
  EXPECT_FALSE(verify_jws_signature(*set.find("ec1"), "ES256", p.signing_input, p.signature.substr(0, 63)));
  EXPECT_FALSE(verify_jws_signature(*set.find("ec1"), "ES256", p.signing_input, p.signature + std::string(1, '\0')));
  EXPECT_TRUE(verify_jws_signature(*set.find("ec1"), "ES256", p.signing_input, p.signature));
}

TEST_F(JwkSetTest, RefusesTruncatedRsaSignature) {
  auto p = parts(issuer_->sign(claims(), "rsa1"));
  auto set = keys();
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "RS256", p.signing_input, p.signature.substr(1)));
  EXPECT_FALSE(verify_jws_signature(*set.find("rsa1"), "RS256", p.signing_input, ""));
}

}  // namespace
}  // namespace o2gw
