#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "o2gw/webhook.hpp"

namespace o2gw {

namespace {

constexpr std::size_t kMaxUrlLength = 2048;  // docs/configuration.md promises this limit
constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxShownLength = 100;

// An IPv4 address keeps its 4 bytes at the front; IPv4-mapped IPv6 addresses are
// stored as IPv4 so that one set of IPv4 rules covers both spellings.
struct Address {
  bool v4 = true;
  std::array<std::uint8_t, 16> bytes{};

  [[nodiscard]] std::size_t size() const { return v4 ? 4 : 16; }
  [[nodiscard]] std::string to_string() const {
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
  }
};

struct Network {
  Address base;
  unsigned prefix = 0;

  [[nodiscard]] bool contains(const Address& a) const {
    if (a.v4 != base.v4) return false;
    const unsigned full_bytes = prefix / 8;
    if (std::memcmp(a.bytes.data(), base.bytes.data(), full_bytes) != 0) return false;
    const unsigned rest = prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (a.bytes[full_bytes] & mask) == (base.bytes[full_bytes] & mask);
  }
};

bool is_ipv4_mapped(const std::array<std::uint8_t, 16>& b) {
  static constexpr std::array<std::uint8_t, 12> kPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::equal(kPrefix.begin(), kPrefix.end(), b.begin());
}

Address unmap(Address a) {
  if (!a.v4 && is_ipv4_mapped(a.bytes)) {
    Address v4;
    std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
    return v4;
  }
  return a;
}

// Strict literals only (inet_pton): "127.1" or "0x7f.1" are not addresses here.
std::optional<Address> parse_ip_literal(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  Address a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v4 = false;
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return unmap(a);
  return std::nullopt;
}

// The WHATWG URL parser (and getaddrinfo) read "2130706433", "0x7f.1" or "0177.0.0.1"
// as IPv4 addresses; a guard that took them for names could be walked around.
std::optional<std::uint64_t> parse_ipv4_number(std::string_view part) {
  if (part.empty()) return std::nullopt;
  unsigned radix = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    radix = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    radix = 8;
    part.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : part) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (digit >= radix) return std::nullopt;
    value = value * radix + digit;
    if (value > 0xFFFFFFFFULL) return std::nullopt;
  }
  return value;
}

std::optional<Address> parse_loose_ipv4(std::string_view host) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t dot = host.find('.');
    parts.push_back(host.substr(0, dot));
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  if (parts.size() > 4) return std::nullopt;
  std::vector<std::uint64_t> numbers;
  for (auto part : parts) {
    auto n = parse_ipv4_number(part);
    if (!n) return std::nullopt;
    numbers.push_back(*n);
  }
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] > 255) return std::nullopt;
  }
  // The last number fills all the bytes the earlier ones left.
  const std::size_t last_bytes = 5 - numbers.size();
  if (numbers.back() >= (1ULL << (8 * last_bytes))) return std::nullopt;
  std::uint32_t value = static_cast<std::uint32_t>(numbers.back());
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    value |= static_cast<std::uint32_t>(numbers[i]) << (8 * (3 - i));
  }
  Address a;
  a.bytes[0] = static_cast<std::uint8_t>(value >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(value >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(value >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(value);
  return a;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A last label that is a number makes the whole host an IPv4 address (WHATWG "ends in a number").
bool ends_in_number(std::string_view host) {
  const std::size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;
  return last.size() >= 2 && last[0] == '0' && last[1] == 'x' && std::all_of(last.begin() + 2, last.end(), is_hex_digit);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Text from outside, made safe to put into a reason or an exception message.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxShownLength)) {
    out.push_back(c > 0x20 && c < 0x7F ? c : '?');
  }
  if (text.size() > kMaxShownLength) out += "...";
  return out;
}

struct Host {
  enum class Kind { name, address, invalid };
  Kind kind = Kind::invalid;
  std::string name;  // lower case, without a trailing dot (Kind::name)
  Address address;   // Kind::address
  std::string why;   // Kind::invalid
};

// Host names are lower-cased and lose one trailing dot ("Metadata." is "metadata").
Host classify_host(std::string_view text) {
  Host h;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    auto a = parse_ip_literal(text.substr(1, text.size() - 2));
    if (!a || text.find(':') == std::string_view::npos) {
      h.why = "is not a valid IPv6 address";
      return h;
    }
    h.kind = Host::Kind::address;
    h.address = *a;
    return h;
  }
  if (auto a = parse_ip_literal(text)) {
    h.kind = Host::Kind::address;
    h.address = *a;
    return h;
  }
  std::string name = to_lower(text);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) {
    h.why = "is empty";
    return h;
  }
  if (name.size() > kMaxHostLength) {
    h.why = "is longer than 253 characters";
    return h;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      h.why = "contains a character that is not allowed in a host name (international names must be punycode)";
      return h;
    }
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::size_t length = dot - start;
    if (length == 0 || length > kMaxLabelLength) {
      h.why = "has an empty or over-long label";
      return h;
    }
    start = dot + 1;
  }
  if (ends_in_number(name)) {
    auto a = parse_loose_ipv4(name);
    if (!a) {
      h.why = "is not a valid IPv4 address";
      return h;
    }
    h.kind = Host::Kind::address;
    h.address = *a;
    return h;
  }
  h.kind = Host::Kind::name;
  h.name = std::move(name);
  return h;
}

