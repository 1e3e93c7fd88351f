// Alertmanager -> o2gw end to end: a real Prometheus Alertmanager posts its
// webhook to the gateway's receiver; the alert becomes an O2 alarm, a
// subscriber hears NEW, ACKNOWLEDGE and CLEAR, and a purge past the retention
// period removes it. Also the receiver's answers to bad input, posted directly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/alertmanager.hpp"
#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/webhook_receiver.hpp"

namespace o2gw::test {
namespace {

using nlohmann::json;

const std::string kMonitoring = "/o2ims-infrastructureMonitoring/v1";
const std::string kReceiver = "/internal/v1/alertmanager";
const std::string kSigningKey = "integration-test-signing-key-0123456789abcdef";

// One server type whose alarm dictionary defines NodeDown, and one server.
const std::string kInventory = R"(version: 1
locations:
  - globalLocationId: lab-1
    name: Lab
    address: Building 4
sites:
  - key: lab
    location: lab-1
    name: Lab site
resourceTypes:
  - key: server
    name: Server
    vendor: Acme
    model: S1
    version: "1"
    resourceKind: PHYSICAL
    resourceClass: COMPUTE
    alarmDictionary:
      alarmDictionaryVersion: "1.0"
      alarmDefinition:
        - key: node-down
          alarmName: NodeDown
          alarmDescription: The node stopped answering.
          clearingType: AUTOMATIC
        - key: fan-failure
          alarmName: Fan failure
          alarmDescription: A fan stopped.
          clearingType: MANUAL
resourcePools:
  - key: pool
    site: lab
    name: Pool
resources:
  - key: server-1
    pool: pool
    type: server
    description: Server one
    extensions: {nodeName: worker-1}
)";

struct Fixture {
  TempDir keys;
  TempDir files;
  std::filesystem::path inventory;

  Fixture() {
    keys.write("2026-01-01", kSigningKey + "\n");
    inventory = files.write("inventory.yaml", kInventory);
  }

  [[nodiscard]] std::string config() const {
    return "registry:\n"
           "  health_interval_ms: 100\n"
           "subscriptions:\n"
           "  callback_allow: [\"127.0.0.1\"]\n"
           "webhooks:\n"
           "  signing_key_dir: " +
           keys.path().string() +
           "\n"
           "  timeout_ms: 1000\n"
           "  retry:\n"
           "    initial_delay_ms: 50\n"
           "    max_delay_ms: 300\n"
           "    max_attempts: 8\n"
           "adapters:\n"
           "  - name: inv\n"
           "    type: file\n"
           "    config:\n"
           "      path: " +
           inventory.string() +
           "\n"
           "      poll_interval_ms: 100\n";
  }
};

json items_of(const HttpResponse& r) {
  json body = r.json();
  if (body.is_object() && body.contains("items")) return body["items"];
  return body;
}

std::string first_resource_id(std::uint16_t port) {
  auto pools = items_of(http_get(port, "/o2ims-infrastructureInventory/v1/resourcePools"));
  if (pools.empty()) return {};
  const std::string pool = pools[0].at("resourcePoolId");
  auto resources = items_of(http_get(port, "/o2ims-infrastructureInventory/v1/resourcePools/" + pool + "/resources"));
  return resources.empty() ? std::string() : resources[0].at("resourceId").get<std::string>();
}

// The alarms of one resource, from the monitoring API.
std::vector<json> alarms_of(std::uint16_t port, const std::string& resource_id) {
  std::vector<json> out;
  auto r = http_get(port, kMonitoring + "/alarms");
  if (r.status != 200) return out;
  for (auto& a : items_of(r)) {
    if (a.value("resourceID", "") == resource_id) out.push_back(a);
  }
  return out;
}

std::vector<int> event_types(const std::vector<json>& posts) {
  std::vector<int> out;
  for (const auto& p : posts) out.push_back(p.at("body").value("notificationEventType", -1));
  return out;
}

json node_down(const std::string& resource_id) {
  return json{{"labels", {{"alertname", "NodeDown"}, {"o2_resource_id", resource_id}, {"severity", "critical"}}},
              {"annotations", {{"summary", "worker-1 is down"}}},
              {"startsAt", rfc3339_from_now(std::chrono::seconds(-10))},
              {"generatorURL", "http://prometheus.example/graph?g0.expr=up%3D%3D0"}};
}

TEST(AlertmanagerEndToEnd, AlertBecomesAnAlarmThatIsAcknowledgedClearedAndPurged) {
  ASSERT_TRUE(Alertmanager::available()) << kAlertmanagerBinary << " is not installed: run scripts/setup.sh";
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string rid = first_resource_id(gw.port());
  ASSERT_FALSE(rid.empty());

  auto sub = http_request(gw.port(), "POST", kMonitoring + "/alarmSubscriptions",
                          {{"Content-Type", "application/json"}}, json{{"callback", rx.url()}}.dump());
  ASSERT_EQ(sub.status, 201) << sub.body;

  Alertmanager am("http://127.0.0.1:" + std::to_string(gw.port()) + kReceiver);
  am.post_alert(node_down(rid));

  // Alertmanager -> receiver -> alarm.
  std::vector<json> alarms;
  ASSERT_TRUE(eventually([&] { return !(alarms = alarms_of(gw.port(), rid)).empty(); }, 15s, 100ms))
      << gw.log() << am.log();
  ASSERT_EQ(alarms.size(), 1u);
  const json alarm = alarms[0];
  EXPECT_EQ(alarm.at("perceivedSeverity"), 0);
  EXPECT_EQ(alarm.at("extensions").at("labels").at("alertname"), "NodeDown");
  EXPECT_EQ(alarm.at("extensions").at("annotations").at("summary"), "worker-1 is down");
  EXPECT_EQ(alarm.at("extensions").at("receiver"), "o2gw");
  EXPECT_FALSE(alarm.at("extensions").at("fingerprint").get<std::string>().empty());
  const std::string id = alarm.at("alarmEventRecordId");

  auto got = rx.wait_posts(1, 10s);
  ASSERT_EQ(event_types(got), (std::vector<int>{0})) << json(got).dump();
  EXPECT_TRUE(got[0].at("signatureValid").get<bool>());

  auto ack = http_request(gw.port(), "PATCH", kMonitoring + "/alarms/" + id,
                          {{"Content-Type", "application/merge-patch+json"}}, R"({"alarmAcknowledged":true})");
  ASSERT_EQ(ack.status, 200) << ack.body;
  got = rx.wait_posts(2, 10s);
  ASSERT_EQ(event_types(got), (std::vector<int>{0, 3})) << json(got).dump();

  // The same alert again, ended: Alertmanager sends it resolved and the alarm clears.
  json ended = node_down(rid);
  ended["endsAt"] = rfc3339_from_now(std::chrono::seconds(-1));
  am.post_alert(ended);
  got = rx.wait_posts(3, 15s);
  ASSERT_EQ(event_types(got), (std::vector<int>{0, 3, 2})) << json(got).dump() << am.log();
  alarms = alarms_of(gw.port(), rid);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].at("perceivedSeverity"), 5);
  EXPECT_TRUE(alarms[0].contains("alarmClearedTime"));

  // Past the retention period (30 days by default) the cleared alarm is purged.
  auto purge =
      http_request(gw.port(), "POST", "/admin/v1/alarms/purge?asOf=" + rfc3339_from_now(std::chrono::hours(24 * 31)));
  ASSERT_EQ(purge.status, 200) << purge.body;
  EXPECT_GE(purge.json().value("purged", 0), 1);
  EXPECT_TRUE(alarms_of(gw.port(), rid).empty());
  EXPECT_EQ(http_get(gw.port(), kMonitoring + "/alarms/" + id).status, 404);
}

