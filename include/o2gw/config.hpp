// Configuration: one YAML file, O2GW_* environment overrides, then flags.
// Config is data: parsed and validated once at start-up into immutable structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace o2gw {

// A configuration problem, naming the offending key ("server.limits.header_bytes").
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string reason)
      : std::runtime_error(key + ": " + reason), key_(std::move(key)), reason_(std::move(reason)) {}
  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] const std::string& reason() const { return reason_; }

 private:
  std::string key_;
  std::string reason_;
};

// Typed, strict access to one JSON object section: every key read is recorded,
// and finish() rejects keys nobody asked for (catches typos like "poll_msec").
class SectionReader {
 public:
  SectionReader(const nlohmann::json& section, std::string prefix);

  std::string string(const std::string& key, std::optional<std::string> def = std::nullopt);
  std::int64_t integer(const std::string& key, std::optional<std::int64_t> def, std::int64_t min,
                       std::int64_t max);
  bool boolean(const std::string& key, std::optional<bool> def = std::nullopt);
  nlohmann::json object(const std::string& key);  // empty object when absent
  nlohmann::json array(const std::string& key);   // empty array when absent
  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] std::string path(const std::string& key) const;
  void finish() const;

 private:
  const nlohmann::json* find(const std::string& key);
  nlohmann::json section_;
  std::string prefix_;
  std::vector<std::string> seen_;
};

enum class Category { ims, dms, smo };
std::string_view category_name(Category c);

struct AdapterSpec {
  std::string name;  // instance name, unique
  Category category = Category::ims;
  std::string type;  // factory name, e.g. "file"
  int priority = 100;
  bool enabled = true;
  nlohmann::json config = nlohmann::json::object();
  std::string key;  // "adapters[0]", for error messages
};

// HTTPS on the API listener (server.tls). Certificate files are watched and
// reloaded without a restart when they change (cert-manager rotation).
struct TlsServerConfig {
  bool enabled = false;
  std::filesystem::path cert_file;  // PEM chain, leaf first
  std::filesystem::path key_file;   // PEM private key
  // "1.3" (default) or "1.2": the lowest protocol version accepted.
  std::string min_version = "1.3";
  // OpenSSL lists: TLS 1.3 suites, and (only with min_version 1.2) the 1.2 ciphers.
  std::string ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  // mTLS: off, optional (verified when presented) or required.
  enum class ClientAuth { off, optional, required };
  ClientAuth client_auth = ClientAuth::off;
  std::filesystem::path client_ca_file;  // CA bundle for client certificates
  std::chrono::milliseconds reload_interval{10000};   // how often the files are checked
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::seconds hsts_max_age{31536000};
};

struct ServerConfig {
  std::string listen_address = "0.0.0.0";
  std::uint16_t port = 8080;
  unsigned threads = 0;  // 0 = number of cores
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds shutdown_grace{10000};
  bool access_log = true;
  TlsServerConfig tls;
  // A second, plain-HTTP listener that serves only /healthz, /readyz and /metrics
  // (server.ops_listen), so probes and scrapers need neither TLS nor credentials.
  bool ops_enabled = false;
  std::string ops_listen_address = "0.0.0.0";
  std::uint16_t ops_port = 9090;
};

struct OCloudConfig {
  std::string id;               // UUID; derived from name when empty
  std::string global_cloud_id;  // UUID assigned by the SMO
  std::string name = "o2gw-ocloud";
  std::string description = "O-Cloud served by o2gw";
  std::string service_uri;  // defaults to http://<listen>
  nlohmann::json extensions = nlohmann::json::object();
};

struct QueryConfig {
  std::size_t default_page_size = 1000;
  std::size_t max_page_size = 10000;
  // File holding the key that signs paging markers (shared by replicas); empty: a
  // random key per process, so markers do not survive a restart.
  std::filesystem::path marker_key_file;
  std::string marker_key;  // its content, read and checked when the config is loaded (never logged)
};