struct HostPattern {
  std::string name;         // lower case, no trailing dot
  bool subdomains = false;  // "*.name": strict subdomains of name, not name itself

  [[nodiscard]] bool matches(std::string_view host) const {
    if (!subdomains) return host == name;
    return host.size() > name.size() + 1 && host.ends_with(name) && host[host.size() - name.size() - 1] == '.';
  }
};

Network network_from_address(const Address& a) { return Network{a, a.v4 ? 32U : 128U}; }

std::optional<Network> parse_cidr(std::string_view text, std::string& why) {
  const std::size_t slash = text.find('/');
  auto address = parse_ip_literal(text.substr(0, slash));
  if (!address) {
    why = "is not a valid IP address or CIDR";
    return std::nullopt;
  }
  const std::string_view prefix_text = text.substr(slash + 1);
  const bool written_as_v6 = text.substr(0, slash).find(':') != std::string_view::npos;
  const unsigned max_prefix = written_as_v6 ? 128 : 32;
  if (prefix_text.empty() || prefix_text.size() > 3 ||
      !std::all_of(prefix_text.begin(), prefix_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    why = "has an invalid prefix length";
    return std::nullopt;
  }
  unsigned prefix = 0;
  for (char c : prefix_text) prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  if (prefix > max_prefix) {
    why = "has a prefix length over " + std::to_string(max_prefix);
    return std::nullopt;
  }
  if (written_as_v6 && address->v4) {
    // ::ffff:a.b.c.d/n is an IPv4 network when it lies within ::ffff:0:0/96.
    if (prefix < 96) {
      why = "mixes the IPv4-mapped range with other IPv6 addresses (prefix below 96)";
      return std::nullopt;
    }
    prefix -= 96;
  }
  Network net{*address, prefix};
  // Host bits set usually mean a typo ("10.1.2.0/16" for /24); say so rather than widen.
  Network masked = net;
  for (unsigned bit = prefix; bit < address->size() * 8; ++bit) {
    masked.base.bytes[bit / 8] = static_cast<std::uint8_t>(masked.base.bytes[bit / 8] & ~(0x80U >> (bit % 8)));
  }
  if (masked.base.bytes != net.base.bytes) {
    why = "has bits set after the prefix length (did you mean " + masked.base.to_string() + "/" +
          std::string(prefix_text) + "?)";
    return std::nullopt;
  }
  return net;
}

struct BuiltinRefusal {
  Network net;
  const char* what;
};

Network net(const char* text, unsigned prefix) {
  Network n{*parse_ip_literal(text), prefix};
  return n;
}

const std::vector<BuiltinRefusal>& builtin_refusals() {
  static const std::vector<BuiltinRefusal> refusals = {
      {net("0.0.0.0", 8), "an unspecified address"},
      {net("127.0.0.0", 8), "a loopback address"},
      {net("169.254.0.0", 16), "a link-local address"},
      {net("224.0.0.0", 4), "a multicast address"},
      {net("255.255.255.255", 32), "the broadcast address"},
      {net("::", 128), "the unspecified address"},
      {net("::1", 128), "a loopback address"},
      {net("fe80::", 10), "a link-local address"},
      {net("ff00::", 8), "a multicast address"},
      {net("fd00:ec2::254", 128), "a cloud metadata address"},
  };
  return refusals;
}

const std::vector<std::pair<HostPattern, const char*>>& builtin_name_refusals() {
  static const std::vector<std::pair<HostPattern, const char*>> refusals = {
      {{"metadata.google.internal", false}, "a cloud metadata host name"},
      {{"metadata", false}, "a cloud metadata host name"},
      {{"instance-data", false}, "a cloud metadata host name"},
      {{"instance-data.ec2.internal", false}, "a cloud metadata host name"},
      {{"localhost", false}, "a loopback host name"},
      {{"localhost", true}, "a loopback host name"},
  };
  return refusals;
}

const char* builtin_refusal(const Address& a) {
  for (const auto& r : builtin_refusals()) {
    if (r.net.contains(a)) return r.what;
  }
  // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last four bytes.
  static const Network nat64 = net("64:ff9b::", 96);
  if (nat64.contains(a)) {
    Address embedded;
    std::copy(a.bytes.begin() + 12, a.bytes.end(), embedded.bytes.begin());
    for (const auto& r : builtin_refusals()) {
      if (r.net.contains(embedded)) return r.what;
    }
  }
  return nullptr;
}

// How reasons name an address: "callback host 0x7f000001 (127.0.0.1)" is ..., or for
// a resolved name "callback host smo.example resolves to 10.0.0.1", which is ...
struct Subject {
  std::string text;
  bool resolved = false;

  [[nodiscard]] std::string is(std::string_view predicate) const {
    return text + (resolved ? ", which is " : " is ") + std::string(predicate);
  }
  [[nodiscard]] std::string is_a(std::string_view what) const {
    return text + (resolved ? ", " : " is ") + std::string(what) + " (refused by default)";
  }
};

}  // namespace

