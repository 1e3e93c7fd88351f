// Webhook building blocks that need no sockets: the signing key ring and the
// callback guard (SSRF). docs/webhooks.md describes both to receivers/operators.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace o2gw {

// HMAC-SHA256 signing keys read from a directory: every regular file whose name
// matches [A-Za-z0-9._-]{1,64} (hidden files and Kubernetes' "..data" links are
// skipped) is one key; its key id (kid) is the file name, its secret the file's
// bytes with one trailing newline removed (at least 32 bytes, else the file is
// rejected with a logged warning). The newest key signs: the greatest kid in byte
// order, so date-named keys ("2026-11-27") rotate by adding a file.
class SigningKeyRing {
 public:
  struct Key {
    std::string id;
    std::string secret;  // never logged
  };
  // Loads the directory; throws std::runtime_error when it holds no usable key.
  // With `create_if_empty`, a missing or empty directory first gets one random
  // 32-byte key (hex encoded) named after today's UTC date, mode 0600.
  static SigningKeyRing load(const std::filesystem::path& dir, bool create_if_empty);
  // Builds a ring from keys directly (tests).
  explicit SigningKeyRing(std::vector<Key> keys);

  [[nodiscard]] const Key& signing_key() const;
  [[nodiscard]] const std::vector<Key>& keys() const { return keys_; }  // sorted by id

  // "t=<unix>,kid=<id>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>"
  [[nodiscard]] std::string sign(std::string_view body, std::int64_t unix_seconds) const;
  // Verifies a header produced by sign() with any key in the ring, rejecting
  // timestamps further than `tolerance` from `now_unix` (constant-time compare).
  [[nodiscard]] bool verify(std::string_view header, std::string_view body, std::int64_t now_unix,
                            std::chrono::seconds tolerance) const;

 private:
  std::vector<Key> keys_;
};

// Lower-case hex HMAC-SHA256.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Decides which callback URLs and addresses subscriptions may use.
//  1. A host or address matching `deny` is refused.
//  2. When `allow` is not empty, only hosts/addresses matching it are accepted
//     (an allow entry also lifts the built-in refusals below).
//  3. Otherwise the built-in refusals apply: loopback (127.0.0.0/8, ::1),
//     link-local (169.254.0.0/16, fe80::/10, which covers the cloud metadata
//     address 169.254.169.254), the unspecified address, multicast, fd00:ec2::254
//     and the metadata host names (metadata.google.internal, metadata,
//     instance-data); everything else is accepted.
// Entries are host names (exact, case-insensitive; "*.example.com" matches
// subdomains) or IP addresses / CIDRs (IPv4 and IPv6; IPv4-mapped IPv6 addresses
// are checked as IPv4).
struct CallbackGuardOptions {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};
class CallbackGuard {
 public:
  // Throws std::invalid_argument naming a malformed entry.
  explicit CallbackGuard(CallbackGuardOptions options = {});
  // Checks a callback URL before anything is resolved: absolute http/https, a host,
  // no userinfo, no fragment, and the host (name or literal) not refused.
  // Returns the reason for refusal, or nullopt when acceptable.
  [[nodiscard]] std::optional<std::string> check_url(std::string_view url) const;
  // Checks one resolved address (an IP literal). `host` is the name it came from
  // (an allow entry naming that host admits its addresses).
  [[nodiscard]] std::optional<std::string> check_address(std::string_view host, std::string_view ip) const;

  struct Rules;

 private:
  std::shared_ptr<const Rules> rules_;
};

}  // namespace o2gw
