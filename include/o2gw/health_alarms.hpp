// Alarms about the gateway's own IMS adapters: while an instance is unhealthy
// (or failed to start), its deployment manager carries an "adapter-unhealthy"
// alarm; when the instance is active again the alarm clears. The SMO learns
// that the inventory it reads from that cluster or back end may be stale.
//
// An AlarmEventRecord needs a resource type whose dictionary defines the
// alarm, and a deployment manager has none: this publishes one small resource
// type of its own ("O-Cloud management service", owned by inventory source
// "o2gw") and names it in each report.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "o2gw/registry.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

class AlarmSink;
class InventoryCache;

class AdapterHealthAlarms {
 public:
  static constexpr std::string_view kInventorySource = "o2gw";  // owns the resource type
  static constexpr std::string_view kAlarmSource = "registry";  // AlarmReport::source
  static constexpr std::string_view kResourceTypeKey = "o2gw-managed-service";
  static constexpr std::string_view kDefinitionKey = "adapter-unhealthy";

  // Publishes the resource type into `inventory` and follows the registry's
  // health rounds (Registry::add_states_listener). `inventory` and `sink` must
  // outlive the registry's health loop; this object need not.
  AdapterHealthAlarms(Registry& registry, InventoryCache& inventory, AlarmSink& sink, Uuid ocloud_id);
  // The same without a registry: the caller feeds update() (tests).
  AdapterHealthAlarms(InventoryCache& inventory, AlarmSink& sink, Uuid ocloud_id);

  // One health round: raises for each IMS instance that is unhealthy or failed
  // (on its deployment managers, else its resource pools, else nothing but a
  // log line), clears what recovered. Unchanged alarms are not raised again.
  // The first round also clears every other alarm of kAlarmSource (left over
  // from before a restart).
  void update(const std::vector<AdapterState>& states);

  [[nodiscard]] const std::string& resource_type_id() const;
  [[nodiscard]] const std::string& alarm_definition_id() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace o2gw
