// Authenticator: turns the credentials of a request (a bearer JWT, a static API
// token, a verified client certificate or a trusted proxy's identity header)
// into a Principal. Verified JWTs are cached until they expire, so the common
// case (a client repeating its token) costs a hash lookup, not a signature check.
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "o2gw/auth.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/metrics.hpp"

namespace o2gw {

namespace {

using Clock = std::chrono::system_clock;

constexpr std::size_t kCacheShards = 16;
// Unknown-kid requests parked while a JWKS fetch runs; beyond this they are refused
// at once, so a flood of made-up kids cannot pile up memory.
constexpr std::size_t kMaxWaitingRequests = 4096;
constexpr std::size_t kMaxJwksBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kJwksFetchTimeout{10000};
// Dates beyond year 9999 are clamped so they convert to a time_point without overflow.
constexpr double kLatestDateSeconds = 253402300799.0;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

// An address prefix from auth.trusted_proxies, IPv4 held as IPv4-mapped IPv6 so
// one comparison covers both families.
struct AddressPrefix {
  std::array<unsigned char, 16> bytes{};
  unsigned bits = 0;
};

std::optional<std::array<unsigned char, 16>> parse_ip(std::string_view text) {
  std::array<unsigned char, 16> out{};
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);  // IPv6 zone id
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<AddressPrefix> parse_prefix(std::string_view text) {
  AddressPrefix prefix;
  std::string_view addr = text;
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
      return std::nullopt;
    }
    length = static_cast<unsigned>(std::stoul(std::string(digits)));
  }
  auto ip = parse_ip(addr);
  if (!ip) return std::nullopt;
  const bool v4 = addr.find(':') == std::string_view::npos;
  const unsigned max_bits = v4 ? 32 : 128;
  if (length && *length > max_bits) return std::nullopt;
  prefix.bytes = *ip;
  prefix.bits = (v4 ? 96 : 0) + length.value_or(max_bits);
  return prefix;
}

bool prefix_contains(const AddressPrefix& prefix, const std::array<unsigned char, 16>& ip) {
  const unsigned full = prefix.bits / 8;
  if (std::memcmp(prefix.bytes.data(), ip.data(), full) != 0) return false;
  const unsigned rest = prefix.bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (prefix.bytes[full] & mask) == (ip[full] & mask);
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  auto ip = parse_ip(host);
  if (!ip) return false;
  static constexpr std::array<unsigned char, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const bool mapped_v4 = std::all_of(ip->begin(), ip->begin() + 10, [](unsigned char b) { return b == 0; }) &&
                         (*ip)[10] == 0xff && (*ip)[11] == 0xff;
  return *ip == kV6Loopback || (mapped_v4 && (*ip)[12] == 127);
}

// Follows a dotted path ("realm_access.roles") through nested objects.
const nlohmann::json* claim_at(const nlohmann::json& payload, std::string_view path) {
  const nlohmann::json* node = &payload;
  while (true) {
    if (!node->is_object()) return nullptr;
    const auto dot = path.find('.');
    const auto name = path.substr(0, dot);
    auto it = node->find(name);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string_view::npos) return node;
    path.remove_prefix(dot + 1);
  }
}

enum class DateClaim { absent, valid, invalid };
DateClaim numeric_date(const nlohmann::json& payload, const char* name, double& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return DateClaim::absent;
  if (!it->is_number()) return DateClaim::invalid;
  out = it->get<double>();
  return std::isfinite(out) ? DateClaim::valid : DateClaim::invalid;
}

Clock::time_point to_time_point(double seconds) {
  seconds = std::clamp(seconds, 0.0, kLatestDateSeconds);
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
}

