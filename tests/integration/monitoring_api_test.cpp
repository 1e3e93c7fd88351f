// O2-IMS infrastructure monitoring end to end: the real binary, alarms declared in
// the file adapter's inventory, a real receiver for AlarmEventNotifications; the
// API's shapes and every refused body; the configuration across a restart.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/webhook_receiver.hpp"

namespace o2gw::test {
namespace {

using namespace std::chrono_literals;

const std::string kRoot = "/o2ims-infrastructureMonitoring";
const std::string kV1 = kRoot + "/v1";
const std::string kSigningKey = "integration-test-signing-key-0123456789abcdef";

// One resource type with a dictionary of two definitions (one MANUAL), two servers,
// and the alarms given.
std::string inventory_yaml(const std::string& alarms) {
  std::string out =
      "version: 1\n"
      "locations:\n"
      "  - globalLocationId: lab-1\n"
      "    name: Lab\n"
      "    address: Building 4\n"
      "sites:\n"
      "  - key: lab\n"
      "    location: lab-1\n"
      "    name: Lab site\n"
      "resourceTypes:\n"
      "  - key: server\n"
      "    name: Server\n"
      "    vendor: Acme\n"
      "    model: S1\n"
      "    version: \"1\"\n"
      "    resourceKind: PHYSICAL\n"
      "    resourceClass: COMPUTE\n"
      "    alarmDictionary:\n"
      "      alarmDictionaryVersion: \"1.0\"\n"
      "      alarmDefinition:\n"
      "        - key: fan-failure\n"
      "          alarmName: Fan failure\n"
      "          alarmDescription: A fan stopped.\n"
      "          clearingType: MANUAL\n"
      "        - key: hot\n"
      "          alarmName: CPU thermal throttling\n"
      "          alarmDescription: The CPU is throttled.\n"
      "          clearingType: AUTOMATIC\n"
      "resourcePools:\n"
      "  - key: pool\n"
      "    site: lab\n"
      "    name: Pool\n"
      "resources:\n"
      "  - key: r1\n    pool: pool\n    type: server\n    description: one\n"
      "  - key: r2\n    pool: pool\n    type: server\n    description: two\n";
  if (!alarms.empty()) out += "alarms:\n" + alarms;
  return out;
}

struct Fixture {
  TempDir keys;
  TempDir files;
  TempDir data;
  std::filesystem::path inventory;

  explicit Fixture(const std::string& alarms = "") {
    keys.write("2026-01-01", kSigningKey + "\n");
    inventory = files.write("inventory.yaml", inventory_yaml(alarms));
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
           "  retry:\n"
           "    initial_delay_ms: 50\n"
           "    max_delay_ms: 300\n"
           "alarms:\n"
           "  retention_days: 3\n"
           "adapters:\n"
           "  - name: inv\n"
           "    type: file\n"
           "    config:\n"
           "      path: " +
           inventory.string() +
           "\n"
           "      poll_interval_ms: 100\n";
  }
  [[nodiscard]] GatewayOptions options() const { return {.config_yaml = config(), .data_dir = data.path()}; }
};

HttpResponse send(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body,
                  const std::string& content_type = "application/json") {
  HeaderList h;
  if (!content_type.empty()) h.emplace_back("Content-Type", content_type);
  return http_request(port, method, path, h, body);
}

void expect_problem(const HttpResponse& r, int status, const std::string& detail_part) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
  if (r.header("Content-Type") != "application/problem+json") return;
  auto j = r.json();
  EXPECT_EQ(j.value("status", 0), status);
  EXPECT_NE(j.value("detail", "").find(detail_part), std::string::npos)
      << "detail '" << j.value("detail", "") << "' lacks '" << detail_part << "'";
}

nlohmann::json wait_alarms(std::uint16_t port, std::size_t n, const std::string& query = "") {
  nlohmann::json list;
  for (int i = 0; i < 100; ++i) {
    list = http_get(port, kV1 + "/alarms" + query).json();
    if (list.size() == n) break;
    std::this_thread::sleep_for(50ms);
  }
  return list;
}

// ---------------------------------------------------------------------------

TEST(Monitoring, ApiVersionsAndProbableCauses) {
  Fixture fx;
  GatewayProcess gw(fx.options());
  auto all = http_get(gw.port(), kRoot + "/api_versions");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.json(), (nlohmann::json{{"uriPrefix", kRoot}, {"apiVersions", {{{"version", "1.0.0"}}}}}));
  EXPECT_EQ(http_get(gw.port(), kV1 + "/api_versions").json().at("uriPrefix"), kV1);

