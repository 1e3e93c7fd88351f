#include "o2gw/config.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "o2gw/auth.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

nlohmann::json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  // Quoted scalars stay strings; plain scalars are typed the way YAML 1.2 core does.
  if (n.Tag() == "!") return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+')) {
    std::size_t pos = 0;
    try {
      long long v = std::stoll(s, &pos);
      if (pos == s.size()) return v;
    } catch (...) {
    }
    try {
      double d = std::stod(s, &pos);
      if (pos == s.size()) return d;
    } catch (...) {
    }
  }
  return s;
}

nlohmann::json node_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      auto arr = nlohmann::json::array();
      for (const auto& item : n) arr.push_back(node_to_json(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      auto obj = nlohmann::json::object();
      for (const auto& kv : n) {
        std::string key = kv.first.as<std::string>();
        if (obj.contains(key)) {
          throw ConfigError(key, "duplicate key at line " + std::to_string(kv.first.Mark().line + 1));
        }
        obj[key] = node_to_json(kv.second);
      }
      return obj;
    }
  }
  return nullptr;
}

std::string type_name(const nlohmann::json& j) {
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_array()) return "a list";
  if (j.is_object()) return "a mapping";
  return "null";
}

std::chrono::milliseconds ms(std::int64_t v) { return std::chrono::milliseconds(v); }

}  // namespace

std::string_view category_name(Category c) {
  switch (c) {
    case Category::ims: return "ims";
    case Category::dms: return "dms";
    case Category::smo: return "smo";
  }
  return "unknown";
}

nlohmann::json yaml_to_json(const std::string& text, const std::string& origin) {
  try {
    YAML::Node root = YAML::Load(text);
    return node_to_json(root);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ":" + std::to_string(e.mark.line + 1), e.msg);
  }
}

SectionReader::SectionReader(const nlohmann::json& section, std::string prefix)
    : section_(section.is_null() ? nlohmann::json::object() : section), prefix_(std::move(prefix)) {
  if (!section_.is_object()) {
    throw ConfigError(prefix_.empty() ? "(root)" : prefix_,
                      "must be a mapping, not " + type_name(section_));
  }
}

std::string SectionReader::path(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "." + key;
}

bool SectionReader::has(const std::string& key) const {
  return section_.contains(key) && !section_.at(key).is_null();
}

const nlohmann::json* SectionReader::find(const std::string& key) {
  seen_.push_back(key);
  auto it = section_.find(key);
  if (it == section_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string SectionReader::string(const std::string& key, std::optional<std::string> def) {
  const auto* v = find(key);
  if (v == nullptr) {
    if (def) return *def;
    throw ConfigError(path(key), "is required");
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<std::int64_t>());
  throw ConfigError(path(key), "must be a string, not " + type_name(*v));
}

std::int64_t SectionReader::integer(const std::string& key, std::optional<std::int64_t> def,
                                    std::int64_t min, std::int64_t max) {
  const auto* v = find(key);
  std::int64_t out = 0;
  if (v == nullptr) {
    if (!def) throw ConfigError(path(key), "is required");
    out = *def;
  } else if (v->is_number_integer()) {
    out = v->get<std::int64_t>();
  } else if (v->is_string()) {
    // Environment overrides arrive as strings.
    const auto& s = v->get_ref<const std::string&>();
    std::size_t pos = 0;
    try {
      out = std::stoll(s, &pos);
    } catch (...) {
      pos = 0;
    }
    if (pos == 0 || pos != s.size()) throw ConfigError(path(key), "must be an integer, not '" + s + "'");
  } else {
    throw ConfigError(path(key), "must be an integer, not " + type_name(*v));
  }
  if (out < min || out > max) {
    throw ConfigError(path(key), "must be between " + std::to_string(min) + " and " +
                                     std::to_string(max) + ", got " + std::to_string(out));
  }
  return out;
}

bool SectionReader::boolean(const std::string& key, std::optional<bool> def) {
  const auto* v = find(key);
  if (v == nullptr) {
    if (def) return *def;
    throw ConfigError(path(key), "is required");
  }
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  throw ConfigError(path(key), "must be true or false");
}

nlohmann::json SectionReader::object(const std::string& key) {
  const auto* v = find(key);
  if (v == nullptr) return nlohmann::json::object();
  if (!v->is_object()) throw ConfigError(path(key), "must be a mapping, not " + type_name(*v));
  return *v;
}

nlohmann::json SectionReader::array(const std::string& key) {
  const auto* v = find(key);
  if (v == nullptr) return nlohmann::json::array();
  if (!v->is_array()) throw ConfigError(path(key), "must be a list, not " + type_name(*v));
  return *v;
}

void SectionReader::finish() const {
  for (const auto& [key, value] : section_.items()) {
    if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
      throw ConfigError(path(key), "unknown key");
    }
  }
}

nlohmann::json default_config_document() {
  return nlohmann::json::parse(R"({
    "server": {"listen": "0.0.0.0:8080"},
    "ocloud": {"name": "o2gw-example-ocloud",
               "description": "Example O-Cloud served by o2gw from the embedded file inventory"},
    "adapters": [
      {"name": "example-file", "category": "ims", "type": "file", "priority": 100,
       "config": {"path": "deploy/inventory/example-inventory.yaml"}}
    ]
  })");
}

