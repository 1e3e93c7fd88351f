#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include "o2gw/webhook.hpp"

namespace o2gw {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kGeneratedKeyBytes = 32;
// A key file is a few dozen bytes; anything much larger is not a key.
constexpr std::uintmax_t kMaxKeyFileBytes = 64 * 1024;
constexpr std::size_t kHexSha256Length = 64;
// 18 digits always fit in int64_t, and reach far beyond any plausible clock.
constexpr std::size_t kMaxTimestampDigits = 18;

bool is_key_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool is_valid_key_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), is_key_id_char);
}

// Hidden files include Kubernetes' "..data" and "..2024_..." entries of a mounted Secret.
bool is_hidden(std::string_view name) { return !name.empty() && name.front() == '.'; }

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0F]);
  }
  return out;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Candidate key files: regular files (symlinks followed, as in a mounted Secret)
// that are not hidden. Returns the names, including invalid ones so they can be reported.
std::vector<std::string> candidate_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (is_hidden(name)) continue;
    std::error_code ec;
    if (!fs::is_regular_file(entry.path(), ec)) continue;
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<SigningKeyRing::Key> read_key_file(const fs::path& dir, const std::string& name) {
  const fs::path path = dir / name;
  if (!is_valid_key_id(name)) {
    spdlog::warn("signing keys: ignoring {}: the file name is not a valid key id ([A-Za-z0-9._-], 1 to 64 chars)",
                 path.string());
    return std::nullopt;
  }
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    spdlog::warn("signing keys: ignoring {}: {}", path.string(), ec.message());
    return std::nullopt;
  }
  if (size > kMaxKeyFileBytes) {
    spdlog::warn("signing keys: ignoring {}: {} bytes is too large for a key file", path.string(), size);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::string secret;
  if (in) secret.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in || in.bad()) {
    spdlog::warn("signing keys: ignoring {}: cannot read the file", path.string());
    return std::nullopt;
  }
  // Editors and `echo` add a newline that nobody means as part of the key.
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    spdlog::warn("signing keys: ignoring {}: the key is {} bytes, at least {} are required", path.string(),
                 secret.size(), kMinSecretBytes);
    return std::nullopt;
  }
  return SigningKeyRing::Key{name, std::move(secret)};
}

std::string utc_date_today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

void make_private_directory(const fs::path& dir) {
  fs::path clean = dir.lexically_normal();
  if (!clean.has_filename()) clean = clean.parent_path();  // "keys/" names "keys"
  if (!clean.parent_path().empty()) fs::create_directories(clean.parent_path());
  if (::mkdir(clean.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("signing keys: cannot create directory " + dir.string() + ": " + std::strerror(errno));
  }
}

void write_generated_key(const fs::path& dir) {
  std::array<unsigned char, kGeneratedKeyBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("signing keys: the random generator failed");
  }
  const std::string contents = to_hex(random.data(), random.size()) + "\n";
  OPENSSL_cleanse(random.data(), random.size());

  const fs::path path = dir / utc_date_today();
  // O_EXCL: never overwrite a key someone else (another replica) just wrote.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;
    throw std::runtime_error("signing keys: cannot create " + path.string() + ": " + std::strerror(errno));
  }
  std::size_t written = 0;
  bool ok = true;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (ok && ::fsync(fd) != 0) ok = false;
  const int saved_errno = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw std::runtime_error("signing keys: cannot write " + path.string() + ": " + std::strerror(saved_errno));
  }
  spdlog::info("signing keys: created a new signing key {}", path.string());
}

// Sorts by id and rejects what would make sign() or verify() ambiguous.
std::vector<SigningKeyRing::Key> checked_keys(std::vector<SigningKeyRing::Key> keys) {
  if (keys.empty()) throw std::invalid_argument("signing keys: the key ring is empty");
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!is_valid_key_id(keys[i].id)) {
      throw std::invalid_argument("signing keys: '" + keys[i].id + "' is not a valid key id");
    }
    if (i > 0 && keys[i].id == keys[i - 1].id) {
      throw std::invalid_argument("signing keys: key id '" + keys[i].id + "' appears twice");
    }
  }
  return keys;
}

struct SignatureHeader {
  std::string_view timestamp;
  std::string_view kid;
  std::string_view mac;
};