double seconds_since_epoch(Clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

AuthOutcome refused(int status, std::string error, std::string detail, std::string reason) {
  AuthOutcome out;
  out.kind = AuthOutcome::Kind::failed;
  out.status = status;
  out.error = std::move(error);
  out.detail = std::move(detail);
  out.reason = std::move(reason);
  return out;
}

AuthOutcome token_refused(std::string detail, std::string reason) {
  return refused(401, "invalid_token", std::move(detail), std::move(reason));
}

AuthOutcome authenticated(std::shared_ptr<const Principal> principal) {
  AuthOutcome out;
  out.kind = AuthOutcome::Kind::authenticated;
  out.principal = std::move(principal);
  return out;
}

// Echoes an alg only when it is short and plain, so the detail cannot carry
// attacker-chosen text of any size into a response or a log.
std::string describe_alg(const std::string& alg) {
  const bool plain = !alg.empty() && alg.size() <= 16 &&
                     std::all_of(alg.begin(), alg.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
  return plain ? "unsupported alg '" + alg + "'" : "unsupported alg";
}

// Verified tokens, sharded so concurrent I/O threads rarely meet on a lock.
class TokenCache {
 public:
  explicit TokenCache(std::size_t capacity)
      : per_shard_(capacity == 0 ? 0 : std::max<std::size_t>(1, capacity / kCacheShards)) {}

  enum class Hit { miss, valid, expired };
  Hit find(std::string_view token, Clock::time_point now, std::chrono::seconds leeway,
           std::shared_ptr<const Principal>& out) {
    if (per_shard_ == 0) return Hit::miss;
    const std::size_t h = std::hash<std::string_view>{}(token);
    Shard& shard = shards_[h % kCacheShards];
    std::lock_guard lock(shard.mu);
    auto it = shard.entries.find(token);
    if (it == shard.entries.end()) return Hit::miss;
    if (now >= it->second->expires + leeway) {
      shard.entries.erase(it);
      return Hit::expired;
    }
    out = it->second;
    return Hit::valid;
  }

  void insert(std::string_view token, std::shared_ptr<const Principal> principal, Clock::time_point now,
              std::chrono::seconds leeway) {
    if (per_shard_ == 0) return;
    const std::size_t h = std::hash<std::string_view>{}(token);
    Shard& shard = shards_[h % kCacheShards];
    std::lock_guard lock(shard.mu);
    if (shard.entries.size() >= per_shard_) {
      std::erase_if(shard.entries, [&](const auto& e) { return now >= e.second->expires + leeway; });
    }
    if (shard.entries.size() >= per_shard_) {
      // Still full of live tokens: drop every other one (which ones does not matter).
      bool drop = true;
      for (auto it = shard.entries.begin(); it != shard.entries.end();) {
        it = drop ? shard.entries.erase(it) : std::next(it);
        drop = !drop;
      }
    }
    shard.entries.insert_or_assign(std::string(token), std::move(principal));
  }

  [[nodiscard]] std::size_t size() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard.mu);
      n += shard.entries.size();
    }
    return n;
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const Principal>, Hash, std::equal_to<>> entries;
  };
  std::size_t per_shard_;
  std::array<Shard, kCacheShards> shards_;
};

struct ApiToken {
  std::string sha256_hex;
  std::shared_ptr<const Principal> principal;
};

struct IdentityRule {
  std::string subject;  // exactly one of subject / san is set
  std::string san;
  std::shared_ptr<const Principal> principal;
};

}  // namespace

struct Authenticator::Impl : std::enable_shared_from_this<Authenticator::Impl> {
  AuthConfig cfg;
  net::HttpClient* client = nullptr;
  Metrics* metrics = nullptr;
  bool jwt_enabled = false;
  bool allow_rs256 = false;
  bool allow_es256 = false;
  std::unordered_map<std::string, Role> role_map;
  std::vector<ApiToken> api_tokens;
  std::vector<IdentityRule> identity_rules;
  std::vector<AddressPrefix> trusted_proxies;
  TokenCache cache;

  mutable std::mutex keys_mu;
  std::shared_ptr<const JwkSet> keys = std::make_shared<JwkSet>();

  // JWKS refresh state.
  struct Waiter {
    std::string token;
    std::function<void(AuthOutcome)> done;
  };
  std::mutex refresh_mu;
  std::optional<std::chrono::steady_clock::time_point> last_unknown_kid_refresh;
  bool fetch_in_flight = false;
  std::vector<Waiter> waiters;

  // Periodic URL refresh.
  std::mutex timer_mu;
  std::condition_variable timer_cv;
  bool stopping = false;
  std::thread timer_thread;

  explicit Impl(const AuthConfig& config) : cfg(config), cache(config.jwt.cache_entries) {}

  [[nodiscard]] std::shared_ptr<const JwkSet> current_keys() const {
    std::lock_guard lock(keys_mu);
    return keys;
  }
  void replace_keys(JwkSet set) {
    auto fresh = std::make_shared<const JwkSet>(std::move(set));
    std::lock_guard lock(keys_mu);
    keys = std::move(fresh);
  }