namespace {

// O2GW_SERVER__LIMITS__HEADER_BYTES=32768 sets server.limits.header_bytes.
// Lists are indexed: O2GW_ADAPTERS__0__CONFIG__PATH=/x.yaml.
void apply_env(nlohmann::json& doc, char** env) {
  if (env == nullptr) return;
  constexpr std::string_view kPrefix = "O2GW_";
  for (char** e = env; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, kPrefix.size()) != kPrefix) continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(entry.substr(kPrefix.size(), eq - kPrefix.size()));
    std::string value(entry.substr(eq + 1));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Only variables naming a top-level section are ours: Kubernetes injects
    // O2GW_SERVICE_HOST, O2GW_PORT... for a Service called o2gw, and those must not fail start-up.
    static constexpr std::string_view kSections[] = {"server", "ocloud", "log",     "data_dir",
                                                     "registry", "adapters", "query",
                                                     "subscriptions", "webhooks", "alarms",
                                                     "auth", "rate_limit", "audit"};
    std::string_view head = std::string_view(name).substr(0, name.find("__"));
    if (std::find(std::begin(kSections), std::end(kSections), head) == std::end(kSections)) continue;
    std::vector<std::string> parts;
    for (std::size_t pos = 0;;) {
      auto sep = name.find("__", pos);
      parts.push_back(name.substr(pos, sep == std::string::npos ? std::string::npos : sep - pos));
      if (sep == std::string::npos) break;
      pos = sep + 2;
    }
    nlohmann::json* node = &doc;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& p = parts[i];
      bool last = i + 1 == parts.size();
      bool index = !p.empty() && std::all_of(p.begin(), p.end(), ::isdigit);
      if (index && node->is_array()) {
        std::size_t n = std::stoul(p);
        if (n >= node->size()) throw ConfigError("O2GW_" + name, "list index " + p + " out of range");
        node = &(*node)[n];
      } else {
        if (!node->is_object() && !node->is_null()) {
          throw ConfigError("O2GW_" + name, "does not name a mapping key");
        }
        node = &(*node)[p];
      }
      if (last) *node = value;
    }
  }
}

std::pair<std::string, std::uint16_t> split_listen(const std::string& listen, const std::string& key) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw ConfigError(key, "must be host:port, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  std::size_t pos = 0;
  unsigned long p = 0;
  try {
    p = std::stoul(port, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos == 0 || pos != port.size() || p > 65535) {
    throw ConfigError(key, "port must be 0..65535, got '" + port + "'");
  }
  if (host.empty()) host = "0.0.0.0";
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1 && inet_pton(AF_INET6, host.c_str(), &v6) != 1) {
    throw ConfigError(key, "host must be an IPv4 or IPv6 address (not a name), got '" + host + "'");
  }
  return {host, static_cast<std::uint16_t>(p)};
}

}  // namespace