// Reads the paging-marker key (at least 16 bytes, trailing newline dropped); throws ConfigError.
std::string read_marker_key(const std::filesystem::path& path);

// Subscriptions (inventory today, alarms later): what may be subscribed and how
// a subscription's filter is read.
struct SubscriptionsConfig {
  // The O-RAN spec describes `filter` as the events that need NOT be reported
  // (exclude, the default); `include` reports only the events matching it.
  enum class FilterMode { exclude, include };
  FilterMode filter_mode = FilterMode::exclude;
  bool verify_callback = false;  // GET the callback on create; 2xx within the timeout or 400
  std::chrono::milliseconds verify_timeout{3000};
  std::size_t max_subscriptions = 10000;
  std::vector<std::string> callback_allow;  // hosts, *.domains, IPs, CIDRs (see CallbackGuard)
  std::vector<std::string> callback_deny;
};

// Outbound connection options for one callback host ("host" or "host:port").
struct WebhookHostConfig {
  std::string host;
  std::filesystem::path ca_file;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
  // OAuth2 client credentials; empty token_url: none.
  std::string oauth2_token_url;
  std::string oauth2_client_id;
  std::string oauth2_client_secret;  // read from oauth2.client_secret_file at load; never logged
  std::string oauth2_scope;
  std::filesystem::path oauth2_ca_file;
};

struct WebhooksConfig {
  std::filesystem::path signing_key_dir;  // empty: <data_dir>/signing-keys (one key created when empty)
  std::chrono::milliseconds timeout{10000};
  std::size_t max_in_flight = 256;  // deliveries in flight across all subscriptions
  std::chrono::milliseconds retry_initial_delay{1000};
  std::chrono::milliseconds retry_max_delay{300000};
  int retry_max_attempts = 20;
  std::chrono::seconds retry_max_age{86400};
  int breaker_failure_threshold = 5;  // consecutive failures that open a host's circuit
  std::chrono::milliseconds breaker_open{30000};
  std::vector<WebhookHostConfig> hosts;
};

// Prometheus Alertmanager webhook receiver (POST /internal/v1/alertmanager).
struct AlertmanagerConfig {
  bool enabled = true;
  // Labels naming the alarmed object, tried in order: the first present whose
  // value resolves (an O2 resource id, or a resource's name such as a
  // Kubernetes node name) wins.
  std::vector<std::string> resource_labels{"o2_resource_id", "resource_id", "node", "instance"};
  // Label matched against the alarm definitions of the resource's type (by name or key).
  std::string definition_label = "alertname";
  std::string severity_label = "severity";
  // Label value (lower-case) -> perceivedSeverity; unknown values: INDETERMINATE.
  std::vector<std::pair<std::string, int>> severity_map{
      {"critical", 0}, {"major", 1}, {"error", 1}, {"minor", 2}, {"warning", 3}, {"info", 4}, {"none", 4}};
  // When set, the receiver requires `Authorization: Bearer <token>` (read from token_file; never logged).
  std::filesystem::path token_file;
  std::string token;
};

struct AlarmsConfig {
  // alarmServiceConfiguration.retentionPeriod until the API changes it (then the stored value wins).
  int retention_days = 30;
  // How often cleared alarms older than the retention period are purged.
  std::chrono::seconds purge_interval{3600};
  AlertmanagerConfig alertmanager;
};

// A credential-to-identity rule for static API tokens, client certificates and
// identities asserted by a trusted proxy.
struct ApiTokenConfig {
  std::string name;                // who it is, for logs and the audit log
  std::string sha256;              // lower-case hex SHA-256 of the token (the token itself is never stored)
  std::vector<std::string> roles;  // role names
  std::string tenant;
};

struct ClientIdentityConfig {
  // Exactly one is set: the RFC 2253 subject ("CN=smo,O=Operator") or one SAN
  // ("DNS:smo.example.net", "URI:spiffe://...", "email:..", "IP:..").
  std::string subject;
  std::string san;
  std::vector<std::string> roles;
  std::string tenant;
};