  auto causes = http_get(gw.port(), kV1 + "/alarmProbableCauses");
  ASSERT_EQ(causes.status, 200) << causes.body;
  // Two from the file, and the gateway's own "Adapter unhealthy".
  ASSERT_EQ(causes.json().size(), 3U);
  std::set<std::string> names;
  for (const auto& c : causes.json()) {
    names.insert(c.at("name"));
    auto one = http_get(gw.port(), kV1 + "/alarmProbableCauses/" + c.at("probableCauseId").get<std::string>());
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(one.json(), c);
  }
  EXPECT_EQ(names, (std::set<std::string>{"Fan failure", "CPU thermal throttling", "Adapter unhealthy"}));
  auto filtered = http_get(gw.port(), kV1 + "/alarmProbableCauses?filter=(eq,name,Fan%20failure)");
  ASSERT_EQ(filtered.status, 200) << filtered.body;
  EXPECT_EQ(filtered.json().size(), 1U);
  expect_problem(http_get(gw.port(), kV1 + "/alarmProbableCauses/nope"), 400, "not a valid UUID");
  expect_problem(http_get(gw.port(), kV1 + "/alarmProbableCauses/0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d"), 404,
                 "no probable cause");
  expect_problem(http_get(gw.port(), kV1 + "/alarms/nope"), 400, "alarmEventRecordId");
  expect_problem(http_get(gw.port(), kV1 + "/alarms/0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d"), 404, "no alarm");
  EXPECT_EQ(http_get(gw.port(), kV1 + "/alarms").json(), nlohmann::json::array());
}

TEST(Monitoring, ServiceConfigurationSurvivesRestart) {
  Fixture fx;
  const std::string path = kV1 + "/alarmServiceConfiguration";
  {
    GatewayProcess gw(fx.options());
    EXPECT_EQ(http_get(gw.port(), path).json(),
              (nlohmann::json{{"retentionPeriod", 3}, {"extensions", nlohmann::json::object()}}));
    expect_problem(send(gw.port(), "PUT", path, R"({"retentionPeriod":0})"), 400, "at least 1");
    expect_problem(send(gw.port(), "PUT", path, R"({"extensions":{}})"), 400, "retentionPeriod is required");
    expect_problem(send(gw.port(), "PUT", path, R"({"retentionPeriod":"5"})"), 400, "must be an integer");
    expect_problem(send(gw.port(), "PUT", path, R"({"retentionPeriod":5,"other":1})"), 400, "unknown field 'other'");
    expect_problem(send(gw.port(), "PUT", path, R"({"retentionPeriod":5,"extensions":[]})"), 400, "extensions");
    expect_problem(send(gw.port(), "PUT", path, R"([1])"), 400, "JSON object");
    expect_problem(send(gw.port(), "PUT", path, R"({)"), 400, "not valid JSON");
    expect_problem(send(gw.port(), "PUT", path, R"({"retentionPeriod":5})", "text/plain"), 415, "application/json");
    expect_problem(send(gw.port(), "PATCH", path, R"({"retentionPeriod":null})"), 400, "cannot be removed");
    auto put = send(gw.port(), "PUT", path, R"({"retentionPeriod":5,"extensions":{"a":1}})");
    ASSERT_EQ(put.status, 200) << put.body;
    auto patched = send(gw.port(), "PATCH", path, R"({"extensions":{"b":2}})", "application/merge-patch+json");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(patched.json(), (nlohmann::json{{"retentionPeriod", 5}, {"extensions", {{"a", 1}, {"b", 2}}}}));
  }
  GatewayProcess again(fx.options());
  EXPECT_EQ(http_get(again.port(), path).json(),
            (nlohmann::json{{"retentionPeriod", 5}, {"extensions", {{"a", 1}, {"b", 2}}}}));
}

