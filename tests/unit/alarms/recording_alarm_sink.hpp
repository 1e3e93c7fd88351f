// An AlarmSink that records what sources report, for unit tests of alarm sources.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "o2gw/alarms.hpp"

namespace o2gw::test {

class RecordingAlarmSink final : public AlarmSink {
 public:
  struct Event {
    enum class Type { raise, clear, retain_only } type;
    AlarmReport report;             // raise
    std::string source;             // clear, retain_only
    std::string key;                // clear
    std::vector<std::string> keys;  // retain_only
  };

  // Reports for these resource ids are rejected (like an unknown resource).
  std::vector<std::string> reject_resources;

  std::optional<AlarmRejection> raise(const AlarmReport& report) override {
    std::lock_guard lock(mu_);
    events_.push_back({Event::Type::raise, report, report.source, report.key, {}});
    if (std::find(reject_resources.begin(), reject_resources.end(), report.resource_id) != reject_resources.end()) {
      return AlarmRejection{"no such resource " + report.resource_id};
    }
    active_[{report.source, report.key}] = report;
    return std::nullopt;
  }
  void clear(std::string_view source, std::string_view key) override {
    std::lock_guard lock(mu_);
    events_.push_back({Event::Type::clear, {}, std::string(source), std::string(key), {}});
    active_.erase({std::string(source), std::string(key)});
  }
  void retain_only(std::string_view source, const std::vector<std::string>& keys) override {
    std::lock_guard lock(mu_);
    events_.push_back({Event::Type::retain_only, {}, std::string(source), {}, keys});
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->first.first == source && std::find(keys.begin(), keys.end(), it->first.second) == keys.end()) {
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  // Active alarms (source, key) -> last report.
  std::map<std::pair<std::string, std::string>, AlarmReport> active() const {
    std::lock_guard lock(mu_);
    return active_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::map<std::pair<std::string, std::string>, AlarmReport> active_;
};

}  // namespace o2gw::test
