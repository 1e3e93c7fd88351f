// Alarm sources that need no cluster and no monitoring system: the simulator
// raises and clears alarms of its resource types' dictionaries, and they are
// served by the monitoring API like any other alarm.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

using nlohmann::json;

json alarm_items(std::uint16_t port) {
  auto r = http_get(port, "/o2ims-infrastructureMonitoring/v1/alarms");
  if (r.status != 200) return json::array();
  json body = r.json();
  return body.is_object() && body.contains("items") ? body["items"] : body;
}

TEST(SimulatorAlarmsEndToEnd, AlarmsAreRaisedAndClearedWithoutACluster) {
  GatewayProcess gw({.config_yaml = "adapters:\n"
                                    "  - name: sim\n"
                                    "    category: ims\n"
                                    "    type: simulator\n"
                                    "    config:\n"
                                    "      pools: 1\n"
                                    "      resources_per_pool: 40\n"
                                    "      sites: 1\n"
                                    "      alarm_rate_per_minute: 3000\n"});
  std::set<int> severities;
  json alarms;
  // Every raise resolves to a resource and a definition of its type's dictionary
  // (a rejection would leave the list empty); some are cleared again.
  ASSERT_TRUE(eventually(
      [&] {
        alarms = alarm_items(gw.port());
        severities.clear();
        for (const auto& a : alarms) severities.insert(a.value("perceivedSeverity", -1));
        return alarms.size() >= 5 && severities.contains(5);
      },
      15s, 100ms))
      << alarms.dump() << gw.log();
  for (const auto& a : alarms) {
    EXPECT_EQ(a.at("extensions").value("simulated", false), true) << a.dump();
    auto r = http_get(gw.port(), "/o2ims-infrastructureInventory/v1/resourceTypes/" + a.value("resourceTypeID", ""));
    EXPECT_EQ(r.status, 200) << a.dump();
  }
  EXPECT_EQ(gw.log().find("rejected"), std::string::npos) << gw.log();
}

}  // namespace
}  // namespace o2gw::test
