// IMS adapter "simulator": a synthetic but realistic O-Cloud of any size
// (locations, sites, resource types with alarm dictionaries, pools of servers,
// deployment managers), deterministic for a seed, optionally churning resource
// telemetry so change notifications flow. For load tests, demos and CI.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ims/common/o2_objects.hpp"
#include "o2gw/registry.hpp"

namespace o2gw::ims {

inline constexpr std::string_view kSimulatorAdapterType = "simulator";

struct SimulatorOptions {
  std::int64_t pools = 10;
  std::int64_t resources_per_pool = 1000;
  std::int64_t sites = 2;
  std::int64_t churn_per_second = 0;       // 0: the inventory never changes after start
  std::int64_t alarm_rate_per_minute = 0;  // alarm raises and clears per minute; 0: no alarms
  std::uint64_t seed = 1;

  // Validates the adapter's config section; throws ConfigError naming the key.
  static SimulatorOptions parse(const nlohmann::json& config);
};

// The simulated O-Cloud for the options: the same options give the same model.
OCloudModel generate_ocloud(const SimulatorOptions& options, const std::string& instance_name);

class SimulatorAdapter final : public Adapter {
 public:
  SimulatorAdapter(AdapterContext ctx, SimulatorOptions options);
  ~SimulatorAdapter() override;
  SimulatorAdapter(const SimulatorAdapter&) = delete;
  SimulatorAdapter& operator=(const SimulatorAdapter&) = delete;

  void start() override;
  void stop() override;
  Health check_health() override;
  [[nodiscard]] bool synced() const override;

  // Applies one round of telemetry updates to `count` resources (the churn
  // thread's step); returns the number of resources modified.
  std::size_t churn(std::size_t count);

  // One alarm event (the alarm thread's step): raises an alarm of a random
  // definition on a random resource, or clears an active one. The sequence
  // depends only on the seed. Returns false when alarms are off (no sink, or
  // no resource has an alarm dictionary).
  bool alarm_step();
  [[nodiscard]] std::size_t active_alarms() const;

  // Most alarms active at once: past it, every step clears one.
  static constexpr std::size_t kMaxActiveAlarms = 64;

 private:
  void churn_loop(const std::stop_token& stop);
  void alarm_loop(const std::stop_token& stop);

  struct AlarmType {
    std::string type_id;
    std::vector<std::string> definition_ids;
    std::vector<std::string> definition_keys;
    std::vector<int> severities;  // Severity values
  };

  const AdapterContext ctx_;
  const SimulatorOptions options_;

  mutable std::mutex mu_;  // guards everything below
  bool synced_ = false;
  Health health_{false, "not started"};
  std::vector<std::string> resource_ids_;  // churn picks among these
  std::uint64_t churn_state_ = 0;          // random stream of the churn
  std::uint64_t samples_ = 0;
  std::vector<AlarmType> alarm_types_;
  std::vector<std::uint8_t> resource_alarm_type_;  // per resource_ids_ entry: index in alarm_types_, or 255
  std::vector<std::size_t> alarmable_;             // indices into resource_ids_ with a dictionary
  std::vector<std::string> active_alarm_keys_;     // in raise order
  std::uint64_t alarm_state_ = 0;                  // random stream of the alarms
  std::uint64_t alarm_sequence_ = 0;

  std::mutex wait_mu_;
  std::condition_variable_any wake_;
  std::jthread churner_;
  std::jthread alarmer_;
};

}  // namespace o2gw::ims
