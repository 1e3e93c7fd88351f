// An AlarmSink that records every call a source makes (raise, clear,
// retain_only, in order) and keeps the active set the way the alarm service
// would, by (source, key): for the unit tests of the node-condition and
// adapter-health alarm sources.
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

class AlarmCallRecorder final : public AlarmSink {
 public:
  struct Call {
    enum class Op { raise, clear, retain_only } op;
    std::string source;
    std::string key;                    // raise, clear
    std::optional<AlarmReport> report;  // raise
    std::vector<std::string> keys;      // retain_only
  };

  std::optional<AlarmRejection> raise(const AlarmReport& report) override {
    std::lock_guard lock(mu_);
    calls_.push_back({Call::Op::raise, report.source, report.key, report, {}});
    if (reject_) return AlarmRejection{*reject_};
    active_.insert_or_assign({report.source, report.key}, report);
    return std::nullopt;
  }
  void clear(std::string_view source, std::string_view key) override {
    std::lock_guard lock(mu_);
    calls_.push_back({Call::Op::clear, std::string(source), std::string(key), std::nullopt, {}});
    active_.erase({std::string(source), std::string(key)});
  }
  void retain_only(std::string_view source, const std::vector<std::string>& keys) override {
    std::lock_guard lock(mu_);
    calls_.push_back({Call::Op::retain_only, std::string(source), {}, std::nullopt, keys});
    std::erase_if(active_, [&](const auto& entry) {
      return entry.first.first == source && std::find(keys.begin(), keys.end(), entry.first.second) == keys.end();
    });
  }

  // Every following raise is rejected with this reason (nullopt: accepted).
  void reject_with(std::optional<std::string> reason) {
    std::lock_guard lock(mu_);
    reject_ = std::move(reason);
  }
  [[nodiscard]] std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void forget_calls() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }
  [[nodiscard]] std::map<std::pair<std::string, std::string>, AlarmReport> active() const {
    std::lock_guard lock(mu_);
    return active_;
  }
  [[nodiscard]] std::vector<Call> calls_of(Call::Op op) const {
    std::vector<Call> out;
    for (auto& c : calls()) {
      if (c.op == op) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;
  std::map<std::pair<std::string, std::string>, AlarmReport> active_;
  std::optional<std::string> reject_;
};

}  // namespace o2gw::test
