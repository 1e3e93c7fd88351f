// The Kubernetes IMS adapter end to end: the real o2gw binary watching one or
// two fake API servers (tests/support/fake_kube_apiserver.py, TLS + bearer
// token, the real list/watch protocol). Covers the initial sync, node changes
// reaching the API and subscribers within a second, dropped watches, 410
// relists, OpenShift and Cluster API machine pools, refused credentials, a
// hanging API server and two clusters at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_kube.hpp"
#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/webhook_receiver.hpp"

namespace o2gw::test {
namespace {

using nlohmann::json;

const std::string kV1 = "/o2ims-infrastructureInventory/v1";
// The promise: a change in the cluster is in the API within a second.
constexpr auto kPromptly = 1000ms;
const std::string kSigningKey = "kubernetes-adapter-test-signing-key-0123456789";

json get_json(std::uint16_t port, const std::string& path) {
  HttpResponse r = http_get(port, path);
  if (r.status != 200) throw std::runtime_error("GET " + path + ": " + std::to_string(r.status) + " " + r.body);
  return r.json();
}

std::string adapter_entry(const std::string& name, const std::filesystem::path& kubeconfig,
                          const std::string& extra = "") {
  return "  - name: " + name +
         "\n"
         "    type: kubernetes\n"
         "    config:\n"
         "      kubeconfig: " +
         kubeconfig.string() + "\n" + extra;
}

std::string gateway_config(const std::string& adapters, const std::string& extra_top = "") {
  return "registry:\n"
         "  health_interval_ms: 100\n" +
         extra_top + "adapters:\n" + adapters;
}

// Every resource served, by the node it shows (extensions.nodeName), through
// the pools of the v1 API, as an SMO would walk it.
std::map<std::string, json> resources_by_node(std::uint16_t port, const std::string& cluster = "") {
  std::map<std::string, json> out;
  for (const auto& pool : get_json(port, kV1 + "/resourcePools?all_fields")) {
    if (!cluster.empty() && pool["extensions"].value("cluster", "") != cluster) continue;
    const std::string id = pool["resourcePoolId"];
    HttpResponse list = http_get(port, kV1 + "/resourcePools/" + id + "/resources?all_fields");
    if (list.status == 404) continue;  // the pool went between the two requests
    if (list.status != 200) throw std::runtime_error("resources of pool " + id + ": " + list.body);
    for (auto& r : list.json()) {
      std::string key = r["extensions"].value("nodeName", "");
      if (key.empty()) key = "machine:" + r["extensions"]["machine"].value("name", "");
      out[key] = r;
    }
  }
  return out;
}

std::map<std::string, json> pools_by_name(std::uint16_t port, const std::string& cluster = "") {
  std::map<std::string, json> out;
  for (auto& pool : get_json(port, kV1 + "/resourcePools?all_fields")) {
    if (!cluster.empty() && pool["extensions"].value("cluster", "") != cluster) continue;
    out[pool["name"]] = pool;
  }
  return out;
}

json deployment_manager(std::uint16_t port, const std::string& name) {
  for (auto& dm : get_json(port, kV1 + "/deploymentManagers?all_fields")) {
    if (dm.value("name", "") == name) return dm;
  }
  return nullptr;
}

json adapter_state(std::uint16_t port, const std::string& name) {
  for (auto& a : get_json(port, "/admin/v1/adapters")) {
    if (a.value("name", "") == name) return a;
  }
  return nullptr;
}

std::string ready_status(const json& resource) {
  for (const auto& c : resource["extensions"]["conditions"]) {
    if (c.value("type", "") == "Ready") return c.value("status", "");
  }
  return "";
}

// Nodes as the fake makes them, with distinct provider ids per name.
std::vector<json> make_nodes(const std::string& prefix, int count, const std::vector<std::string>& zones) {
  std::vector<json> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(FakeKube::make_node(prefix + std::to_string(i), zones[static_cast<std::size_t>(i) % zones.size()]));
  }
  return out;
}

// Waits until `condition` holds, and says how long that took.
template <typename Condition>
std::optional<std::chrono::milliseconds> time_until(Condition&& condition, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  if (!eventually(condition, timeout, 10ms)) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

double resource_changes(std::uint16_t port, const std::string& type) {
  return metric_sum(scrape_metrics(port), "o2gw_inventory_changes_total", {{"kind", "resource"}, {"type", type}});
}

void expect_ok(const FakeKube::Reply& r, const std::string& what) {
  EXPECT_TRUE(r.status >= 200 && r.status < 300) << what << ": " << r.status << " " << r.body.dump();
}

// ---------------------------------------------------------------------------

// A gateway watching `kube` as instance "cluster-a", with a signed webhook
// receiver subscribed to every inventory change.
struct SubscribedGateway {
  static const TempDir& with_key(const TempDir& dir) {
    dir.write("2026-01-01", kSigningKey + "\n");
    return dir;
  }
  explicit SubscribedGateway(const FakeKube& kube)
      : gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()),
                                          "subscriptions:\n  callback_allow: [\"127.0.0.1\"]\nwebhooks:\n  "
                                          "signing_key_dir: " + with_key(keys).path().string() + "\n")}),
        rx(keys.path()) {
    auto sub = http_request(gw.port(), "POST", kV1 + "/subscriptions", {{"Content-Type", "application/json"}},
                            json{{"callback", rx.url()}}.dump());
    if (sub.status != 201) throw std::runtime_error("subscription refused: " + sub.body);
  }
  TempDir keys;
  GatewayProcess gw;
  WebhookReceiver rx;
};