std::string read_marker_key(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("query.marker_key_file", "cannot open " + path.string());
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A key written with `openssl rand -hex 32 > file` ends in a newline that is not part of it.
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 16) throw ConfigError("query.marker_key_file", path.string() + " holds fewer than 16 bytes");
  return key;
}

namespace {

std::vector<std::string> string_list(SectionReader& r, const std::string& key) {
  std::vector<std::string> out;
  auto arr = r.array(key);
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string() || arr[i].get<std::string>().empty()) {
      throw ConfigError(r.path(key) + "[" + std::to_string(i) + "]", "must be a non-empty string");
    }
    out.push_back(arr[i].get<std::string>());
  }
  return out;
}

std::string read_secret_file(const std::string& key, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(key, "cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw ConfigError(key, path.string() + " is empty");
  return secret;
}

void parse_subscriptions(SectionReader& root, SubscriptionsConfig& out) {
  SectionReader r(root.object("subscriptions"), "subscriptions");
  std::string mode = r.string("filter_mode", "exclude");
  if (mode == "exclude") {
    out.filter_mode = SubscriptionsConfig::FilterMode::exclude;
  } else if (mode == "include") {
    out.filter_mode = SubscriptionsConfig::FilterMode::include;
  } else {
    throw ConfigError(r.path("filter_mode"), "must be exclude or include, got '" + mode + "'");
  }
  out.verify_callback = r.boolean("verify_callback", false);
  out.verify_timeout = ms(r.integer("verify_timeout_ms", 3000, 10, 60000));
  out.max_subscriptions = static_cast<std::size_t>(r.integer("max_subscriptions", 10000, 1, 1000000));
  out.callback_allow = string_list(r, "callback_allow");
  out.callback_deny = string_list(r, "callback_deny");
  r.finish();
}

void parse_alarms(SectionReader& root, AlarmsConfig& out) {
  SectionReader r(root.object("alarms"), "alarms");
  out.retention_days = static_cast<int>(r.integer("retention_days", 30, 1, 36500));
  out.purge_interval = std::chrono::seconds(r.integer("purge_interval_s", 3600, 1, 7LL * 86400));
  SectionReader am(r.object("alertmanager"), "alarms.alertmanager");
  AlertmanagerConfig& a = out.alertmanager;
  a.enabled = am.boolean("enabled", true);
  if (am.has("resource_labels")) {
    a.resource_labels = string_list(am, "resource_labels");
    if (a.resource_labels.empty()) throw ConfigError(am.path("resource_labels"), "must name at least one label");
  } else {
    (void)am.array("resource_labels");
  }
  a.definition_label = am.string("definition_label", a.definition_label);
  if (a.definition_label.empty()) throw ConfigError(am.path("definition_label"), "must not be empty");
  a.severity_label = am.string("severity_label", a.severity_label);
  if (a.severity_label.empty()) throw ConfigError(am.path("severity_label"), "must not be empty");
  if (am.has("severity_map")) {
    const nlohmann::json labels = am.object("severity_map");
    SectionReader m(labels, "alarms.alertmanager.severity_map");
    std::vector<std::pair<std::string, int>> map;
    for (const auto& [label, value] : labels.items()) {
      // 0 CRITICAL .. 4 INDETERMINATE; 5 (CLEARED) is what a resolved alert does.
      int severity = static_cast<int>(m.integer(label, std::nullopt, 0, 4));
      std::string lower = label;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      map.emplace_back(std::move(lower), severity);
    }
    m.finish();
    a.severity_map = std::move(map);
  } else {
    (void)am.object("severity_map");
  }
  std::string token_file = am.string("token_file", "");
  if (!token_file.empty()) {
    a.token_file = token_file;
    a.token = read_secret_file(am.path("token_file"), token_file);
    if (a.token.empty()) throw ConfigError(am.path("token_file"), "is empty");
  }
  am.finish();
  r.finish();
}

// "10.0.0.0/8", "::1", "192.0.2.7/32".
bool valid_address_or_cidr(const std::string& text) {
  std::string addr = text;
  auto slash = text.find('/');
  int max_bits = 32;
  unsigned char buf[16];
  if (slash != std::string::npos) addr = text.substr(0, slash);
  bool v4 = inet_pton(AF_INET, addr.c_str(), buf) == 1;
  bool v6 = !v4 && inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  if (!v4 && !v6) return false;
  if (v6) max_bits = 128;
  if (slash == std::string::npos) return true;
  std::string bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), ::isdigit)) return false;
  return std::stoi(bits) <= max_bits;
}

