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
  std::int64_t churn_per_second = 0;  // 0: the inventory never changes after start
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

 private:
  void churn_loop(const std::stop_token& stop);

  const AdapterContext ctx_;
  const SimulatorOptions options_;

  mutable std::mutex mu_;  // guards everything below
  bool synced_ = false;
  Health health_{false, "not started"};
  std::vector<std::string> resource_ids_;  // churn picks among these
  std::uint64_t churn_state_ = 0;          // random stream of the churn
  std::uint64_t samples_ = 0;

  std::mutex wait_mu_;
  std::condition_variable_any wake_;
  std::jthread churner_;
};

}  // namespace o2gw::ims