TEST(KubernetesAdapter, InitialSyncServesEveryNodeWithPoolsTypesAndDeploymentManager) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 24, {"zone-a", "zone-b", "zone-c"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()))});

  auto resources = resources_by_node(gw.port());
  ASSERT_EQ(resources.size(), 24u);
  const json& r = resources["node-5"];
  EXPECT_EQ(r["globalAssetId"], "aws:///zone-c/i-node-5");
  EXPECT_EQ(r["extensions"]["cluster"], "cluster-a");
  EXPECT_EQ(r["extensions"]["allocatable"]["cpu"], "3920m");
  EXPECT_EQ(r["extensions"]["architecture"], "amd64");
  EXPECT_EQ(ready_status(r), "True");
  EXPECT_EQ(r["extensions"]["ready"], true);

  auto pools = pools_by_name(gw.port());
  ASSERT_EQ(pools.size(), 3u);
  EXPECT_TRUE(pools.contains("zone-a") && pools.contains("zone-b") && pools.contains("zone-c"));
  EXPECT_EQ(r["resourcePoolId"], pools["zone-c"]["resourcePoolId"]);

  json types = json::array();
  for (auto& t : get_json(gw.port(), kV1 + "/resourceTypes?all_fields")) {
    // The gateway's own type (alarms about its adapters) is not the cluster's.
    if (t.value("name", "") != "O-Cloud management service") types.push_back(t);
  }
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(types[0]["name"], "m5.xlarge (amd64)");
  EXPECT_EQ(types[0]["resourceKind"], "LOGICAL");
  EXPECT_EQ(types[0]["resourceClass"], "COMPUTE");

  json dm = deployment_manager(gw.port(), "cluster-a");
  ASSERT_FALSE(dm.is_null());
  EXPECT_EQ(dm["serviceUri"], kube.server());
  EXPECT_EQ(dm["capacity"]["nodes"], 24);
  EXPECT_EQ(dm["capacity"]["cpu"], 24 * 3.92);
  EXPECT_EQ(dm["capacity"]["pods"], 24 * 110);
  EXPECT_EQ(dm["capacity"]["memory"], 24LL * 15186500 * 1024);
  EXPECT_EQ(dm["extensions"]["profileName"], "native_k8sapi");
  EXPECT_EQ(dm["extensions"]["profileData"]["cluster_api_endpoint"], kube.server());
  EXPECT_NE(dm["extensions"]["profileData"]["cluster_ca_cert"].get<std::string>().find("BEGIN CERTIFICATE"),
            std::string::npos);
  EXPECT_EQ(dm["extensions"]["profileData"]["admin_client_key"], "");  // expose_credentials is off
  EXPECT_FALSE(dm["extensions"]["profileData"].contains("admin_token"));
  EXPECT_EQ(dm["capabilities"].value("kubernetesVersion", ""), "v1.33.9");

  json state = adapter_state(gw.port(), "cluster-a");
  EXPECT_EQ(state["status"], "active") << state.dump();
  EXPECT_EQ(state["synced"], true);
  // The adapter listed and then watched: no polling.
  bool watched = false;
  for (const auto& req : kube.requests()) {
    if (req.value("path", "") == "/api/v1/nodes" && req.value("query", "").find("watch=") != std::string::npos) {
      watched = true;
    }
  }
  EXPECT_TRUE(watched);
}