std::vector<std::string> role_list(SectionReader& r, const std::string& key) {
  auto names = string_list(r, key);
  (void)parse_roles(names, r.path(key));  // throws on an unknown role
  return names;
}

void parse_tls(SectionReader& server, TlsServerConfig& out) {
  SectionReader t(server.object("tls"), "server.tls");
  out.cert_file = t.string("cert_file", "");
  out.key_file = t.string("key_file", "");
  out.enabled = !out.cert_file.empty();
  if (out.enabled && out.key_file.empty()) throw ConfigError(t.path("key_file"), "is required with cert_file");
  if (!out.enabled && !out.key_file.empty()) throw ConfigError(t.path("cert_file"), "is required with key_file");
  out.min_version = t.string("min_version", "1.3");
  if (out.min_version != "1.3" && out.min_version != "1.2") {
    throw ConfigError(t.path("min_version"), "must be \"1.3\" or \"1.2\", got '" + out.min_version + "'");
  }
  out.ciphersuites = t.string("ciphersuites", out.ciphersuites);
  out.ciphers = t.string("ciphers", out.ciphers);
  std::string mode = t.string("client_auth", "off");
  if (mode == "off") {
    out.client_auth = TlsServerConfig::ClientAuth::off;
  } else if (mode == "optional") {
    out.client_auth = TlsServerConfig::ClientAuth::optional;
  } else if (mode == "required") {
    out.client_auth = TlsServerConfig::ClientAuth::required;
  } else {
    throw ConfigError(t.path("client_auth"), "must be off, optional or required, got '" + mode + "'");
  }
  out.client_ca_file = t.string("client_ca_file", "");
  if (out.client_auth != TlsServerConfig::ClientAuth::off && out.client_ca_file.empty()) {
    throw ConfigError(t.path("client_ca_file"), "is required when client_auth is " + mode);
  }
  if (!out.enabled && (out.client_auth != TlsServerConfig::ClientAuth::off)) {
    throw ConfigError(t.path("client_auth"), "needs TLS (server.tls.cert_file and key_file)");
  }
  out.reload_interval = ms(t.integer("reload_interval_ms", 10000, 100, 86400000));
  out.handshake_timeout = ms(t.integer("handshake_timeout_ms", 10000, 10, 600000));
  out.hsts_max_age = std::chrono::seconds(t.integer("hsts_max_age_s", 31536000, 0, 2LL * 31536000));
  t.finish();
}

