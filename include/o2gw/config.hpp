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

struct Config {
  ServerConfig server;
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