TEST(KubernetesAdapter, NodeChangesReachTheApiAndSubscribersWithinASecond) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 4, {"zone-a"}));
  SubscribedGateway sg(kube);
  auto& gw = sg.gw;
  auto& rx = sg.rx;

  std::vector<std::pair<std::string, std::chrono::milliseconds>> timings;
  auto note = [&](const std::string& what, std::optional<std::chrono::milliseconds> took) {
    ASSERT_TRUE(took.has_value()) << what << " did not show within " << kPromptly.count() << " ms";
    timings.emplace_back(what, *took);
  };

  // Added.
  expect_ok(kube.request("POST", "/api/v1/nodes", FakeKube::make_node("node-new", "zone-a")), "create");
  note("add", time_until([&] { return resources_by_node(gw.port()).contains("node-new"); }, kPromptly));

  // Relabelled into another zone: the same resource, in a new pool.
  const std::string id = resources_by_node(gw.port())["node-new"]["resourceId"];
  expect_ok(kube.request("PATCH", "/api/v1/nodes/node-new",
                         json{{"metadata", {{"labels", {{"topology.kubernetes.io/zone", "zone-z"}}}}}},
                         "application/merge-patch+json"),
            "relabel");
  note("relabel", time_until(
                      [&] {
                        auto pools = pools_by_name(gw.port());
                        auto res = resources_by_node(gw.port());
                        return pools.contains("zone-z") && res.contains("node-new") &&
                               res["node-new"]["resourcePoolId"] == pools["zone-z"]["resourcePoolId"];
                      },
                      kPromptly));
  EXPECT_EQ(resources_by_node(gw.port())["node-new"]["resourceId"], id);

  // NotReady, through the status subresource as a kubelet would.
  json node = kube.request("GET", "/api/v1/nodes/node-new").body;
  for (auto& c : node["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      c["status"] = "Unknown";
      c["reason"] = "NodeStatusUnknown";
      c["message"] = "Kubelet stopped posting node status.";
      c["lastTransitionTime"] = "2026-03-01T00:00:00Z";
    }
  }
  expect_ok(kube.request("PUT", "/api/v1/nodes/node-new/status", node), "status");
  note("not-ready",
       time_until([&] { return ready_status(resources_by_node(gw.port())["node-new"]) == "Unknown"; }, kPromptly));
  EXPECT_EQ(resources_by_node(gw.port())["node-new"]["extensions"]["ready"], false);
  EXPECT_EQ(deployment_manager(gw.port(), "cluster-a")["capacity"]["readyNodes"], 4);

  // Deleted.
  expect_ok(kube.request("DELETE", "/api/v1/nodes/node-new"), "delete");
  note("delete", time_until([&] { return !resources_by_node(gw.port()).contains("node-new"); }, kPromptly));
  EXPECT_EQ(http_get(gw.port(), kV1 + "/resourcePools/" +
                                    pools_by_name(gw.port())["zone-a"]["resourcePoolId"].get<std::string>() +
                                    "/resources/" + id)
                .status,
            404);
  EXPECT_FALSE(pools_by_name(gw.port()).contains("zone-z"));  // its last node left

  for (const auto& [what, took] : timings) std::cout << "[ timing ] " << what << ": " << took.count() << " ms\n";

  // The subscriber heard of each step once: create, modify (relabel), modify (NotReady), delete.
  auto resource_events = [&] {
    std::vector<int> types;
    for (const auto& p : rx.posts()) {
      const json& body = p.at("body");
      if (body.value("objectRef", "").find("/resources/" + id) == std::string::npos) continue;
      types.push_back(body.value("notificationEventType", -1));
    }
    return types;
  };
  ASSERT_TRUE(eventually([&] { return resource_events().size() >= 4; }, 5s)) << rx.posts().size();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(resource_events(), (std::vector<int>{0, 1, 1, 2}));
}

// Node conditions as O2-IMS alarms: a node that goes NotReady is an alarm on
// its resource within a second, defined in its type's dictionary; its
// recovery clears it.
TEST(KubernetesAdapter, NotReadyNodeIsAnAlarmUntilItRecovers) {
  const std::string alarms_path = "/o2ims-infrastructureMonitoring/v1/alarms";
  FakeKube kube;
  kube.bulk(make_nodes("node-", 3, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()))});
  auto resources = resources_by_node(gw.port());
  ASSERT_EQ(resources.size(), 3u);
  const json resource = resources["node-1"];
  const std::string resource_id = resource["resourceId"];
  const std::string type_id = resource["resourceTypeId"];
  // The definition, as an SMO finds it: in the alarm dictionary of the resource's type.
  const json type = get_json(gw.port(), kV1 + "/resourceTypes/" + type_id + "?all_fields");
  std::string not_ready_definition;
  for (const auto& def : type["alarmDictionary"]["alarmDefinition"]) {
    if (def["alarmName"] == "Node not ready") not_ready_definition = def["alarmDefinitionId"];
  }
  ASSERT_FALSE(not_ready_definition.empty()) << type.dump();
  auto alarm_of_resource = [&]() -> json {
    for (auto& a : get_json(gw.port(), alarms_path)) {
      if (a.value("resourceID", "") == resource_id) return a;
    }
    return nullptr;
  };
  EXPECT_TRUE(alarm_of_resource().is_null());  // healthy nodes raise nothing

  auto set_ready = [&](const std::string& status, const std::string& reason, const std::string& since) {
    json node = kube.request("GET", "/api/v1/nodes/node-1").body;
    for (auto& c : node["status"]["conditions"]) {
      if (c["type"] == "Ready") {
        c["status"] = status;
        c["reason"] = reason;
        c["message"] = "Ready is " + status;
        c["lastTransitionTime"] = since;
      }
    }
    expect_ok(kube.request("PUT", "/api/v1/nodes/node-1/status", node), "status");
  };
  set_ready("False", "KubeletNotReady", "2026-03-01T00:00:00Z");
  json alarm;
  auto raised = time_until(
      [&] {
        alarm = alarm_of_resource();
        return !alarm.is_null();
      },
      kPromptly);
  ASSERT_TRUE(raised.has_value()) << "no alarm within " << kPromptly.count() << " ms";
  std::cout << "[ timing ] alarm raised: " << raised->count() << " ms\n";
  EXPECT_EQ(alarm["resourceTypeID"], type_id);
  EXPECT_EQ(alarm["alarmDefinitionID"], not_ready_definition);
  EXPECT_EQ(alarm["perceivedSeverity"], 0);  // CRITICAL
  EXPECT_EQ(alarm["extensions"]["node"], "node-1");
  EXPECT_EQ(alarm["extensions"]["reason"], "KubeletNotReady");
  EXPECT_EQ(alarm["alarmRaisedTime"].get<std::string>().rfind("2026-03-01T00:00:00", 0), 0u) << alarm.dump();
  EXPECT_FALSE(alarm.contains("alarmClearedTime") && !alarm["alarmClearedTime"].is_null()) << alarm.dump();
  const std::string alarm_id = alarm["alarmEventRecordId"];

  set_ready("True", "KubeletReady", "2026-03-01T00:05:00Z");
  json cleared;
  auto took = time_until(
      [&] {
        cleared = get_json(gw.port(), alarms_path + "/" + alarm_id);
        return cleared.value("perceivedSeverity", -1) == 5;
      },
      kPromptly);
  ASSERT_TRUE(took.has_value()) << cleared.dump();
  std::cout << "[ timing ] alarm cleared: " << took->count() << " ms\n";
  EXPECT_TRUE(cleared.contains("alarmClearedTime") && cleared["alarmClearedTime"].is_string()) << cleared.dump();
}