void parse_auth(SectionReader& root, AuthConfig& out) {
  SectionReader a(root.object("auth"), "auth");
  out.enabled = a.boolean("enabled", false);
  if (a.has("anonymous_paths")) {
    out.anonymous_paths = string_list(a, "anonymous_paths");
    for (std::size_t i = 0; i < out.anonymous_paths.size(); ++i) {
      if (out.anonymous_paths[i].front() != '/') {
        throw ConfigError(a.path("anonymous_paths") + "[" + std::to_string(i) + "]", "must be a path starting with /");
      }
    }
  } else {
    (void)a.array("anonymous_paths");
  }
  out.multi_tenant = a.boolean("multi_tenant", false);
  out.trusted_proxies = string_list(a, "trusted_proxies");
  for (std::size_t i = 0; i < out.trusted_proxies.size(); ++i) {
    if (!valid_address_or_cidr(out.trusted_proxies[i])) {
      throw ConfigError(a.path("trusted_proxies") + "[" + std::to_string(i) + "]",
                        "must be an IP address or CIDR, got '" + out.trusted_proxies[i] + "'");
    }
  }
  out.proxy_identity_header = a.string("proxy_identity_header", out.proxy_identity_header);
  if (out.proxy_identity_header.empty()) throw ConfigError(a.path("proxy_identity_header"), "must not be empty");

  const nlohmann::json jwt_section = a.object("jwt");
  SectionReader j(jwt_section, "auth.jwt");
  JwtConfig& jwt = out.jwt;
  jwt.jwks_file = j.string("jwks_file", "");
  jwt.jwks_url = j.string("jwks_url", "");
  jwt.enabled = !jwt.jwks_file.empty() || !jwt.jwks_url.empty();
  if (!jwt.jwks_file.empty() && !jwt.jwks_url.empty()) {
    throw ConfigError(j.path("jwks_url"), "set jwks_file or jwks_url, not both");
  }
  if (!jwt.jwks_url.empty() && jwt.jwks_url.rfind("https://", 0) != 0 && jwt.jwks_url.rfind("http://", 0) != 0) {
    throw ConfigError(j.path("jwks_url"), "must be an absolute http(s) URL");
  }
  jwt.jwks_ca_file = j.string("jwks_ca_file", "");
  jwt.issuer = j.string("issuer", "");
  // audience: one string or a list of them.
  if (jwt_section.contains("audience") && jwt_section["audience"].is_string()) {
    jwt.audiences.push_back(j.string("audience"));
  } else {
    jwt.audiences = string_list(j, "audience");
  }
  if (jwt.enabled) {
    if (jwt.issuer.empty()) throw ConfigError(j.path("issuer"), "is required with a JWKS");
    if (jwt.audiences.empty()) throw ConfigError(j.path("audience"), "is required with a JWKS");
  }
  jwt.jwks_refresh_interval = std::chrono::seconds(j.integer("jwks_refresh_interval_s", 300, 1, 86400));
  jwt.jwks_min_refresh_interval = std::chrono::seconds(j.integer("jwks_min_refresh_interval_s", 10, 0, 3600));
  if (j.has("algorithms")) {
    jwt.algorithms = string_list(j, "algorithms");
    for (std::size_t i = 0; i < jwt.algorithms.size(); ++i) {
      if (jwt.algorithms[i] != "RS256" && jwt.algorithms[i] != "ES256") {
        throw ConfigError(j.path("algorithms") + "[" + std::to_string(i) + "]",
                          "must be RS256 or ES256, got '" + jwt.algorithms[i] + "'");
      }
    }
    if (jwt.algorithms.empty()) throw ConfigError(j.path("algorithms"), "must name at least one algorithm");
  } else {
    (void)j.array("algorithms");
  }
  jwt.leeway = std::chrono::seconds(j.integer("leeway_s", 30, 0, 600));
  jwt.roles_claim = j.string("roles_claim", jwt.roles_claim);
  if (jwt.roles_claim.empty()) throw ConfigError(j.path("roles_claim"), "must not be empty");
  {
    const nlohmann::json map = j.object("role_map");
    SectionReader m(map, "auth.jwt.role_map");
    for (const auto& [value, role] : map.items()) {
      std::string name = m.string(value);
      (void)parse_roles({name}, m.path(value));
      jwt.role_map.emplace_back(value, name);
    }
    m.finish();
  }
  jwt.subject_claim = j.string("subject_claim", jwt.subject_claim);
  jwt.tenant_claim = j.string("tenant_claim", "");
  jwt.max_token_bytes = static_cast<std::size_t>(j.integer("max_token_bytes", 8192, 256, 65536));
  jwt.cache_entries = static_cast<std::size_t>(j.integer("cache_entries", 10000, 0, 10000000));
  j.finish();

  auto tokens = a.array("api_tokens");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string key = "auth.api_tokens[" + std::to_string(i) + "]";
    SectionReader t(tokens[i], key);
    ApiTokenConfig tc;
    tc.name = t.string("name");
    if (tc.name.empty()) throw ConfigError(t.path("name"), "must not be empty");
    tc.sha256 = t.string("sha256");
    std::transform(tc.sha256.begin(), tc.sha256.end(), tc.sha256.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (tc.sha256.size() != 64 || !std::all_of(tc.sha256.begin(), tc.sha256.end(), ::isxdigit)) {
      throw ConfigError(t.path("sha256"), "must be the 64 hex digits of the token's SHA-256 (sha256sum)");
    }
    tc.roles = role_list(t, "roles");
    tc.tenant = t.string("tenant", "");
    t.finish();
    out.api_tokens.push_back(std::move(tc));
  }
  auto identities = a.array("client_identities");
  for (std::size_t i = 0; i < identities.size(); ++i) {
    std::string key = "auth.client_identities[" + std::to_string(i) + "]";
    SectionReader t(identities[i], key);
    ClientIdentityConfig ci;
    ci.subject = t.string("subject", "");
    ci.san = t.string("san", "");
    if (ci.subject.empty() == ci.san.empty()) throw ConfigError(key, "set exactly one of subject and san");
    ci.roles = role_list(t, "roles");
    ci.tenant = t.string("tenant", "");
    t.finish();
    out.client_identities.push_back(std::move(ci));
  }
  a.finish();
  if (out.enabled && !out.jwt.enabled && out.api_tokens.empty() && out.client_identities.empty() &&
      out.trusted_proxies.empty()) {
    throw ConfigError("auth", "enabled, but no way to authenticate: set auth.jwt.jwks_file or jwks_url, "
                              "api_tokens, client_identities or trusted_proxies");
  }
}

