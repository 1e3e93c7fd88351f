// IMS adapter "file": serves the O-Cloud described by an inventory file
// (docs/inventory-file.md) and follows edits to it. A broken edit never empties
// the inventory: the last good version keeps being served and health reports
// the file and line to fix.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/registry.hpp"

namespace o2gw::ims {

inline constexpr std::string_view kFileAdapterType = "file";

struct InventoryFileAlarm;

struct FileAdapterOptions {
  std::filesystem::path path;  // relative paths resolve against the working directory
  std::chrono::milliseconds poll_interval{1000};

  // Validates the adapter's config section; throws ConfigError naming the key.
  static FileAdapterOptions parse(const nlohmann::json& config);
};

// What identifies one version of the file without reading it. The inode makes
// an atomic rename (and a Kubernetes ConfigMap update) visible even when size
// and mtime happen to match.
struct FileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

class FileAdapter final : public Adapter {
 public:
  FileAdapter(AdapterContext ctx, FileAdapterOptions options);
  ~FileAdapter() override;
  FileAdapter(const FileAdapter&) = delete;
  FileAdapter& operator=(const FileAdapter&) = delete;

  void start() override;
  void stop() override;
  Health check_health() override;
  [[nodiscard]] bool synced() const override;

  // Checks the file now and reloads it when it changed (the poller's step).
  void poll_once();

 private:
  void poll_loop(const std::stop_token& stop);
  // Raises the file's declared alarms and clears the ones no longer declared.
  void report_alarms(const std::vector<InventoryFileAlarm>& alarms);
  void record_failure(const std::string& detail, const std::optional<FileStamp>& stamp);

  const AdapterContext ctx_;
  const FileAdapterOptions options_;

  mutable std::mutex mu_;  // guards everything below
  bool synced_ = false;
  Health health_{false, "not loaded yet"};
  std::optional<FileStamp> last_attempt_;  // the version last parsed, good or bad
  std::size_t object_count_ = 0;

  std::mutex poll_mu_;  // serialises poll_once (the poller and direct callers)
  std::mutex wait_mu_;
  std::condition_variable_any wake_;
  std::jthread poller_;
};

}  // namespace o2gw::ims
