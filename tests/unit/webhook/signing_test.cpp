#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "o2gw/webhook.hpp"

namespace o2gw {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr std::string_view kSecretA = "0123456789abcdef0123456789abcdef-key-a";
constexpr std::string_view kSecretB = "0123456789abcdef0123456789abcdef-key-b";
constexpr std::int64_t kNow = 1'800'000'000;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "o2gw-signing-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777U;
}

SigningKeyRing two_key_ring() {
  return SigningKeyRing({{"2026-01-01", std::string(kSecretA)}, {"2026-06-01", std::string(kSecretB)}});
}

// Replaces the field `name` of a signature header with `value`.
std::string with_field(const std::string& header, const std::string& name, const std::string& value) {
  const auto start = header.find(name + "=");
  const auto end = header.find(',', start);
  return header.substr(0, start) + name + "=" + value + (end == std::string::npos ? "" : header.substr(end));
}

TEST(Hmac, Rfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hmac, Rfc4231TestCase1AndEmptyInputs) {
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Empty key and empty data are still well-defined HMACs (compared with Python's hmac).
  EXPECT_EQ(hmac_sha256_hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// docs/webhooks.md shows these exact values; if this fails, fix the document too.
TEST(Hmac, DocumentedExampleIsCorrect) {
  const std::string key = "example-signing-key-0123456789abcdef";
  const std::string body = R"({"notificationId":"0b8e5f3a-7c2d-4e1f-9a6b-5d4c3b2a1f00","notificationEventType":0})";
  const std::string expected_mac = "d1dc006fe9b46bc00908633f238e165aeb4fb0a0fb591d3db9ec3103eb971217";
  EXPECT_EQ(hmac_sha256_hex(key, "1700000000." + body), expected_mac);

  SigningKeyRing ring({{"2026-11-27", key}});
  const std::string header = "t=1700000000,kid=2026-11-27,v1=" + expected_mac;
  EXPECT_EQ(ring.sign(body, 1700000000), header);
  EXPECT_TRUE(ring.verify(header, body, 1700000000 + 299, seconds(300)));
}

TEST(SigningKeyRing, SignThenVerifyRoundTrip) {
  const auto ring = two_key_ring();
  const std::string body = R"({"a":1})";
  const std::string header = ring.sign(body, kNow);
  EXPECT_EQ(header.rfind("t=1800000000,kid=2026-06-01,v1=", 0), 0U) << header;
  EXPECT_EQ(header.size(), std::string("t=1800000000,kid=2026-06-01,v1=").size() + 64);
  EXPECT_EQ(header.substr(header.size() - 64), hmac_sha256_hex(kSecretB, "1800000000." + body));
  EXPECT_TRUE(ring.verify(header, body, kNow, seconds(300)));
}

TEST(SigningKeyRing, KeysAreSortedAndTheGreatestIdSigns) {
  SigningKeyRing ring({{"b", std::string(kSecretB)}, {"c", std::string(kSecretA)}, {"a", std::string(kSecretA)}});
  ASSERT_EQ(ring.keys().size(), 3U);
  EXPECT_EQ(ring.keys()[0].id, "a");
  EXPECT_EQ(ring.keys()[2].id, "c");
  EXPECT_EQ(ring.signing_key().id, "c");
}

TEST(SigningKeyRing, ConstructorRejectsEmptyDuplicateAndBadIds) {
  EXPECT_THROW(SigningKeyRing(std::vector<SigningKeyRing::Key>{}), std::invalid_argument);
  EXPECT_THROW(SigningKeyRing({{"a", std::string(kSecretA)}, {"a", std::string(kSecretB)}}), std::invalid_argument);
  EXPECT_THROW(SigningKeyRing({{"a,b", std::string(kSecretA)}}), std::invalid_argument);
  EXPECT_THROW(SigningKeyRing({{"", std::string(kSecretA)}}), std::invalid_argument);
}

TEST(SigningKeyRing, RotationNewKeySignsOldStillVerifies) {
  const std::string body = R"({"n":1})";
  const SigningKeyRing old_ring({{"2026-01-01", std::string(kSecretA)}});
  const std::string old_header = old_ring.sign(body, kNow);

  const auto rotated = two_key_ring();
  const std::string new_header = rotated.sign(body, kNow);
  EXPECT_NE(new_header.find("kid=2026-06-01"), std::string::npos);
  EXPECT_TRUE(rotated.verify(old_header, body, kNow, seconds(300)));
  EXPECT_TRUE(rotated.verify(new_header, body, kNow, seconds(300)));
  // A receiver that has not learned the new key yet rejects it: add keys to receivers first.
  EXPECT_FALSE(old_ring.verify(new_header, body, kNow, seconds(300)));
}

TEST(SigningKeyRing, TamperedBodyTimestampKidOrMacIsRejected) {
  const auto ring = two_key_ring();
  const std::string body = R"({"n":1})";
  const std::string header = ring.sign(body, kNow);
  ASSERT_TRUE(ring.verify(header, body, kNow, seconds(300)));

  EXPECT_FALSE(ring.verify(header, R"({"n":2})", kNow, seconds(300)));
  EXPECT_FALSE(ring.verify(header, body + " ", kNow, seconds(300)));
  EXPECT_FALSE(ring.verify(with_field(header, "t", std::to_string(kNow + 1)), body, kNow, seconds(300)));
  // The other key of the ring is known, but did not make this MAC.
  EXPECT_FALSE(ring.verify(with_field(header, "kid", "2026-01-01"), body, kNow, seconds(300)));
  EXPECT_FALSE(ring.verify(with_field(header, "kid", "2099-01-01"), body, kNow, seconds(300)));
  std::string flipped = header;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(ring.verify(flipped, body, kNow, seconds(300)));
}

TEST(SigningKeyRing, TimestampToleranceBothWays) {
  const auto ring = two_key_ring();
  const std::string body = "{}";
  const std::string header = ring.sign(body, kNow);
  EXPECT_TRUE(ring.verify(header, body, kNow + 300, seconds(300)));
  EXPECT_TRUE(ring.verify(header, body, kNow - 300, seconds(300)));
  EXPECT_FALSE(ring.verify(header, body, kNow + 301, seconds(300)));
  EXPECT_FALSE(ring.verify(header, body, kNow - 301, seconds(300)));
  EXPECT_FALSE(ring.verify(header, body, kNow, seconds(-1)));
  // Extreme clocks must not overflow into acceptance.
  EXPECT_FALSE(ring.verify(header, body, INT64_MIN, seconds(300)));
  EXPECT_FALSE(ring.verify(header, body, INT64_MAX, seconds(300)));
  EXPECT_TRUE(ring.verify(header, body, 0, seconds(kNow)));
  EXPECT_FALSE(ring.verify(header, body, -1, seconds(kNow)));
}

TEST(SigningKeyRing, HeaderParsingIsStrict) {
  const auto ring = two_key_ring();
  const std::string body = "{}";
  const std::string mac = hmac_sha256_hex(kSecretB, "1800000000." + body);
  const std::string t = "t=1800000000", kid = "kid=2026-06-01", v1 = "v1=" + mac;
  auto ok = [&](const std::string& h) { return ring.verify(h, body, kNow, seconds(300)); };

  EXPECT_TRUE(ok(t + "," + kid + "," + v1));
  EXPECT_TRUE(ok(v1 + "," + t + "," + kid));  // any order
  EXPECT_FALSE(ok(""));
  EXPECT_FALSE(ok(t + "," + kid));                            // missing v1
  EXPECT_FALSE(ok(t + "," + kid + "," + v1 + "," + v1));      // duplicate
  EXPECT_FALSE(ok(t + "," + kid + "," + v1 + ",v0=abc"));     // unknown field
  EXPECT_FALSE(ok(t + "," + kid + "," + v1 + ","));           // trailing comma
  EXPECT_FALSE(ok(t + ", " + kid + "," + v1));                // whitespace
  EXPECT_FALSE(ok(t + "," + kid + ",v1=" + std::string(64, 'A')));
  EXPECT_FALSE(ok(t + "," + kid + ",v1=" + mac.substr(0, 63)));
  std::string upper = mac;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(ok(t + "," + kid + ",v1=" + upper));  // lower-case hex only
  EXPECT_FALSE(ok("t=01800000000," + kid + "," + v1));  // not canonical: not what was signed
  EXPECT_FALSE(ok("t=-1," + kid + "," + v1));
  EXPECT_FALSE(ok("t=," + kid + "," + v1));
  EXPECT_FALSE(ok("t=99999999999999999999999," + kid + "," + v1));
  EXPECT_FALSE(ok(t + ",kid=," + v1));
  EXPECT_FALSE(ok(t + ",kid," + v1));
}

TEST(SigningKeyRing, LoadReadsKeysStripsOneNewlineAndSkipsOthers) {
  TempDir dir;
  write_file(dir.path() / "2026-01-01", std::string(kSecretA) + "\n");
  write_file(dir.path() / "2026-06-01", std::string(kSecretB) + "\n\n");
  write_file(dir.path() / ".hidden", std::string(kSecretA));
  write_file(dir.path() / "bad name", std::string(kSecretA));
  write_file(dir.path() / "zz-short", "too short\n");
  fs::create_directory(dir.path() / "zz-subdir");
  // A mounted Kubernetes Secret: key -> ..data/key, ..data -> ..2026_11_27...
  fs::create_directory(dir.path() / "..2026_11_27_00_00_00.1");
  write_file(dir.path() / "..2026_11_27_00_00_00.1" / "zz-secret", std::string(kSecretB) + "-k8s");
  fs::create_directory_symlink("..2026_11_27_00_00_00.1", dir.path() / "..data");
  fs::create_symlink("..data/zz-secret", dir.path() / "2026-09-01");

  const auto ring = SigningKeyRing::load(dir.path(), false);
  ASSERT_EQ(ring.keys().size(), 3U);
  EXPECT_EQ(ring.keys()[0].id, "2026-01-01");
  EXPECT_EQ(ring.keys()[0].secret, kSecretA);
  EXPECT_EQ(ring.keys()[1].id, "2026-06-01");
  EXPECT_EQ(ring.keys()[1].secret, std::string(kSecretB) + "\n");  // only one newline is removed
  EXPECT_EQ(ring.keys()[2].id, "2026-09-01");
  EXPECT_EQ(ring.keys()[2].secret, std::string(kSecretB) + "-k8s");
  EXPECT_EQ(ring.signing_key().id, "2026-09-01");
}

TEST(SigningKeyRing, ShortKeyIsRejected) {
  TempDir dir;
  write_file(dir.path() / "k1", std::string(31, 'x') + "\n");  // 31 bytes once the newline is removed
  EXPECT_THROW(SigningKeyRing::load(dir.path(), false), std::runtime_error);
  // A directory whose only file is rejected is a mistake: no key is generated over it.
  EXPECT_THROW(SigningKeyRing::load(dir.path(), true), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir.path() / "k2"));

  write_file(dir.path() / "k2", std::string(32, 'x'));
  const auto ring = SigningKeyRing::load(dir.path(), false);
  ASSERT_EQ(ring.keys().size(), 1U);
  EXPECT_EQ(ring.signing_key().id, "k2");
}

TEST(SigningKeyRing, MissingOrEmptyDirectoryWithoutCreateThrows) {
  TempDir dir;
  EXPECT_THROW(SigningKeyRing::load(dir.path(), false), std::runtime_error);
  EXPECT_THROW(SigningKeyRing::load(dir.path() / "missing", false), std::runtime_error);
  write_file(dir.path() / "file", std::string(kSecretA));
  EXPECT_THROW(SigningKeyRing::load(dir.path() / "file", true), std::runtime_error);
}

TEST(SigningKeyRing, CreateIfEmptyMakesA0600KeyAndReusesIt) {
  TempDir dir;
  const fs::path keys = dir.path() / "state" / "webhook-keys";
  const auto first = SigningKeyRing::load(keys, true);
  ASSERT_EQ(first.keys().size(), 1U);
  const auto& key = first.signing_key();
  EXPECT_EQ(key.id.size(), 10U);  // YYYY-MM-DD
  EXPECT_EQ(key.id[4], '-');
  EXPECT_EQ(key.secret.size(), 64U);
  EXPECT_EQ(key.secret.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(mode_of(keys / key.id), 0600U);
  EXPECT_EQ(mode_of(keys), 0700U);
  EXPECT_EQ(read_file(keys / key.id), key.secret + "\n");

  const auto second = SigningKeyRing::load(keys, true);
  ASSERT_EQ(second.keys().size(), 1U);
  EXPECT_EQ(second.signing_key().id, key.id);
  EXPECT_EQ(second.signing_key().secret, key.secret);

  // A header signed before a restart still verifies after it.
  const std::string header = first.sign("{}", kNow);
  EXPECT_TRUE(second.verify(header, "{}", kNow, seconds(300)));
}

TEST(SigningKeyRing, CreateIfEmptyFillsAnExistingEmptyDirectory) {
  TempDir dir;
  write_file(dir.path() / ".keep", "");
  const auto ring = SigningKeyRing::load(dir.path(), true);
  EXPECT_EQ(ring.keys().size(), 1U);
  EXPECT_EQ(mode_of(dir.path() / ring.signing_key().id), 0600U);
}

}  // namespace
}  // namespace o2gw