struct CallbackGuard::Rules {
  std::vector<HostPattern> allow_hosts;
  std::vector<Network> allow_networks;
  std::vector<HostPattern> deny_hosts;
  std::vector<Network> deny_networks;

  [[nodiscard]] bool has_allow_list() const { return !allow_hosts.empty() || !allow_networks.empty(); }

  static bool any_host(const std::vector<HostPattern>& patterns, std::string_view host) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const auto& p) { return p.matches(host); });
  }
  static bool any_network(const std::vector<Network>& networks, const Address& a) {
    return std::any_of(networks.begin(), networks.end(), [&](const auto& n) { return n.contains(a); });
  }

  void add(std::string_view list, std::string_view entry, std::vector<HostPattern>& hosts,
           std::vector<Network>& networks) {
    auto fail = [&](const std::string& why) {
      throw std::invalid_argument("callback guard " + std::string(list) + " entry '" + shown(entry) + "' " + why);
    };
    if (entry.empty()) fail("is empty");
    if (entry.find('/') != std::string_view::npos) {
      std::string why;
      auto n = parse_cidr(entry, why);
      if (!n) fail(why);
      networks.push_back(*n);
      return;
    }
    const bool wildcard = entry.starts_with("*.");
    const Host h = classify_host(wildcard ? entry.substr(2) : entry);
    switch (h.kind) {
      case Host::Kind::invalid: fail(h.why); break;
      case Host::Kind::address:
        if (wildcard) fail("puts a wildcard in front of an IP address");
        // Only canonical literals in config: "127.1" is too easily misread.
        if (!(entry.front() == '[' || parse_ip_literal(entry))) fail("is not a valid IP address");
        networks.push_back(network_from_address(h.address));
        break;
      case Host::Kind::name: hosts.push_back(HostPattern{h.name, wildcard}); break;
    }
  }

  [[nodiscard]] std::optional<std::string> check_name(const std::string& name) const {
    if (any_host(deny_hosts, name)) return "callback host " + name + " is on the deny list";
    if (has_allow_list()) {
      if (any_host(allow_hosts, name)) return std::nullopt;
      // Address entries can only be judged once the name is resolved (check_address).
      if (!allow_networks.empty()) return std::nullopt;
      return "callback host " + name + " is not on the allow list";
    }
    for (const auto& [pattern, what] : builtin_name_refusals()) {
      if (pattern.matches(name)) return "callback host " + name + " is " + what + " (refused by default)";
    }
    return std::nullopt;
  }

  // `name` is empty when the host was itself an address; `subject` names it in reasons.
  [[nodiscard]] std::optional<std::string> check_address(const Subject& subject, const std::string& name,
                                                         const Address& a) const;
};

std::optional<std::string> CallbackGuard::Rules::check_address(const Subject& subject, const std::string& name,
                                                               const Address& a) const {
  if (any_network(deny_networks, a) || (!name.empty() && any_host(deny_hosts, name))) {
    return subject.is("on the deny list");
  }
  if (has_allow_list()) {
    if (any_network(allow_networks, a) || (!name.empty() && any_host(allow_hosts, name))) return std::nullopt;
    return subject.is("not on the allow list");
  }
  if (const char* what = builtin_refusal(a)) return subject.is_a(what);
  return std::nullopt;
}