TEST(KubernetesAdapter, DroppedWatchesResumeWithoutLostOrDuplicateChanges) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 10, {"zone-a"}));
  SubscribedGateway sg(kube);
  auto& gw = sg.gw;
  auto& rx = sg.rx;
  const double modified_before = resource_changes(gw.port(), "modify");
  const int watches_before = kube.stats().value("watchesStarted", 0);

  // Each round relabels every node once, with watches cut in the middle of the rounds.
  constexpr int kRounds = 6;
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < 10; ++i) {
      expect_ok(kube.request("PATCH", "/api/v1/nodes/node-" + std::to_string(i),
                             json{{"metadata", {{"labels", {{"o2gw.test/round", std::to_string(round)}}}}}},
                             "application/merge-patch+json"),
                "relabel");
      if (i == 4) kube.drop_watches();
    }
  }
  ASSERT_TRUE(eventually(
      [&] {
        auto res = resources_by_node(gw.port());
        return std::all_of(res.begin(), res.end(), [](const auto& kv) {
          return kv.second["extensions"]["labels"].value("o2gw.test/round", "") == std::to_string(kRounds);
        });
      },
      5s));
  EXPECT_GT(kube.stats().value("watchesStarted", 0), watches_before);  // it did reconnect
  // Resumed from the last resourceVersion: every change once, none replayed.
  EXPECT_TRUE(eventually([&] { return resource_changes(gw.port(), "modify") - modified_before == 10 * kRounds; }, 3s))
      << resource_changes(gw.port(), "modify") - modified_before;
  EXPECT_EQ(resources_by_node(gw.port()).size(), 10u);
  auto modifies = [&] {
    std::size_t n = 0;
    for (const auto& p : rx.posts()) {
      const json& body = p.at("body");
      if (body.value("objectRef", "").find("/resources/") != std::string::npos &&
          body.value("notificationEventType", -1) == 1) {
        ++n;
      }
    }
    return n;
  };
  EXPECT_TRUE(eventually([&] { return modifies() == 10u * kRounds; }, 5s)) << modifies();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(modifies(), 10u * kRounds);
}