TEST(AlertmanagerEndToEnd, NodeNameLabelsResolveAndUnknownResourcesAreCounted) {
  ASSERT_TRUE(Alertmanager::available()) << kAlertmanagerBinary << " is not installed: run scripts/setup.sh";
  Fixture fx;
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string rid = first_resource_id(gw.port());
  ASSERT_FALSE(rid.empty());
  const auto post = [&](const json& alerts) {
    json payload = {
        {"version", "4"}, {"groupKey", "{}:{}"}, {"status", "firing"}, {"receiver", "direct"}, {"alerts", alerts}};
    return http_request(gw.port(), "POST", kReceiver, {{"Content-Type", "application/json"}}, payload.dump());
  };
  auto r = post(json::array({
      {{"status", "firing"}, {"labels", {{"alertname", "NodeDown"}, {"node", "worker-1"}}}, {"fingerprint", "aa01"}},
      {{"status", "firing"}, {"labels", {{"alertname", "NodeDown"}, {"node", "nowhere"}}}, {"fingerprint", "aa02"}},
  }));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (json{{"raised", 1}, {"cleared", 0}, {"unmapped", 1}}));
  auto alarms = alarms_of(gw.port(), rid);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].at("perceivedSeverity"), 4);  // no severity label: INDETERMINATE
  r = post(json::array({{{"status", "resolved"}, {"labels", {{"node", "worker-1"}}}, {"fingerprint", "aa01"}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("cleared"), 1);
  EXPECT_EQ(alarms_of(gw.port(), rid).at(0).at("perceivedSeverity"), 5);
}

TEST(FileAlarmsEndToEnd, DeclaredAlarmsAreRaisedAndClearWhenRemoved) {
  Fixture fx;
  write_file_atomically(fx.inventory, kInventory +
                                          "alarms:\n"
                                          "  - key: fan-1\n"
                                          "    resource: server-1\n"
                                          "    definition: fan-failure\n"
                                          "    severity: major\n"
                                          "    extensions: {slot: 2}\n");
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string rid = first_resource_id(gw.port());
  ASSERT_FALSE(rid.empty());
  std::vector<json> alarms;
  ASSERT_TRUE(eventually([&] { return !(alarms = alarms_of(gw.port(), rid)).empty(); }, 5s, 50ms)) << gw.log();
  EXPECT_EQ(alarms[0].at("perceivedSeverity"), 1);
  EXPECT_EQ(alarms[0].at("extensions").at("slot"), 2);
  write_file_atomically(fx.inventory, kInventory);
  EXPECT_TRUE(eventually(
      [&] {
        alarms = alarms_of(gw.port(), rid);
        return alarms.size() == 1 && alarms[0].at("perceivedSeverity") == 5;
      },
      5s, 50ms))
      << json(alarms).dump();
}

TEST(AlertmanagerEndToEnd, BadPayloadsGetProblems) {
  Fixture fx;
  GatewayProcess gw({.config_yaml = fx.config()});
  auto r = http_request(gw.port(), "POST", kReceiver, {{"Content-Type", "application/json"}},
                        R"({"version":"3","groupKey":"g","status":"firing","receiver":"r","alerts":[]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_NE(r.json().value("detail", "").find("version"), std::string::npos) << r.body;
  r = http_request(gw.port(), "POST", kReceiver, {{"Content-Type", "application/json"}}, "{oops");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  r = http_request(gw.port(), "POST", kReceiver, {{"Content-Type", "text/plain"}}, "{}");
  EXPECT_EQ(r.status, 415) << r.body;
}

}  // namespace
}  // namespace o2gw::test