void parse_rate_limit(SectionReader& root, RateLimitConfig& out) {
  SectionReader r(root.object("rate_limit"), "rate_limit");
  out.enabled = r.boolean("enabled", false);
  auto cls = [&r](const std::string& name, RateLimitClassConfig& c) {
    SectionReader s(r.object(name), "rate_limit." + name);
    c.rate = static_cast<double>(s.integer("rate", static_cast<std::int64_t>(c.rate), 0, 1000000));
    c.burst = static_cast<double>(s.integer("burst", static_cast<std::int64_t>(c.burst), 1, 1000000));
    s.finish();
  };
  cls("read", out.read);
  cls("write", out.write);
  cls("admin", out.admin);
  cls("unauthenticated", out.unauthenticated);
  out.max_buckets = static_cast<std::size_t>(r.integer("max_buckets", 100000, 16, 100000000));
  out.idle_evict = std::chrono::seconds(r.integer("idle_evict_s", 600, 1, 86400));
  r.finish();
}

void parse_audit(SectionReader& root, AuditConfig& out) {
  SectionReader r(root.object("audit"), "audit");
  out.enabled = r.boolean("enabled", true);
  out.path = r.string("path", "");
  out.queue_limit = static_cast<std::size_t>(r.integer("queue_limit", 65536, 16, 10000000));
  r.finish();
}