TEST(KubernetesAdapter, ExpiredResourceVersionRelistsWithExactChanges) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 30, {"zone-a", "zone-b"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()))});
  ASSERT_EQ(resources_by_node(gw.port()).size(), 30u);
  const double created = resource_changes(gw.port(), "create");
  const double modified = resource_changes(gw.port(), "modify");
  const double deleted = resource_changes(gw.port(), "delete");
  auto lists = [&] {
    int n = 0;
    for (const auto& req : kube.requests()) {
      if (req.value("path", "") == "/api/v1/nodes" && req.value("query", "").find("watch") == std::string::npos &&
          req.value("port", "") == "api" && req.value("query", "").find("limit=1&") == std::string::npos) {
        ++n;
      }
    }
    return n;
  };
  const int lists_before = lists();

  // The gateway's watch is cut and its reconnection held back while the cluster
  // changes and the history is compacted: resuming is impossible (410).
  kube.set_hang(1500ms);
  kube.drop_watches();
  for (int i = 0; i < 10; ++i) {  // modified
    expect_ok(
        kube.request("PATCH", "/api/v1/nodes/node-" + std::to_string(i),
                     json{{"metadata", {{"labels", {{"o2gw.test/changed", "yes"}}}}}}, "application/merge-patch+json"),
        "modify");
  }
  for (int i = 10; i < 15; ++i) {  // modified twice: one change in the end
    for (const char* v : {"one", "two"}) {
      expect_ok(
          kube.request("PATCH", "/api/v1/nodes/node-" + std::to_string(i),
                       json{{"metadata", {{"labels", {{"o2gw.test/changed", v}}}}}}, "application/merge-patch+json"),
          "modify");
    }
  }
  for (int i = 15; i < 20; ++i) {  // deleted
    expect_ok(kube.request("DELETE", "/api/v1/nodes/node-" + std::to_string(i)), "delete");
  }
  for (const auto& n : make_nodes("late-", 5, {"zone-a"})) {  // added
    expect_ok(kube.request("POST", "/api/v1/nodes", n), "create");
  }
  {
    // Added and deleted while nobody watched: never seen, never reported.
    expect_ok(kube.request("POST", "/api/v1/nodes", FakeKube::make_node("ephemeral")), "create");
    expect_ok(kube.request("DELETE", "/api/v1/nodes/ephemeral"), "delete");
  }
  kube.compact();
  kube.set_hang(0ms);

  // 30 - 5 deleted + 5 added.
  ASSERT_TRUE(eventually([&] { return resource_changes(gw.port(), "delete") - deleted == 5; }, 10s));
  EXPECT_EQ(resource_changes(gw.port(), "create") - created, 5);
  EXPECT_EQ(resource_changes(gw.port(), "modify") - modified, 15);
  EXPECT_GT(lists(), lists_before);  // it listed again
  auto res = resources_by_node(gw.port());
  EXPECT_EQ(res["node-3"]["extensions"]["labels"]["o2gw.test/changed"], "yes");
  EXPECT_EQ(res["node-12"]["extensions"]["labels"]["o2gw.test/changed"], "two");
  EXPECT_FALSE(res.contains("node-17"));
  EXPECT_TRUE(res.contains("late-4"));
  EXPECT_FALSE(res.contains("ephemeral"));
  EXPECT_EQ(res.size(), 30u);
  EXPECT_EQ(deployment_manager(gw.port(), "cluster-a")["capacity"]["nodes"], 30);
}

// --- machine pools ----------------------------------------------------------

json openshift_machine_set(const std::string& name, int replicas) {
  return {{"apiVersion", "machine.openshift.io/v1beta1"},
          {"kind", "MachineSet"},
          {"metadata", {{"name", name}, {"namespace", "openshift-machine-api"}}},
          {"spec", {{"replicas", replicas}}}};
}

json openshift_machine(const std::string& name, const std::string& set, const std::string& provider_id) {
  return {
      {"apiVersion", "machine.openshift.io/v1beta1"},
      {"kind", "Machine"},
      {"metadata",
       {{"name", name},
        {"namespace", "openshift-machine-api"},
        {"labels",
         {{"machine.openshift.io/cluster-api-machineset", set}, {"machine.openshift.io/instance-type", "m5.xlarge"}}}}},
      {"spec", {{"providerID", provider_id}}}};
}

// Machines get their node reference through the status subresource, as from the machine controller.
void set_machine_status(const FakeKube& kube, const std::string& collection, const std::string& name,
                        const json& status) {
  expect_ok(kube.request("PATCH", collection + "/" + name + "/status", json{{"status", status}},
                         "application/merge-patch+json"),
            "status of " + name);
}

TEST(KubernetesAdapter, OpenShiftMachineSetsBecomePoolsWithTheirMachines) {
  FakeKube kube({.machine_apis = true});
  expect_ok(kube.request(
                "POST", "/api/v1/namespaces",
                json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "openshift-machine-api"}}}}),
            "namespace");
  const std::string sets = "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machinesets";
  const std::string machines = "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machines";
  expect_ok(kube.request("POST", sets, openshift_machine_set("workers-a", 2)), "machineset");
  kube.bulk(make_nodes("node-", 3, {"zone-a"}));
  for (int i = 0; i < 2; ++i) {
    const std::string name = "workers-a-" + std::to_string(i);
    expect_ok(kube.request("POST", machines,
                           openshift_machine(name, "workers-a", "aws:///zone-a/i-node-" + std::to_string(i))),
              "machine");
    set_machine_status(kube, machines, name,
                       {{"phase", "Running"}, {"nodeRef", {{"kind", "Node"}, {"name", "node-" + std::to_string(i)}}}});
  }
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("ocp", kube.write_kubeconfig()))});

  auto pools = pools_by_name(gw.port());
  ASSERT_TRUE(pools.contains("workers-a")) << get_json(gw.port(), kV1 + "/resourcePools").dump();
  EXPECT_EQ(pools["workers-a"]["extensions"]["source"], "MachineSet");
  EXPECT_EQ(pools["workers-a"]["extensions"]["replicas"], 2);
  auto res = resources_by_node(gw.port());
  ASSERT_EQ(res.size(), 3u);  // two machines with their nodes, one node without a machine
  EXPECT_EQ(res["node-0"]["resourcePoolId"], pools["workers-a"]["resourcePoolId"]);
  EXPECT_EQ(res["node-0"]["extensions"]["machine"]["name"], "workers-a-0");
  EXPECT_EQ(res["node-0"]["extensions"]["machine"]["phase"], "Running");
  EXPECT_EQ(res["node-2"]["resourcePoolId"], pools["zone-a"]["resourcePoolId"]);
  EXPECT_EQ(deployment_manager(gw.port(), "ocp")["capacity"]["nodes"], 3);

  // Scale up: a machine that has no node yet is a resource of the pool; when
  // its node joins, that same resource shows it.
  expect_ok(kube.request("POST", machines, openshift_machine("workers-a-2", "workers-a", "aws:///zone-a/i-node-9")),
            "machine");
  ASSERT_TRUE(eventually([&] { return resources_by_node(gw.port()).contains("machine:workers-a-2"); }, kPromptly));
  const std::string id = resources_by_node(gw.port())["machine:workers-a-2"]["resourceId"];
  EXPECT_EQ(resources_by_node(gw.port())["machine:workers-a-2"]["extensions"]["ready"], false);
  kube.bulk({FakeKube::make_node("node-9", "zone-a")});
  set_machine_status(kube, machines, "workers-a-2", {{"phase", "Running"}, {"nodeRef", {{"name", "node-9"}}}});
  ASSERT_TRUE(eventually(
      [&] {
        auto r = resources_by_node(gw.port());
        return r.contains("node-9") && !r.contains("machine:workers-a-2");
      },
      kPromptly));
  EXPECT_EQ(resources_by_node(gw.port())["node-9"]["resourceId"], id);
  EXPECT_EQ(resources_by_node(gw.port()).size(), 4u);
}