struct JwtConfig {
  bool enabled = false;  // true when jwks_file or jwks_url is set
  std::string issuer;    // required: exact match of "iss"
  std::vector<std::string> audiences;  // required: "aud" must contain one of them
  std::filesystem::path jwks_file;
  std::string jwks_url;                 // https:// (or http:// on loopback only)
  std::filesystem::path jwks_ca_file;   // CA for jwks_url; empty: the system store
  std::chrono::seconds jwks_refresh_interval{300};     // periodic refresh of jwks_url (a file is re-read on an unknown kid)
  std::chrono::seconds jwks_min_refresh_interval{10};  // at most one unknown-kid refresh per interval
  std::vector<std::string> algorithms{"RS256", "ES256"};
  std::chrono::seconds leeway{30};  // for exp, nbf and iat
  // Claim holding the roles: a dotted path ("realm_access.roles"); an array of
  // strings or one space-separated string ("scope").
  std::string roles_claim = "roles";
  // Claim value -> role name; a value equal to a role name maps to it without an entry.
  std::vector<std::pair<std::string, std::string>> role_map;
  std::string subject_claim = "sub";
  std::string tenant_claim;  // empty: no tenancy from tokens
  std::size_t max_token_bytes = 8192;
  std::size_t cache_entries = 10000;  // verified tokens remembered until they expire
};

struct AuthConfig {
  bool enabled = false;  // off: every route is open (a warning is logged at start)
  // Paths served without credentials (exact match).
  std::vector<std::string> anonymous_paths{"/healthz", "/readyz"};
  JwtConfig jwt;
  std::vector<ApiTokenConfig> api_tokens;
  std::vector<ClientIdentityConfig> client_identities;
  // Peers (IPs or CIDRs) whose proxy_identity_header is believed; the header is
  // ignored from anyone else.
  std::vector<std::string> trusted_proxies;
  std::string proxy_identity_header = "X-Client-Subject";
  // When true, a tenant (from tenant_claim or an identity rule) scopes subscriptions.
  bool multi_tenant = false;
};

// Token buckets per (client identity, route class).
struct RateLimitClassConfig {
  double rate = 0;   // tokens per second
  double burst = 0;  // bucket size
};

struct RateLimitConfig {
  bool enabled = false;
  RateLimitClassConfig read{200, 400};
  RateLimitClassConfig write{20, 40};
  RateLimitClassConfig admin{10, 20};
  // Requests without a verified identity (including failed authentication), per peer address.
  RateLimitClassConfig unauthenticated{20, 40};
  std::size_t max_buckets = 100000;     // beyond this, idle buckets are evicted first
  std::chrono::seconds idle_evict{600};  // a bucket untouched this long is dropped
};

struct AuditConfig {
  bool enabled = true;
  std::filesystem::path path;  // empty: <data_dir>/audit.log; "-": standard output
  std::size_t queue_limit = 65536;  // records waiting for the writer; beyond: dropped and counted
};

struct Config {
  ServerConfig server;
  AuthConfig auth;
  RateLimitConfig rate_limit;
  AuditConfig audit;
  AlarmsConfig alarms;
  SubscriptionsConfig subscriptions;
  WebhooksConfig webhooks;
  QueryConfig query;
  OCloudConfig ocloud;
  std::string log_level = "info";
  std::filesystem::path data_dir = "data";
  std::chrono::milliseconds health_interval{5000};
  std::vector<AdapterSpec> adapters;
  std::string source;  // where it came from, for the startup log
};

// Built-in defaults: the file adapter on deploy/inventory/example-inventory.yaml.
nlohmann::json default_config_document();

// Loads YAML (or the defaults when path is empty), applies O2GW_* overrides from
// `environ`, validates and returns the typed config. Throws ConfigError.
Config load_config(const std::optional<std::filesystem::path>& path, char** environ_ptr);
Config parse_config(const nlohmann::json& doc);

// YAML text to JSON; throws ConfigError("<file>:<line>", why) on a syntax error.
nlohmann::json yaml_to_json(const std::string& text, const std::string& origin);

}  // namespace o2gw
