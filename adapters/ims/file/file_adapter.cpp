#include "ims/file/file_adapter.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <utility>

#include "ims/file/inventory_file.hpp"
#include "o2gw/alarms.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"

namespace o2gw::ims {
namespace {

// An inventory file is hand-written or generated YAML; anything bigger than
// this is a mistake (a wrong path, a log file) that must not exhaust memory.
constexpr std::int64_t kMaxFileBytes = 64LL * 1024 * 1024;

struct StatResult {
  std::optional<FileStamp> stamp;
  std::string error;
};

StatResult stat_file(const std::filesystem::path& path) {
  struct stat st {};
  // stat, not lstat: a ConfigMap mount swaps a symlink, the target is what changes.
  if (::stat(path.c_str(), &st) != 0) return {std::nullopt, std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return {std::nullopt, "not a regular file"};
  FileStamp stamp;
  stamp.device = static_cast<std::uint64_t>(st.st_dev);
  stamp.inode = static_cast<std::uint64_t>(st.st_ino);
  stamp.size = static_cast<std::int64_t>(st.st_size);
  stamp.mtime_ns =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(st.st_mtim.tv_nsec);
  return {stamp, {}};
}

std::optional<std::string> read_file(const std::filesystem::path& path, std::int64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace

FileAdapterOptions FileAdapterOptions::parse(const nlohmann::json& config) {
  SectionReader reader(config, "");
  FileAdapterOptions options;
  std::string path = reader.string("path");
  if (path.empty()) throw ConfigError(reader.path("path"), "must not be empty");
  options.path = path;
  options.poll_interval = std::chrono::milliseconds(reader.integer("poll_interval_ms", 1000, 50, 600000));
  reader.finish();
  return options;
}

FileAdapter::FileAdapter(AdapterContext ctx, FileAdapterOptions options)
    : ctx_(std::move(ctx)), options_(std::move(options)) {
  if (ctx_.inventory == nullptr) {
    throw std::invalid_argument("file adapter '" + ctx_.spec.name + "' needs an inventory cache");
  }
}

FileAdapter::~FileAdapter() {
  stop();
}

void FileAdapter::start() {
  // The first load is synchronous so a good file makes the gateway ready at once;
  // a bad one leaves the adapter running, unsynced, with the reason in its health.
  poll_once();
  poller_ = std::jthread([this](const std::stop_token& stop) { poll_loop(stop); });
}

void FileAdapter::stop() {
  if (!poller_.joinable()) return;
  poller_.request_stop();  // wakes the wait in poll_loop at once
  poller_.join();
}

Health FileAdapter::check_health() {
  std::lock_guard lock(mu_);
  return health_;
}

bool FileAdapter::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

void FileAdapter::poll_loop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(wait_mu_);
      wake_.wait_for(lock, stop, options_.poll_interval, [] { return false; });
    }
    if (stop.stop_requested()) return;
    // Nothing may escape this thread: a failed poll is reported and retried.
    try {
      poll_once();
    } catch (const std::exception& e) {
      record_failure(options_.path.string() + ": " + e.what(), std::nullopt);
    } catch (...) {
      record_failure(options_.path.string() + ": unknown error", std::nullopt);
    }
  }
}

void FileAdapter::poll_once() {
  std::lock_guard poll_lock(poll_mu_);
  const std::string origin = options_.path.string();
  StatResult before = stat_file(options_.path);
  if (!before.stamp) {
    record_failure(origin + ": cannot read: " + before.error, std::nullopt);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (last_attempt_ == before.stamp) return;  // unchanged since the last parse, good or bad
  }
  if (before.stamp->size > kMaxFileBytes) {
    record_failure(origin + ": file is " + std::to_string(before.stamp->size) + " bytes, more than the " +
                       std::to_string(kMaxFileBytes) + " allowed",
                   before.stamp);
    return;
  }
  std::optional<std::string> text = read_file(options_.path, before.stamp->size);
  if (!text) {
    record_failure(origin + ": cannot read: " + std::strerror(errno), std::nullopt);
    return;
  }
  // A writer still at work shows as a changed stamp: skip this half-written
  // version and look again at the next poll.
  if (stat_file(options_.path).stamp != before.stamp) return;

  std::vector<InventoryObject> objects;
  std::vector<InventoryFileAlarm> alarms;
  try {
    InventoryFileContents contents = parse_inventory_contents(*text, origin);
    alarms = std::move(contents.alarms);
    objects = build_inventory(std::move(contents.model), ctx_);
  } catch (const InventoryFileError& e) {
    record_failure(e.what(), before.stamp);
    return;
  }
  const std::size_t count = objects.size();
  std::vector<Change> changes = ctx_.inventory->replace_source(ctx_.spec.name, std::move(objects));
  std::size_t created = 0;
  std::size_t modified = 0;
  std::size_t removed = 0;
  for (const auto& c : changes) {
    if (c.type == ChangeType::create) ++created;
    if (c.type == ChangeType::modify) ++modified;
    if (c.type == ChangeType::remove) ++removed;
  }
  spdlog::info("adapter {}: loaded {} ({} objects; {} created, {} modified, {} removed)", ctx_.spec.name, origin, count,
               created, modified, removed);
  report_alarms(alarms);
  std::lock_guard lock(mu_);
  synced_ = true;
  last_attempt_ = before.stamp;
  object_count_ = count;
  health_ = {true, std::to_string(count) + " objects from " + origin};
}

void FileAdapter::report_alarms(const std::vector<InventoryFileAlarm>& alarms) {
  if (ctx_.alarms == nullptr) return;
  // After the inventory, so the alarmed resources exist; a removed entry clears.
  std::vector<std::string> keys;
  keys.reserve(alarms.size());
  for (const AlarmReport& report : inventory_alarm_reports(alarms, ctx_)) {
    if (auto rejected = ctx_.alarms->raise(report)) {
      spdlog::warn("adapter {}: alarm '{}' not raised: {}", ctx_.spec.name, report.key, rejected->reason);
    }
    keys.push_back(report.key);
  }
  ctx_.alarms->retain_only("file/" + ctx_.spec.name, keys);
}

void FileAdapter::record_failure(const std::string& detail, const std::optional<FileStamp>& stamp) {
  std::lock_guard lock(mu_);
  // A missing file must be reloaded when it comes back, whatever its stamp.
  last_attempt_ = stamp;
  std::string full = detail;
  if (synced_) {
    full += "; still serving the last good version (" + std::to_string(object_count_) + " objects)";
  }
  // Log each distinct problem once, not once per poll.
  if (health_.ok || health_.detail != full) {
    spdlog::error("adapter {}: {}", ctx_.spec.name, full);
  }
  health_ = {false, std::move(full)};
}

namespace {

const AdapterRegistration kFileAdapterRegistration{AdapterFactory{
    Category::ims,
    std::string(kFileAdapterType),
    "O-Cloud inventory from a YAML file, reloaded when the file changes",
    [](const nlohmann::json& config) { (void)FileAdapterOptions::parse(config); },
    [](const AdapterContext& ctx) -> std::unique_ptr<Adapter> {
      return std::make_unique<FileAdapter>(ctx, FileAdapterOptions::parse(ctx.spec.config));
    },
}};

}  // namespace
}  // namespace o2gw::ims