TEST(KubernetesAdapter, ClusterApiMachineDeploymentsBecomePools) {
  FakeKube kube({.machine_apis = true});
  expect_ok(kube.request("POST", "/api/v1/namespaces",
                         json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "capi"}}}}),
            "namespace");
  const std::string base = "/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/";
  expect_ok(kube.request("POST", base + "machinedeployments",
                         json{{"apiVersion", "cluster.x-k8s.io/v1beta1"},
                              {"kind", "MachineDeployment"},
                              {"metadata", {{"name", "md-0"}, {"namespace", "capi"}}},
                              {"spec", {{"clusterName", "edge-1"}, {"replicas", 1}}}}),
            "machinedeployment");
  expect_ok(kube.request("POST", base + "machinesets",
                         json{{"apiVersion", "cluster.x-k8s.io/v1beta1"},
                              {"kind", "MachineSet"},
                              {"metadata",
                               {{"name", "md-0-x7k"},
                                {"namespace", "capi"},
                                {"labels", {{"cluster.x-k8s.io/deployment-name", "md-0"}}}}},
                              {"spec", {{"clusterName", "edge-1"}, {"replicas", 1}}}}),
            "machineset");
  expect_ok(
      kube.request("POST", base + "machines",
                   json{{"apiVersion", "cluster.x-k8s.io/v1beta1"},
                        {"kind", "Machine"},
                        {"metadata",
                         {{"name", "md-0-x7k-a"},
                          {"namespace", "capi"},
                          {"labels",
                           {{"cluster.x-k8s.io/set-name", "md-0-x7k"}, {"cluster.x-k8s.io/deployment-name", "md-0"}}}}},
                        {"spec", {{"clusterName", "edge-1"}, {"providerID", "aws:///zone-a/i-node-0"}}}}),
      "machine");
  set_machine_status(kube, base + "machines", "md-0-x7k-a", {{"phase", "Running"}, {"nodeRef", {{"name", "node-0"}}}});
  kube.bulk(make_nodes("node-", 2, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("capi", kube.write_kubeconfig()))});

  auto pools = pools_by_name(gw.port());
  ASSERT_TRUE(pools.contains("md-0")) << get_json(gw.port(), kV1 + "/resourcePools").dump();
  EXPECT_FALSE(pools.contains("md-0-x7k"));  // the deployment's set is part of its pool
  EXPECT_EQ(pools["md-0"]["extensions"]["source"], "MachineDeployment");
  EXPECT_EQ(pools["md-0"]["extensions"]["clusterName"], "edge-1");
  auto res = resources_by_node(gw.port());
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res["node-0"]["resourcePoolId"], pools["md-0"]["resourcePoolId"]);
  EXPECT_EQ(res["node-0"]["extensions"]["machine"]["apiVersion"], "cluster.x-k8s.io/v1beta1");
  EXPECT_EQ(res["node-1"]["resourcePoolId"], pools["zone-a"]["resourcePoolId"]);

  // machine_pools: off shows the same nodes by label only.
  GatewayProcess plain({.config_yaml = gateway_config(
                            adapter_entry("capi", kube.write_kubeconfig(), "      machine_pools: \"off\"\n"))});
  EXPECT_EQ(pools_by_name(plain.port()).size(), 1u);
  EXPECT_FALSE(resources_by_node(plain.port())["node-0"]["extensions"].contains("machine"));
}

// --- failures ---------------------------------------------------------------