// Exactly the fields t, kid and v1, once each, in any order, without spaces.
std::optional<SignatureHeader> parse_signature_header(std::string_view header) {
  SignatureHeader out;
  bool seen_t = false, seen_kid = false, seen_v1 = false;
  while (true) {
    const std::size_t comma = header.find(',');
    const std::string_view field = header.substr(0, comma);
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    bool* seen = nullptr;
    std::string_view* slot = nullptr;
    if (name == "t") {
      seen = &seen_t;
      slot = &out.timestamp;
    } else if (name == "kid") {
      seen = &seen_kid;
      slot = &out.kid;
    } else if (name == "v1") {
      seen = &seen_v1;
      slot = &out.mac;
    } else {
      return std::nullopt;
    }
    if (*seen) return std::nullopt;
    *seen = true;
    *slot = value;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (!seen_t || !seen_kid || !seen_v1) return std::nullopt;
  return out;
}

// Canonical decimal only ("0", or digits without a leading zero), since the text
// itself is what was signed.
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > kMaxTimestampDigits) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool within_tolerance(std::int64_t timestamp, std::int64_t now, std::chrono::seconds tolerance) {
  if (tolerance.count() < 0) return false;
  // Unsigned subtraction of the smaller from the larger is exact for any two int64 values.
  const std::uint64_t distance = timestamp >= now ? static_cast<std::uint64_t>(timestamp) - static_cast<std::uint64_t>(now)
                                                  : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(timestamp);
  return distance <= static_cast<std::uint64_t>(tolerance.count());
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  // OpenSSL treats a null key as "no key"; an empty key must still be a key.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  const auto* data_ptr = data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (key.size() > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("HMAC key too long");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), mac, &mac_len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return to_hex(mac, mac_len);
}

SigningKeyRing::SigningKeyRing(std::vector<Key> keys) : keys_(checked_keys(std::move(keys))) {}

SigningKeyRing SigningKeyRing::load(const fs::path& dir, bool create_if_empty) {
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (!exists && !create_if_empty) {
    throw std::runtime_error("signing keys: directory " + dir.string() + " does not exist");
  }
  if (exists && !fs::is_directory(dir, ec)) {
    throw std::runtime_error("signing keys: " + dir.string() + " is not a directory");
  }
  if (create_if_empty) {
    if (!exists) make_private_directory(dir);
    // Only a directory without any key file gets a generated key: a directory whose
    // files are all rejected is a mistake to report, not to paper over.
    if (candidate_names(dir).empty()) write_generated_key(dir);
  }

  std::vector<Key> keys;
  for (const auto& name : candidate_names(dir)) {
    if (auto key = read_key_file(dir, name)) keys.push_back(std::move(*key));
  }
  if (keys.empty()) {
    throw std::runtime_error("signing keys: no usable key in " + dir.string() +
                             " (one file per key, at least 32 bytes, named [A-Za-z0-9._-]{1,64})");
  }
  return SigningKeyRing(std::move(keys));
}

const SigningKeyRing::Key& SigningKeyRing::signing_key() const { return keys_.back(); }

std::string SigningKeyRing::sign(std::string_view body, std::int64_t unix_seconds) const {
  const Key& key = signing_key();
  const std::string t = std::to_string(unix_seconds);
  std::string signed_text;
  signed_text.reserve(t.size() + 1 + body.size());
  signed_text.append(t).append(".").append(body);
  return "t=" + t + ",kid=" + key.id + ",v1=" + hmac_sha256_hex(key.secret, signed_text);
}

bool SigningKeyRing::verify(std::string_view header, std::string_view body, std::int64_t now_unix,
                            std::chrono::seconds tolerance) const {
  const auto fields = parse_signature_header(header);
  if (!fields) return false;
  const auto timestamp = parse_timestamp(fields->timestamp);
  if (!timestamp || !within_tolerance(*timestamp, now_unix, tolerance)) return false;
  if (fields->mac.size() != kHexSha256Length || !is_lower_hex(fields->mac)) return false;
  const auto key = std::lower_bound(keys_.begin(), keys_.end(), fields->kid,
                                    [](const Key& k, std::string_view id) { return k.id < id; });
  if (key == keys_.end() || key->id != fields->kid) return false;

  std::string signed_text;
  signed_text.reserve(fields->timestamp.size() + 1 + body.size());
  signed_text.append(fields->timestamp).append(".").append(body);
  const std::string expected = hmac_sha256_hex(key->secret, signed_text);
  return CRYPTO_memcmp(expected.data(), fields->mac.data(), kHexSha256Length) == 0;
}

}  // namespace o2gw