  void finish(AuthOutcome outcome, const std::function<void(AuthOutcome)>& done) const {
    if (outcome.kind == AuthOutcome::Kind::failed && metrics) metrics->count_auth_failure(outcome.reason);
    done(std::move(outcome));
  }

  // ---- configuration ----

  void configure() {
    const auto& jwt = cfg.jwt;
    jwt_enabled = jwt.enabled || !jwt.jwks_file.empty() || !jwt.jwks_url.empty();
    if (jwt_enabled) configure_jwt();
    for (std::size_t i = 0; i < cfg.api_tokens.size(); ++i) {
      const auto& t = cfg.api_tokens[i];
      const std::string key = "auth.api_tokens[" + std::to_string(i) + "]";
      if (t.name.empty()) throw ConfigError(key + ".name", "is required");
      std::string hex = t.sha256;
      std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::tolower(c); });
      if (hex.size() != 64 ||
          !std::all_of(hex.begin(), hex.end(), [](unsigned char c) { return std::isxdigit(c) != 0; })) {
        throw ConfigError(key + ".sha256", "must be the 64 hex digits of the token's SHA-256");
      }
      auto principal = std::make_shared<Principal>();
      principal->method = Principal::Method::api_token;
      principal->subject = t.name;
      principal->roles = parse_roles(t.roles, key + ".roles");
      principal->tenant = t.tenant;
      api_tokens.push_back({std::move(hex), std::move(principal)});
    }
    for (std::size_t i = 0; i < cfg.client_identities.size(); ++i) {
      const auto& rule = cfg.client_identities[i];
      const std::string key = "auth.client_identities[" + std::to_string(i) + "]";
      if (rule.subject.empty() == rule.san.empty()) throw ConfigError(key, "set exactly one of subject and san");
      auto principal = std::make_shared<Principal>();
      principal->method = Principal::Method::client_certificate;
      principal->subject = rule.subject.empty() ? rule.san : rule.subject;
      principal->roles = parse_roles(rule.roles, key + ".roles");
      principal->tenant = rule.tenant;
      identity_rules.push_back({rule.subject, rule.san, std::move(principal)});
    }
    for (std::size_t i = 0; i < cfg.trusted_proxies.size(); ++i) {
      auto prefix = parse_prefix(cfg.trusted_proxies[i]);
      if (!prefix) {
        throw ConfigError("auth.trusted_proxies[" + std::to_string(i) + "]", "is not an IP address or CIDR");
      }
      trusted_proxies.push_back(*prefix);
    }
    if (!cfg.trusted_proxies.empty() && cfg.proxy_identity_header.empty()) {
      throw ConfigError("auth.proxy_identity_header", "is required with trusted_proxies");
    }
  }

  void configure_jwt() {
    const auto& jwt = cfg.jwt;
    if (jwt.jwks_file.empty() == jwt.jwks_url.empty()) {
      throw ConfigError("auth.jwt", "set exactly one of jwks_file and jwks_url");
    }
    if (jwt.issuer.empty()) throw ConfigError("auth.jwt.issuer", "is required");
    if (jwt.audiences.empty()) throw ConfigError("auth.jwt.audience", "is required");
    if (jwt.algorithms.empty()) throw ConfigError("auth.jwt.algorithms", "must name RS256, ES256 or both");
    for (const auto& alg : jwt.algorithms) {
      if (alg == "RS256") {
        allow_rs256 = true;
      } else if (alg == "ES256") {
        allow_es256 = true;
      } else {
        throw ConfigError("auth.jwt.algorithms", "'" + alg + "' is not supported (RS256, ES256)");
      }
    }
    if (jwt.roles_claim.empty()) throw ConfigError("auth.jwt.roles_claim", "is required");
    if (jwt.subject_claim.empty()) throw ConfigError("auth.jwt.subject_claim", "is required");
    for (const auto& [value, role_text] : jwt.role_map) {
      auto role = parse_role(role_text);
      if (!role) throw ConfigError("auth.jwt.role_map." + value, "'" + role_text + "' is not a role");
      role_map.emplace(value, *role);
    }
    if (!jwt.jwks_file.empty()) {
      std::string why;
      auto set = read_jwks_file(why);
      if (!set) throw ConfigError("auth.jwt.jwks_file", jwt.jwks_file.string() + ": " + why);
      replace_keys(std::move(*set));
    } else {
      auto url = net::parse_url(jwt.jwks_url);
      if (!url) throw ConfigError("auth.jwt.jwks_url", "is not an absolute http(s) URL");
      if (url->scheme == "http" && !is_loopback_host(url->host)) {
        throw ConfigError("auth.jwt.jwks_url", "must be https:// (http:// is allowed for loopback hosts only)");
      }
      if (!client) throw ConfigError("auth.jwt.jwks_url", "needs an outbound HTTP client");
    }
  }

  // ---- JWKS sources ----

  std::optional<JwkSet> parse_jwks(std::string_view text, std::string_view source, std::string& why) const {
    std::vector<std::string> skipped;
    try {
      auto set = JwkSet::parse(text, &skipped);
      for (const auto& s : skipped) spdlog::warn("JWKS {}: skipping {}", source, s);
      if (set.size() == 0) {
        why = "no usable signing key";
        return std::nullopt;
      }
      return set;
    } catch (const std::invalid_argument& e) {
      why = e.what();
      return std::nullopt;
    }
  }

  std::optional<JwkSet> read_jwks_file(std::string& why) const {
    std::ifstream in(cfg.jwt.jwks_file, std::ios::binary);
    if (!in) {
      why = "cannot be read";
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > kMaxJwksBytes) {
      why = "is larger than 1 MiB";
      return std::nullopt;
    }
    return parse_jwks(text.str(), cfg.jwt.jwks_file.string(), why);
  }

  void count_refresh(bool ok) const {
    if (metrics) metrics->count_jwks_refresh(ok ? "ok" : "failed");
  }

  // True (and the slot taken) when an unknown kid may trigger a refresh now.
  bool take_refresh_slot_locked() {
    const auto now = std::chrono::steady_clock::now();
    if (last_unknown_kid_refresh && now - *last_unknown_kid_refresh < cfg.jwt.jwks_min_refresh_interval) {
      return false;
    }
    last_unknown_kid_refresh = now;
    return true;
  }

  bool reload_file_if_allowed() {
    {
      std::lock_guard lock(refresh_mu);
      if (!take_refresh_slot_locked()) return false;
    }
    std::string why;
    auto set = read_jwks_file(why);
    if (!set) {
      // Keep the old keys: a half-written or broken file must not lock everyone out.
      spdlog::warn("JWKS {}: re-read failed ({}); keeping the previous keys", cfg.jwt.jwks_file.string(), why);
      count_refresh(false);
      return false;
    }
    replace_keys(std::move(*set));
    count_refresh(true);
    return true;
  }

  // Marks a fetch as running; false when one already is. Call with refresh_mu
  // held, then issue_fetch() after releasing it (the client may complete at once).
  bool claim_fetch_locked() {
    if (fetch_in_flight) return false;
    fetch_in_flight = true;
    return true;
  }

  void issue_fetch() {
    net::ClientRequest req;
    req.method = http::Method::get;
    req.url = cfg.jwt.jwks_url;
    req.headers.push_back({"Accept", "application/json"});
    req.timeout = kJwksFetchTimeout;
    req.max_response_bytes = kMaxJwksBytes;
    net::TlsOptions tls;
    tls.ca_file = cfg.jwt.jwks_ca_file;
    auto self = shared_from_this();
    client->request(std::move(req), tls, [self](net::ClientResult result) { self->on_fetched(std::move(result)); });
  }

  void on_fetched(net::ClientResult result) {
    std::string why;
    std::optional<JwkSet> set;
    if (!result.ok()) {
      why = result.error->message;
    } else if (result.response->status != 200) {
      why = "status " + std::to_string(result.response->status);
    } else {
      set = parse_jwks(result.response->body, cfg.jwt.jwks_url, why);
    }
    if (set) {
      replace_keys(std::move(*set));
      count_refresh(true);
    } else {
      spdlog::warn("JWKS {}: fetch failed ({}); keeping the previous keys", cfg.jwt.jwks_url, why);
      count_refresh(false);
    }
    std::vector<Waiter> ready;
    {
      std::lock_guard lock(refresh_mu);
      fetch_in_flight = false;
      ready.swap(waiters);
    }
    for (auto& w : ready) {
      auto check = check_jwt(w.token);
      finish(std::move(check.outcome), w.done);
    }
  }

  void timer_loop() {
    std::unique_lock lock(timer_mu);
    while (!stopping) {
      if (timer_cv.wait_for(lock, cfg.jwt.jwks_refresh_interval, [this] { return stopping; })) break;
      lock.unlock();
      bool fetch = false;
      {
        std::lock_guard refresh_lock(refresh_mu);
        fetch = claim_fetch_locked();
      }
      if (fetch) issue_fetch();
      lock.lock();
    }
  }

  // ---- credentials ----

  struct JwtCheck {
    AuthOutcome outcome;
    bool unknown_kid = false;
  };

  // Verifies a JWT against the current keys (no refresh) and caches it when valid.
  JwtCheck check_jwt(const std::string& token) {
    std::string why;
    auto parts = split_jwt(token, why);
    if (!parts) return {token_refused("malformed token", "malformed")};
    const auto header = nlohmann::json::parse(parts->header_json, nullptr, false);
    const auto alg_it = header.find("alg");
    if (!header.is_object() || alg_it == header.end() || !alg_it->is_string()) {
      return {token_refused("malformed token", "malformed")};
    }
    const auto& alg = alg_it->get_ref<const std::string&>();
    const bool allowed = (alg == "RS256" && allow_rs256) || (alg == "ES256" && allow_es256);
    if (!allowed) return {token_refused(describe_alg(alg), "alg")};
    std::string kid;
    if (auto it = header.find("kid"); it != header.end()) {
      if (!it->is_string()) return {token_refused("malformed token", "malformed")};
      kid = it->get<std::string>();
      if (kid.empty()) return {token_refused("malformed token", "malformed")};
    }
    const auto keys_now = current_keys();
    const JwkKey* key = keys_now->find(kid);
    if (!key) {
      if (kid.empty() && keys_now->size() > 1) {
        return {token_refused("the token names no signing key id (kid)", "unknown_kid")};
      }
      return {token_refused("unknown signing key id", "unknown_kid"), true};
    }
    if (!verify_jws_signature(*key, alg, parts->signing_input, parts->signature)) {
      return {token_refused("signature verification failed", "bad_signature")};
    }
    return {check_claims(token, parts->payload_json)};
  }

  AuthOutcome check_claims(const std::string& token, const std::string& payload_json) {
    const auto& jwt = cfg.jwt;
    const auto payload = nlohmann::json::parse(payload_json, nullptr, false);
    if (!payload.is_object()) return token_refused("malformed token", "malformed");
    const auto now_tp = Clock::now();
    const double now = seconds_since_epoch(now_tp);
    const auto leeway = static_cast<double>(jwt.leeway.count());

    const std::string* iss = nullptr;
    if (auto it = payload.find("iss"); it != payload.end() && it->is_string()) {
      iss = it->get_ptr<const std::string*>();
    }
    if (!iss || *iss != jwt.issuer) return token_refused("unexpected issuer", "issuer");

    bool audience_ok = false;
    auto audience_matches = [&](const nlohmann::json& v) {
      return v.is_string() && std::find(jwt.audiences.begin(), jwt.audiences.end(), v.get_ref<const std::string&>()) !=
                                  jwt.audiences.end();
    };
    if (auto it = payload.find("aud"); it != payload.end()) {
      if (it->is_array()) {
        audience_ok = std::any_of(it->begin(), it->end(), audience_matches);
      } else {
        audience_ok = audience_matches(*it);
      }
    }
    if (!audience_ok) return token_refused("the token is not meant for this audience", "audience");

    double exp = 0;
    switch (numeric_date(payload, "exp", exp)) {
      case DateClaim::absent: return token_refused("the token has no expiry (exp)", "malformed");
      case DateClaim::invalid: return token_refused("malformed token: exp is not a number", "malformed");
      case DateClaim::valid: break;
    }
    if (!(now < exp + leeway)) return token_refused("the token has expired", "expired");
    double nbf = 0;
    switch (numeric_date(payload, "nbf", nbf)) {
      case DateClaim::absent: break;
      case DateClaim::invalid: return token_refused("malformed token: nbf is not a number", "malformed");
      case DateClaim::valid:
        if (now < nbf - leeway) return token_refused("the token is not valid yet", "not_yet_valid");
        break;
    }
    double iat = 0;
    switch (numeric_date(payload, "iat", iat)) {
      case DateClaim::absent: break;
      case DateClaim::invalid: return token_refused("malformed token: iat is not a number", "malformed");
      case DateClaim::valid:
        if (iat > now + leeway) return token_refused("the token is issued in the future", "not_yet_valid");
        break;
    }

    auto principal = std::make_shared<Principal>();
    principal->method = Principal::Method::jwt;
    principal->expires = to_time_point(exp);
    const auto* subject = claim_at(payload, jwt.subject_claim);
    if (!subject || !subject->is_string() || subject->get_ref<const std::string&>().empty()) {
      return token_refused("the token has no subject", "malformed");
    }
    principal->subject = subject->get<std::string>();
    if (const auto* roles = claim_at(payload, jwt.roles_claim)) add_roles(*roles, principal->roles);
    if (!jwt.tenant_claim.empty()) {
      if (const auto* tenant = claim_at(payload, jwt.tenant_claim); tenant && tenant->is_string()) {
        principal->tenant = tenant->get<std::string>();
      }
    }
    std::shared_ptr<const Principal> shared = std::move(principal);
    cache.insert(token, shared, now_tp, jwt.leeway);
    return authenticated(std::move(shared));
  }

  void add_role_value(std::string_view value, RoleSet& roles) const {
    if (value.empty()) return;
    if (auto it = role_map.find(std::string(value)); it != role_map.end()) {
      roles.add(it->second);
    } else if (auto role = parse_role(value)) {
      roles.add(*role);
    }
  }

  void add_roles(const nlohmann::json& claim, RoleSet& roles) const {
    if (claim.is_array()) {
      for (const auto& v : claim) {
        if (v.is_string()) add_role_value(v.get_ref<const std::string&>(), roles);
      }
    } else if (claim.is_string()) {
      std::string_view rest = claim.get_ref<const std::string&>();
      while (!rest.empty()) {
        const auto space = rest.find(' ');
        add_role_value(rest.substr(0, space), roles);
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
      }
    }
  }

  void authenticate_jwt(std::string_view token_view, const std::function<void(AuthOutcome)>& done) {
    const auto now = Clock::now();
    std::shared_ptr<const Principal> cached;
    switch (cache.find(token_view, now, cfg.jwt.leeway, cached)) {
      case TokenCache::Hit::valid: return done(authenticated(std::move(cached)));
      case TokenCache::Hit::expired: return finish(token_refused("the token has expired", "expired"), done);
      case TokenCache::Hit::miss: break;
    }
    std::string token(token_view);
    auto check = check_jwt(token);
    if (!check.unknown_kid) return finish(std::move(check.outcome), done);

    if (!cfg.jwt.jwks_file.empty()) {
      if (reload_file_if_allowed()) check = check_jwt(token);
      return finish(std::move(check.outcome), done);
    }
    bool parked = false;
    bool fetch = false;
    {
      std::lock_guard lock(refresh_mu);
      // Join a fetch already running; else start one if the rate limit allows.
      if (waiters.size() < kMaxWaitingRequests && (fetch_in_flight || take_refresh_slot_locked())) {
        waiters.push_back({std::move(token), done});
        parked = true;
        fetch = claim_fetch_locked();
      }
    }
    if (fetch) issue_fetch();
    if (!parked) finish(std::move(check.outcome), done);
  }

  void authenticate_api_token(std::string_view token, const std::function<void(AuthOutcome)>& done) const {
    const std::string digest = sha256_hex(token);
    const ApiToken* match = nullptr;
    // Every entry is compared, in constant time, so timing reveals neither which
    // token matched nor how much of a digest did.
    for (const auto& t : api_tokens) {
      if (CRYPTO_memcmp(t.sha256_hex.data(), digest.data(), digest.size()) == 0) match = &t;
    }
    if (!match) return finish(token_refused("unknown API token", "unknown_api_token"), done);
    done(authenticated(match->principal));
  }

  [[nodiscard]] bool peer_is_trusted_proxy(const std::string& peer_ip) const {
    if (trusted_proxies.empty() || peer_ip.empty()) return false;
    auto ip = parse_ip(peer_ip);
    if (!ip) return false;
    return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                       [&](const AddressPrefix& p) { return prefix_contains(p, *ip); });
  }

  // The identity rule for a subject and SANs; a verified identity no rule names
  // still authenticates, with no roles (authorization then refuses it).
  std::shared_ptr<const Principal> identity_principal(const std::string& subject, const std::vector<std::string>& sans,
                                                      Principal::Method method) const {
    const IdentityRule* match = nullptr;
    for (const auto& rule : identity_rules) {
      if (!rule.subject.empty() && rule.subject == subject) {
        match = &rule;
        break;
      }
    }
    if (!match) {
      for (const auto& rule : identity_rules) {
        if (!rule.san.empty() && std::find(sans.begin(), sans.end(), rule.san) != sans.end()) {
          match = &rule;
          break;
        }
      }
    }
    if (match && method == Principal::Method::client_certificate) return match->principal;
    auto principal = std::make_shared<Principal>();
    principal->method = method;
    if (match) {
      *principal = *match->principal;
      principal->method = method;
    } else {
      principal->subject = subject.empty() && !sans.empty() ? sans.front() : subject;
    }
    return principal;
  }

  void authenticate(const http::Request& req, const std::function<void(AuthOutcome)>& done) {
    if (!req.query.empty()) {
      std::string ignored;
      if (req.query_param("access_token", ignored)) {
        return finish(refused(400, "invalid_request",
                              "credentials in the query string are refused; send them in the Authorization header",
                              "token_in_query"),
                      done);
      }
    }
    const std::string_view authorization = trim(req.header("Authorization"));
    if (!authorization.empty()) {
      const auto space = authorization.find_first_of(" \t");
      const auto scheme = authorization.substr(0, space);
      if (!iequals(scheme, "Bearer")) {
        return finish(refused(401, "invalid_request", "only the Bearer authorization scheme is accepted", "scheme"),
                      done);
      }
      const auto token = space == std::string_view::npos ? std::string_view{} : trim(authorization.substr(space));
      if (token.empty())
        return finish(refused(401, "invalid_request", "the bearer token is empty", "empty_token"), done);
      if (token.size() > cfg.jwt.max_token_bytes) {
        return finish(
            token_refused("the token exceeds " + std::to_string(cfg.jwt.max_token_bytes) + " bytes", "too_large"),
            done);
      }
      if (token.find('.') == std::string_view::npos) return authenticate_api_token(token, done);
      if (!jwt_enabled) return finish(token_refused("JWT bearer tokens are not accepted", "malformed"), done);
      return authenticate_jwt(token, done);
    }
    if (!cfg.proxy_identity_header.empty()) {
      const std::string_view forwarded = trim(req.header(cfg.proxy_identity_header));
      if (!forwarded.empty()) {
        if (req.conn && peer_is_trusted_proxy(req.conn->peer_ip)) {
          return done(authenticated(identity_principal(std::string(forwarded), {}, Principal::Method::trusted_proxy)));
        }
        // Anyone could send the header; only the configured proxies are believed.
        if (metrics) metrics->count_auth_failure("untrusted_identity_header");
      }
    }
    if (req.conn && (!req.conn->client_subject.empty() || !req.conn->client_sans.empty())) {
      return done(authenticated(
          identity_principal(req.conn->client_subject, req.conn->client_sans, Principal::Method::client_certificate)));
    }
    done(AuthOutcome{});
  }
};