TEST(KubernetesAdapter, RefusedCredentialsMakeTheInstanceUnhealthyNotTheGateway) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 3, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig(false, "wrong"))),
                     .wait_ready = false});
  json state;
  ASSERT_TRUE(eventually(
      [&] {
        state = adapter_state(gw.port(), "cluster-a");
        return state.value("status", "") == "unhealthy";
      },
      5s))
      << state.dump();
  EXPECT_NE(state.value("detail", "").find("cluster-a: API server refused the credentials (401 Unauthorized"),
            std::string::npos)
      << state.dump();
  EXPECT_EQ(state["synced"], false);
  EXPECT_EQ(http_get(gw.port(), "/healthz").status, 200);
  EXPECT_EQ(http_get(gw.port(), "/readyz").status, 503);  // nothing listed yet
  EXPECT_EQ(get_json(gw.port(), kV1 + "/resourcePools").size(), 0u);

  // The token the cluster accepts changes to the one configured: it recovers by itself.
  kube.set_token("wrong");
  ASSERT_TRUE(eventually([&] { return adapter_state(gw.port(), "cluster-a").value("status", "") == "active"; }, 10s))
      << adapter_state(gw.port(), "cluster-a").dump();
  ASSERT_TRUE(gw.wait_ready(5s));
  EXPECT_EQ(resources_by_node(gw.port()).size(), 3u);
}

TEST(KubernetesAdapter, RevokedTokenKeepsTheLastKnownInventory) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 3, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()))});
  ASSERT_EQ(resources_by_node(gw.port()).size(), 3u);
  kube.set_token("rotated-elsewhere");
  json state;
  ASSERT_TRUE(eventually(
      [&] {
        state = adapter_state(gw.port(), "cluster-a");
        return state.value("status", "") == "unhealthy";
      },
      5s))
      << state.dump();
  EXPECT_NE(state.value("detail", "").find("refused the credentials (401 Unauthorized"), std::string::npos);
  EXPECT_NE(state.value("detail", "").find("serving the last known inventory (3 nodes)"), std::string::npos);
  EXPECT_EQ(http_get(gw.port(), "/readyz").status, 200);  // it synced once: still ready
  EXPECT_EQ(resources_by_node(gw.port()).size(), 3u);
  kube.set_token("fake-token");
  EXPECT_TRUE(eventually([&] { return adapter_state(gw.port(), "cluster-a").value("status", "") == "active"; }, 5s));
}

// An unhealthy instance is an alarm on its deployment manager, defined by the
// gateway's own resource type ("O-Cloud management service"); it clears when
// the instance recovers.
TEST(KubernetesAdapter, UnhealthyInstanceIsAnAlarmOnItsDeploymentManager) {
  const std::string alarms_path = "/o2ims-infrastructureMonitoring/v1/alarms";
  FakeKube kube;
  kube.bulk(make_nodes("node-", 2, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", kube.write_kubeconfig()))});
  ASSERT_EQ(resources_by_node(gw.port()).size(), 2u);
  const std::string dm_id = deployment_manager(gw.port(), "cluster-a")["deploymentManagerId"];
  std::string type_id, definition_id;
  for (const auto& t : get_json(gw.port(), kV1 + "/resourceTypes?all_fields")) {
    if (t.value("name", "") != "O-Cloud management service") continue;
    type_id = t["resourceTypeId"];
    for (const auto& def : t["alarmDictionary"]["alarmDefinition"]) {
      if (def["alarmName"] == "Adapter unhealthy") definition_id = def["alarmDefinitionId"];
    }
  }
  ASSERT_FALSE(type_id.empty());
  ASSERT_FALSE(definition_id.empty());
  auto alarm_of_dm = [&]() -> json {
    for (auto& a : get_json(gw.port(), alarms_path)) {
      if (a.value("resourceID", "") == dm_id) return a;
    }
    return nullptr;
  };
  EXPECT_TRUE(alarm_of_dm().is_null());

  kube.set_token("rotated-elsewhere");
  json alarm;
  ASSERT_TRUE(eventually(
      [&] {
        alarm = alarm_of_dm();
        return !alarm.is_null();
      },
      5s));
  EXPECT_EQ(alarm["resourceTypeID"], type_id);
  EXPECT_EQ(alarm["alarmDefinitionID"], definition_id);
  EXPECT_EQ(alarm["perceivedSeverity"], 1);  // MAJOR
  EXPECT_EQ(alarm["extensions"]["adapter"], "cluster-a");
  EXPECT_EQ(alarm["extensions"]["status"], "unhealthy");
  EXPECT_NE(alarm["extensions"]["detail"].get<std::string>().find("401 Unauthorized"), std::string::npos);
  const std::string alarm_id = alarm["alarmEventRecordId"];

  kube.set_token("fake-token");
  json cleared;
  EXPECT_TRUE(eventually(
      [&] {
        cleared = get_json(gw.port(), alarms_path + "/" + alarm_id);
        return cleared.value("perceivedSeverity", -1) == 5;
      },
      5s))
      << cleared.dump();
  EXPECT_TRUE(cleared.contains("alarmClearedTime")) << cleared.dump();
}

TEST(KubernetesAdapter, HangingApiServerHitsTheDeadlineThenRecovers) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 3, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(
                         adapter_entry("cluster-a", kube.write_kubeconfig(), "      request_timeout_ms: 400\n"))});
  ASSERT_EQ(resources_by_node(gw.port()).size(), 3u);
  kube.set_hang(3000ms);
  json state;
  ASSERT_TRUE(eventually(
      [&] {
        state = adapter_state(gw.port(), "cluster-a");
        return state.value("status", "") == "unhealthy";
      },
      5s))
      << state.dump();
  EXPECT_NE(state.value("detail", "").find("no answer from " + kube.server() + " within 400 ms"), std::string::npos)
      << state.dump();
  // Reads never wait on the cluster.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(resources_by_node(gw.port()).size(), 3u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  kube.set_hang(0ms);
  EXPECT_TRUE(eventually([&] { return adapter_state(gw.port(), "cluster-a").value("status", "") == "active"; }, 10s))
      << adapter_state(gw.port(), "cluster-a").dump();
  // And it still follows the cluster.
  expect_ok(kube.request("DELETE", "/api/v1/nodes/node-1"), "delete");
  EXPECT_TRUE(eventually([&] { return resources_by_node(gw.port()).size() == 2u; }, 5s)) << gw.log();

  // Stopping never waits for a cluster that does not answer.
  kube.set_hang(30000ms);
  std::this_thread::sleep_for(1500ms);  // a probe is now stuck in the API server
  const auto stopping = std::chrono::steady_clock::now();
  gw.terminate();
  auto code = gw.wait_exit(5s);
  ASSERT_TRUE(code.has_value()) << "o2gw did not exit within 5 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);
  kube.set_hang(0ms);
}