void parse_webhooks(SectionReader& root, WebhooksConfig& out) {
  SectionReader r(root.object("webhooks"), "webhooks");
  out.signing_key_dir = r.string("signing_key_dir", "");
  out.timeout = ms(r.integer("timeout_ms", 10000, 10, 600000));
  out.max_in_flight = static_cast<std::size_t>(r.integer("max_in_flight", 256, 1, 100000));
  SectionReader retry(r.object("retry"), "webhooks.retry");
  out.retry_initial_delay = ms(retry.integer("initial_delay_ms", 1000, 1, 3600000));
  out.retry_max_delay = ms(retry.integer("max_delay_ms", 300000, 1, 86400000));
  if (out.retry_max_delay < out.retry_initial_delay) {
    throw ConfigError("webhooks.retry.max_delay_ms", "must not be less than initial_delay_ms");
  }
  out.retry_max_attempts = static_cast<int>(retry.integer("max_attempts", 20, 1, 1000));
  out.retry_max_age = std::chrono::seconds(retry.integer("max_age_s", 86400, 1, 30LL * 86400));
  retry.finish();
  SectionReader breaker(r.object("circuit_breaker"), "webhooks.circuit_breaker");
  out.breaker_failure_threshold = static_cast<int>(breaker.integer("failure_threshold", 5, 1, 1000));
  out.breaker_open = ms(breaker.integer("open_ms", 30000, 10, 3600000));
  breaker.finish();
  auto hosts = r.array("hosts");
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    std::string key = "webhooks.hosts[" + std::to_string(i) + "]";
    SectionReader h(hosts[i], key);
    WebhookHostConfig hc;
    hc.host = h.string("host");
    if (hc.host.empty()) throw ConfigError(h.path("host"), "must not be empty");
    std::transform(hc.host.begin(), hc.host.end(), hc.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    hc.ca_file = h.string("ca_file", "");
    hc.client_cert_file = h.string("client_cert_file", "");
    hc.client_key_file = h.string("client_key_file", "");
    if (hc.client_cert_file.empty() != hc.client_key_file.empty()) {
      throw ConfigError(key, "client_cert_file and client_key_file go together");
    }
    if (h.has("oauth2")) {
      SectionReader o(h.object("oauth2"), key + ".oauth2");
      hc.oauth2_token_url = o.string("token_url");
      hc.oauth2_client_id = o.string("client_id");
      std::string secret_file = o.string("client_secret_file");
      hc.oauth2_client_secret = read_secret_file(o.path("client_secret_file"), secret_file);
      hc.oauth2_scope = o.string("scope", "");
      hc.oauth2_ca_file = o.string("ca_file", "");
      o.finish();
      if (hc.oauth2_token_url.rfind("https://", 0) != 0 && hc.oauth2_token_url.rfind("http://", 0) != 0) {
        throw ConfigError(key + ".oauth2.token_url", "must be an absolute http(s) URL");
      }
    }
    h.finish();
    out.hosts.push_back(std::move(hc));
  }
  r.finish();
}

}  // namespace