Authenticator::Authenticator(const AuthConfig& cfg, net::HttpClient* client, Metrics* metrics)
    : impl_(std::make_shared<Impl>(cfg)) {
  impl_->client = client;
  impl_->metrics = metrics;
  impl_->configure();
}

Authenticator::~Authenticator() {
  stop();
}

void Authenticator::authenticate(const http::Request& req, std::function<void(AuthOutcome)> done) {
  impl_->authenticate(req, done);
}

void Authenticator::start() {
  if (!impl_->jwt_enabled || impl_->cfg.jwt.jwks_url.empty() || impl_->timer_thread.joinable()) return;
  bool fetch = false;
  {
    std::lock_guard lock(impl_->refresh_mu);
    fetch = impl_->claim_fetch_locked();
  }
  if (fetch) impl_->issue_fetch();
  impl_->timer_thread = std::thread([impl = impl_.get()] { impl->timer_loop(); });
}

void Authenticator::stop() {
  {
    std::lock_guard lock(impl_->timer_mu);
    impl_->stopping = true;
  }
  impl_->timer_cv.notify_all();
  if (impl_->timer_thread.joinable()) impl_->timer_thread.join();
}

std::size_t Authenticator::cached_tokens() const {
  return impl_->cache.size();
}

std::size_t Authenticator::known_keys() const {
  return impl_->current_keys()->size();
}

}  // namespace o2gw