TEST(KubernetesAdapter, TwoClustersAtOnceAndOneGoesAway) {
  FakeKube a;
  FakeKube b;
  a.bulk(make_nodes("a-", 5, {"zone-a", "zone-b"}));
  b.bulk(make_nodes("b-", 7, {"zone-a"}));
  GatewayProcess gw({.config_yaml = gateway_config(adapter_entry("cluster-a", a.write_kubeconfig()) +
                                                   adapter_entry("cluster-b", b.write_kubeconfig(true, "")))});
  EXPECT_EQ(resources_by_node(gw.port(), "cluster-a").size(), 5u);
  EXPECT_EQ(resources_by_node(gw.port(), "cluster-b").size(), 7u);
  EXPECT_EQ(pools_by_name(gw.port(), "cluster-a").size(), 2u);
  EXPECT_EQ(pools_by_name(gw.port(), "cluster-b").size(), 1u);
  // Same zone name, two clusters: two pools, two sites, two deployment managers.
  EXPECT_NE(pools_by_name(gw.port(), "cluster-a")["zone-a"]["resourcePoolId"],
            pools_by_name(gw.port(), "cluster-b")["zone-a"]["resourcePoolId"]);
  EXPECT_EQ(deployment_manager(gw.port(), "cluster-a")["serviceUri"], a.server());
  EXPECT_EQ(deployment_manager(gw.port(), "cluster-b")["serviceUri"], b.server());
  EXPECT_EQ(deployment_manager(gw.port(), "cluster-b")["capacity"]["nodes"], 7);
  EXPECT_EQ(get_json(gw.port(), kV1 + "/oCloudSites").size(), 2u);

  b.kill();
  json state;
  ASSERT_TRUE(eventually(
      [&] {
        state = adapter_state(gw.port(), "cluster-b");
        return state.value("status", "") == "unhealthy";
      },
      5s))
      << state.dump();
  EXPECT_NE(state.value("detail", "").find("cannot reach " + b.server()), std::string::npos) << state.dump();
  EXPECT_EQ(adapter_state(gw.port(), "cluster-a")["status"], "active");
  // Cluster b's last known inventory is still served; cluster a still follows its cluster.
  EXPECT_EQ(resources_by_node(gw.port(), "cluster-b").size(), 7u);
  expect_ok(a.request("DELETE", "/api/v1/nodes/a-0"), "delete");
  EXPECT_TRUE(eventually([&] { return resources_by_node(gw.port(), "cluster-a").size() == 4u; }, kPromptly));
}

TEST(KubernetesAdapter, BrokenKubeconfigFailsOnlyThatInstance) {
  FakeKube kube;
  kube.bulk(make_nodes("node-", 2, {"zone-a"}));
  TempDir dir;
  auto broken = dir.write("kubeconfig", "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n");
  GatewayProcess gw(
      {.config_yaml = gateway_config(adapter_entry("good", kube.write_kubeconfig()) + adapter_entry("bad", broken))});
  json state = adapter_state(gw.port(), "bad");
  EXPECT_EQ(state["status"], "failed") << state.dump();
  EXPECT_NE(state.value("detail", "").find("nowhere"), std::string::npos) << state.dump();
  EXPECT_EQ(resources_by_node(gw.port()).size(), 2u);
}

TEST(KubernetesAdapter, CheckConfigNamesTheWrongKey) {
  TempDir dir;
  auto cfg = dir.write("o2gw.yaml", gateway_config(adapter_entry("k", "/nonexistent", "      machine_pool: auto\n")));
  CommandResult r = run_gateway_command({"check-config", "--config", cfg.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("machine_pool"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace o2gw::test