TEST(Monitoring, AlarmSubscriptionBodies) {
  Fixture fx;
  GatewayProcess gw(fx.options());
  const std::string subs = kV1 + "/alarmSubscriptions";
  expect_problem(send(gw.port(), "POST", subs, R"({})"), 400, "callback is required");
  expect_problem(send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb","filter":"BOGUS"})"), 400,
                 "invalid filter");
  expect_problem(send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb","subscriptionId":"x"})"), 400,
                 "unknown field 'subscriptionId'");
  expect_problem(
      send(gw.port(), "POST", subs,
           R"({"callback":"http://127.0.0.1:9/cb","alarmSubscriptionId":"0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d"})"),
      400, "alarmSubscriptionId is allocated");
  expect_problem(send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb","consumerSubscriptionId":"x"})"),
                 400, "consumerSubscriptionId must be a UUID");
  expect_problem(send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb"})", "text/plain"), 415,
                 "application/json");
  auto created = send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb","filter":"CLEAR"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.json().at("alarmSubscriptionId");
  EXPECT_EQ(created.header("Location"), subs + "/" + id);
  EXPECT_EQ(created.json().at("filter"), "CLEAR");
  EXPECT_FALSE(created.json().contains("subscriptionId"));
  expect_problem(send(gw.port(), "POST", subs, R"({"callback":"http://127.0.0.1:9/cb","filter":"CLEAR"})"), 409, id);
  EXPECT_EQ(http_get(gw.port(), subs + "/" + id).json(), created.json());
  EXPECT_EQ(http_get(gw.port(), subs).json(), nlohmann::json::array({created.json()}));
  EXPECT_EQ(http_get(gw.port(), subs + "?filter=(eq,filter,NEW)").json(), nlohmann::json::array());
  // The inventory API does not see alarm subscriptions.
  EXPECT_EQ(http_get(gw.port(), "/o2ims-infrastructureInventory/v1/subscriptions/" + id).status, 404);
  EXPECT_EQ(http_request(gw.port(), "DELETE", subs + "/" + id).status, 200);
  expect_problem(http_request(gw.port(), "DELETE", subs + "/" + id), 404, "no subscription");
  expect_problem(http_request(gw.port(), "DELETE", subs + "/nope"), 400, "alarmSubscriptionId");
}

TEST(Monitoring, DeclaredAlarmNotifiedAcknowledgedClearedAndPurged) {
  Fixture fx;  // no alarms yet
  WebhookReceiver receiver(fx.keys.path());
  GatewayProcess gw(fx.options());
  const std::string consumer = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
  auto sub = send(gw.port(), "POST", kV1 + "/alarmSubscriptions",
                  nlohmann::json{{"callback", receiver.url()}, {"consumerSubscriptionId", consumer}}.dump());
  ASSERT_EQ(sub.status, 201) << sub.body;

  write_file_atomically(fx.inventory, inventory_yaml("  - key: fan-r1\n    resource: r1\n    definition: fan-failure\n"
                                                     "    severity: major\n"
                                                     "  - key: hot-r2\n    resource: r2\n    definition: hot\n"
                                                     "    severity: minor\n"));
  auto alarms = wait_alarms(gw.port(), 2);
  ASSERT_EQ(alarms.size(), 2U) << alarms.dump();
  std::string fan, hot;
  for (const auto& a : alarms) {
    (a.at("perceivedSeverity") == 1 ? fan : hot) = a.at("alarmEventRecordId");
    for (const char* f : {"alarmEventRecordId", "alarmDefinitionID", "probableCauseID", "resourceTypeID", "resourceID",
                          "alarmRaisedTime", "alarmAcknowledged", "perceivedSeverity", "extensions"}) {
      EXPECT_TRUE(a.contains(f)) << f << " in " << a.dump();
    }
  }
  ASSERT_FALSE(fan.empty());
  ASSERT_FALSE(hot.empty());
  EXPECT_EQ(http_get(gw.port(), kV1 + "/alarms?filter=(eq,perceivedSeverity,2)").json().size(), 1U);
  auto one = http_get(gw.port(), kV1 + "/alarms/" + fan);
  ASSERT_EQ(one.status, 200);
  // probableCauseID names a served ProbableCause.
  EXPECT_EQ(http_get(gw.port(), kV1 + "/alarmProbableCauses/" + one.json().at("probableCauseID").get<std::string>())
                .json()
                .at("name"),
            "Fan failure");

  auto posts = receiver.wait_posts(2, 10s);
  ASSERT_EQ(posts.size(), 2U);
  for (const auto& p : posts) {
    const auto& body = p.at("body");
    EXPECT_EQ(body.at("notificationEventType"), 0);
    EXPECT_EQ(body.at("consumerSubscriptionId"), consumer);
    EXPECT_EQ(body.at("globalCloudID"), "00000000-0000-0000-0000-000000000000");
    EXPECT_NE(body.at("objectRef")
                  .get<std::string>()
                  .find(kV1 + "/alarms/" + body.at("alarmEventRecordId").get<std::string>()),
              std::string::npos);
    EXPECT_TRUE(body.contains("alarmChangedTime"));
  }

  // PATCH: every refused body, then the acknowledgement and the manual clear.
  const std::string fan_path = kV1 + "/alarms/" + fan;
  const std::string merge = "application/merge-patch+json";
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"alarmAcknowledged":false})", merge), 400,
                 "only be set to true");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"alarmAcknowledged":true,"perceivedSeverity":5})", merge), 400,
                 "in one request");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"perceivedSeverity":2})", merge), 400, "only be set to 5");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"extensions":{}})", merge), 400, "unknown field 'extensions'");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"("x")", merge), 400, "JSON object");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({})", merge), 400, "must set");
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"alarmAcknowledged":true})", "text/plain"), 415, "merge-patch");
  expect_problem(send(gw.port(), "PATCH", kV1 + "/alarms/0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d",
                      R"({"alarmAcknowledged":true})", merge),
                 404, "no alarm");
  auto ack = send(gw.port(), "PATCH", fan_path, R"({"alarmAcknowledged":true})", merge);
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(ack.json(), (nlohmann::json{{"alarmAcknowledged", true}}));
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"alarmAcknowledged":true})", merge), 409,
                 "already acknowledged");
  expect_problem(send(gw.port(), "PATCH", kV1 + "/alarms/" + hot, R"({"perceivedSeverity":5})"), 409, "AUTOMATIC");
  posts = receiver.wait_posts(3, 10s);
  ASSERT_EQ(posts.size(), 3U);
  EXPECT_EQ(posts[2].at("body").at("notificationEventType"), 3);
  EXPECT_EQ(posts[2].at("body").at("alarmAcknowledged"), true);
  EXPECT_TRUE(posts[2].at("body").contains("alarmAcknowledgeTime"));

  // Removed from the file: the source clears it.
  write_file_atomically(fx.inventory, inventory_yaml("  - key: fan-r1\n    resource: r1\n    definition: fan-failure\n"
                                                     "    severity: major\n"));
  posts = receiver.wait_posts(4, 10s);
  ASSERT_EQ(posts.size(), 4U);
  EXPECT_EQ(posts[3].at("body").at("notificationEventType"), 2);
  EXPECT_EQ(posts[3].at("body").at("alarmEventRecordId"), hot);
  EXPECT_EQ(posts[3].at("body").at("perceivedSeverity"), 5);
  auto cleared = http_get(gw.port(), kV1 + "/alarms/" + hot).json();
  EXPECT_EQ(cleared.at("perceivedSeverity"), 5);
  EXPECT_TRUE(cleared.contains("alarmClearedTime"));

  // The manual clear of the MANUAL one.
  auto manual = send(gw.port(), "PATCH", fan_path, R"({"perceivedSeverity":5})", merge);
  ASSERT_EQ(manual.status, 200) << manual.body;
  EXPECT_EQ(manual.json(), (nlohmann::json{{"perceivedSeverity", 5}}));
  expect_problem(send(gw.port(), "PATCH", fan_path, R"({"perceivedSeverity":5})", merge), 409, "already cleared");

  // Purge: retention is 3 days.
  expect_problem(http_request(gw.port(), "POST", "/admin/v1/alarms/purge?asOf=tomorrow"), 400, "RFC 3339");
  auto none = http_request(gw.port(), "POST", "/admin/v1/alarms/purge");
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json().at("purged"), 0);
  auto later = http_request(gw.port(), "POST", "/admin/v1/alarms/purge?asOf=2099-01-01T00:00:00Z");
  ASSERT_EQ(later.status, 200) << later.body;
  EXPECT_EQ(later.json().at("purged"), 2);
  EXPECT_EQ(http_get(gw.port(), kV1 + "/alarms").json(), nlohmann::json::array());
}

TEST(Monitoring, ActiveAlarmSurvivesRestart) {
  Fixture fx("  - key: fan-r1\n    resource: r1\n    definition: fan-failure\n    severity: critical\n");
  std::string id;
  {
    GatewayProcess gw(fx.options());
    auto alarms = wait_alarms(gw.port(), 1);
    ASSERT_EQ(alarms.size(), 1U);
    id = alarms[0].at("alarmEventRecordId");
  }
  GatewayProcess again(fx.options());
  auto alarms = wait_alarms(again.port(), 1);
  ASSERT_EQ(alarms.size(), 1U) << alarms.dump();
  EXPECT_EQ(alarms[0].at("alarmEventRecordId"), id);  // the same alarm, not a new one
  EXPECT_EQ(alarms[0].at("perceivedSeverity"), 0);
}

}  // namespace
}  // namespace o2gw::test