Config parse_config(const nlohmann::json& doc) {
  Config cfg;
  SectionReader root(doc, "");

  SectionReader server(root.object("server"), "server");
  std::tie(cfg.server.listen_address, cfg.server.port) =
      split_listen(server.string("listen", "0.0.0.0:8080"), "server.listen");
  cfg.server.threads = static_cast<unsigned>(server.integer("threads", 0, 0, 256));
  cfg.server.access_log = server.boolean("access_log", true);
  cfg.server.shutdown_grace = ms(server.integer("shutdown_grace_ms", 10000, 0, 600000));
  SectionReader limits(server.object("limits"), "server.limits");
  cfg.server.header_limit = static_cast<std::size_t>(limits.integer("header_bytes", 16384, 1024, 1 << 20));
  cfg.server.body_limit = static_cast<std::size_t>(limits.integer("body_bytes", 1 << 20, 0, 1LL << 30));
  limits.finish();
  SectionReader timeouts(server.object("timeouts"), "server.timeouts");
  cfg.server.header_timeout = ms(timeouts.integer("header_ms", 10000, 10, 3600000));
  cfg.server.body_timeout = ms(timeouts.integer("body_ms", 30000, 10, 3600000));
  cfg.server.idle_timeout = ms(timeouts.integer("idle_ms", 60000, 10, 3600000));
  cfg.server.write_timeout = ms(timeouts.integer("write_ms", 30000, 10, 3600000));
  timeouts.finish();
  parse_tls(server, cfg.server.tls);
  std::string ops = server.string("ops_listen", "");
  if (!ops.empty()) {
    cfg.server.ops_enabled = true;
    std::tie(cfg.server.ops_listen_address, cfg.server.ops_port) = split_listen(ops, "server.ops_listen");
  }
  server.finish();
  parse_auth(root, cfg.auth);
  parse_rate_limit(root, cfg.rate_limit);
  parse_audit(root, cfg.audit);

  SectionReader ocloud(root.object("ocloud"), "ocloud");
  cfg.ocloud.name = ocloud.string("name", cfg.ocloud.name);
  cfg.ocloud.description = ocloud.string("description", cfg.ocloud.description);
  cfg.ocloud.id = ocloud.string("id", "");
  if (cfg.ocloud.id.empty()) {
    // Stable across restarts: derived from the configured name under o2gw's namespace.
    static const Uuid kO2gwNamespace = *Uuid::parse("6f2a8c1e-0b7d-5e43-9a61-2c4d8e0f7b35");
    cfg.ocloud.id = Uuid::v5(kO2gwNamespace, "ocloud/" + cfg.ocloud.name).str();
  } else if (!is_uuid(cfg.ocloud.id)) {
    throw ConfigError("ocloud.id", "must be a UUID, got '" + cfg.ocloud.id + "'");
  }
  cfg.ocloud.global_cloud_id = ocloud.string("global_cloud_id", "00000000-0000-0000-0000-000000000000");
  if (!is_uuid(cfg.ocloud.global_cloud_id)) {
    throw ConfigError("ocloud.global_cloud_id", "must be a UUID, got '" + cfg.ocloud.global_cloud_id + "'");
  }
  cfg.ocloud.service_uri = ocloud.string("service_uri", "");
  cfg.ocloud.extensions = ocloud.object("extensions");
  ocloud.finish();

  SectionReader log(root.object("log"), "log");
  cfg.log_level = log.string("level", "info");
  static const std::vector<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), cfg.log_level) == kLevels.end()) {
    throw ConfigError("log.level", "must be one of trace, debug, info, warn, error, critical, off");
  }
  log.finish();

  cfg.data_dir = root.string("data_dir", "data");

  SectionReader query(root.object("query"), "query");
  cfg.query.max_page_size = static_cast<std::size_t>(query.integer("max_page_size", 10000, 1, 1000000));
  // Unset, the default page follows a lowered maximum instead of failing start-up.
  const auto max_page = static_cast<std::int64_t>(cfg.query.max_page_size);
  cfg.query.default_page_size = static_cast<std::size_t>(
      query.integer("default_page_size", std::min<std::int64_t>(1000, max_page), 1, max_page));
  cfg.query.marker_key_file = query.string("marker_key_file", "");
  query.finish();
  if (!cfg.query.marker_key_file.empty()) cfg.query.marker_key = read_marker_key(cfg.query.marker_key_file);

  parse_subscriptions(root, cfg.subscriptions);
  parse_webhooks(root, cfg.webhooks);
  parse_alarms(root, cfg.alarms);

  SectionReader registry(root.object("registry"), "registry");
  cfg.health_interval = ms(registry.integer("health_interval_ms", 5000, 100, 3600000));
  registry.finish();

  auto adapters = root.array("adapters");
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    std::string key = "adapters[" + std::to_string(i) + "]";
    SectionReader a(adapters[i], key);
    AdapterSpec spec;
    spec.key = key;
    spec.name = a.string("name");
    if (spec.name.empty()) throw ConfigError(a.path("name"), "must not be empty");
    std::string cat = a.string("category", "ims");
    if (cat == "ims") {
      spec.category = Category::ims;
    } else if (cat == "dms") {
      spec.category = Category::dms;
    } else if (cat == "smo") {
      spec.category = Category::smo;
    } else {
      throw ConfigError(a.path("category"), "must be ims, dms or smo, got '" + cat + "'");
    }
    spec.type = a.string("type");
    spec.priority = static_cast<int>(a.integer("priority", 100, 0, 1000000));
    spec.enabled = a.boolean("enabled", true);
    spec.config = a.object("config");
    a.finish();
    for (const auto& other : cfg.adapters) {
      if (other.name == spec.name) throw ConfigError(a.path("name"), "duplicate adapter name '" + spec.name + "'");
    }
    cfg.adapters.push_back(std::move(spec));
  }
  root.finish();
  return cfg;
}

Config load_config(const std::optional<std::filesystem::path>& path, char** environ_ptr) {
  nlohmann::json doc;
  std::string source = "built-in defaults";
  if (path) {
    std::ifstream in(*path);
    if (!in) throw ConfigError(path->string(), "cannot open the file");
    std::stringstream ss;
    ss << in.rdbuf();
    doc = yaml_to_json(ss.str(), path->string());
    if (doc.is_null()) doc = nlohmann::json::object();
    source = path->string();
  } else {
    doc = default_config_document();
  }
  apply_env(doc, environ_ptr);
  Config cfg = parse_config(doc);
  cfg.source = source;
  return cfg;
}

}  // namespace o2gw