namespace {

Subject address_subject(std::string_view host_text, const std::string& name, const Address& a) {
  const std::string canonical = a.to_string();
  if (!name.empty()) return {"callback host " + name + " resolves to " + canonical, true};
  if (host_text.empty()) return {"callback address " + canonical, false};
  const std::string host = to_lower(host_text);
  std::string_view bare = host;
  if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  if (bare == canonical) return {"callback host " + shown(host), false};
  return {"callback host " + shown(host) + " (" + canonical + ")", false};
}

}  // namespace

CallbackGuard::CallbackGuard(CallbackGuardOptions options) {
  auto rules = std::make_shared<Rules>();
  for (const auto& entry : options.allow) rules->add("allow", entry, rules->allow_hosts, rules->allow_networks);
  for (const auto& entry : options.deny) rules->add("deny", entry, rules->deny_hosts, rules->deny_networks);
  rules_ = std::move(rules);
}

std::optional<std::string> CallbackGuard::check_url(std::string_view url) const {
  if (url.empty()) return "callback URL is empty";
  if (url.size() > kMaxUrlLength) return "callback URL is longer than " + std::to_string(kMaxUrlLength) + " characters";
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return "callback URL contains a space, control or non-ASCII character";
    // Parsers disagree on whether "\" separates the host; refuse rather than guess.
    if (c == '\\') return "callback URL contains a backslash";
  }

  const std::size_t colon = url.find(':');
  const std::string_view scheme = url.substr(0, colon == std::string_view::npos ? 0 : colon);
  const bool scheme_syntax_ok =
      !scheme.empty() && std::isalpha(static_cast<unsigned char>(scheme[0])) &&
      std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      });
  if (!scheme_syntax_ok) return "callback URL must be absolute (http:// or https://)";
  const std::string scheme_lower = to_lower(scheme);
  if (scheme_lower != "http" && scheme_lower != "https") {
    return "callback URL scheme '" + shown(scheme) + "' is not allowed (only http and https)";
  }
  std::string_view rest = url.substr(colon + 1);
  if (!rest.starts_with("//")) return "callback URL must be absolute (http:// or https://)";
  if (url.find('#') != std::string_view::npos) return "callback URL must not contain a fragment";
  rest.remove_prefix(2);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) return "callback URL must not contain user information";

  std::string_view host;
  std::optional<std::string_view> port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "callback URL has an unterminated IPv6 address";
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "callback URL has characters after the IPv6 address";
      port = after.substr(1);
    }
  } else {
    const std::size_t port_colon = authority.find(':');
    host = authority.substr(0, port_colon);
    if (port_colon != std::string_view::npos) {
      port = authority.substr(port_colon + 1);
      if (port->find(':') != std::string_view::npos) {
        return "callback URL host contains ':' (IPv6 addresses must be in brackets)";
      }
    }
  }
  if (host.empty()) return "callback URL has no host";
  if (port) {
    const bool digits = !port->empty() && port->size() <= 5 &&
                        std::all_of(port->begin(), port->end(), [](char c) { return c >= '0' && c <= '9'; });
    unsigned value = 0;
    if (digits) {
      for (char c : *port) value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!digits || value < 1 || value > 65535) {
      return "callback URL port '" + shown(*port) + "' is not a number from 1 to 65535";
    }
  }

  const Host h = classify_host(host);
  switch (h.kind) {
    case Host::Kind::invalid: return "callback host " + shown(host) + " " + h.why;
    case Host::Kind::name: return rules_->check_name(h.name);
    case Host::Kind::address: return rules_->check_address(address_subject(host, "", h.address), "", h.address);
  }
  return "callback host " + shown(host) + " is not valid";
}

std::optional<std::string> CallbackGuard::check_address(std::string_view host, std::string_view ip) const {
  std::string_view ip_text = ip;
  if (ip_text.size() >= 2 && ip_text.front() == '[' && ip_text.back() == ']') {
    ip_text = ip_text.substr(1, ip_text.size() - 2);
  }
  const auto address = parse_ip_literal(ip_text);
  if (!address) return "callback address '" + shown(ip) + "' is not an IP address";

  std::string name;
  if (!host.empty()) {
    const Host h = classify_host(host);
    if (h.kind == Host::Kind::invalid) return "callback host " + shown(host) + " " + h.why;
    if (h.kind == Host::Kind::name) {
      if (auto refusal = rules_->check_name(h.name)) return refusal;
      name = h.name;
    } else if (auto refusal = rules_->check_address(address_subject(host, "", h.address), "", h.address)) {
      // A literal host is its own address; judge it too in case a caller resolved it differently.
      return refusal;
    }
  }
  return rules_->check_address(address_subject(name.empty() ? std::string_view{} : host, name, *address), name,
                               *address);
}

}  // namespace o2gw
