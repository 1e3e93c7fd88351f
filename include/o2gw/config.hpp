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

struct Config {
  ServerConfig server;
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
