// The Kubernetes adapter's mapping, without a cluster: nodes, machines and
// machine sets (as the informers deliver them) to O2 resources, pools, types
// and the deployment manager, applied change by change to an InventoryCache.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ims/kubernetes/cluster_inventory.hpp"
#include "ims/kubernetes/kubernetes_options.hpp"
#include "o2gw/alarms.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "unit/adapters/adapter_test_support.hpp"
#include "unit/alarms/alarm_call_recorder.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using test::make_adapter_context;
using Type = k8s::InformerChange::Type;

struct NodeArgs {
  std::string zone = "zone-a";
  std::string instance_type = "m5.xlarge";
  std::string arch = "amd64";
  bool ready = true;
  std::string provider_id = "aws:///zone-a/i-0123";
  std::string system_uuid = "ec2e1f6a-0000-4000-8000-000000000001";
  std::string cpu = "4";
  std::string memory = "16Gi";
  std::string rv = "1";
};

json make_node(const std::string& name, const NodeArgs& a = {}) {
  json labels = {{"kubernetes.io/hostname", name}, {"node-role.kubernetes.io/worker", ""}};
  if (!a.zone.empty()) labels["topology.kubernetes.io/zone"] = a.zone;
  if (!a.instance_type.empty()) labels["node.kubernetes.io/instance-type"] = a.instance_type;
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}, {"uid", "uid-" + name}, {"resourceVersion", a.rv}, {"labels", labels}}},
            {"spec", json::object()},
            {"status",
             {{"capacity",
               {{"cpu", a.cpu},
                {"memory", a.memory},
                {"pods", "110"},
                {"ephemeral-storage", "100Gi"},
                {"hugepages-2Mi", "0"},
                {"hugepages-1Gi", "2Gi"}}},
              {"allocatable",
               {{"cpu", a.cpu},
                {"memory", a.memory},
                {"pods", "110"},
                {"ephemeral-storage", "90Gi"},
                {"hugepages-2Mi", "0"},
                {"hugepages-1Gi", "2Gi"}}},
              {"conditions",
               json::array({{{"type", "MemoryPressure"},
                             {"status", "False"},
                             {"reason", "KubeletHasSufficientMemory"},
                             {"message", "ok"},
                             {"lastHeartbeatTime", "2026-01-01T00:00:00Z"},
                             {"lastTransitionTime", "2025-12-01T00:00:00Z"}},
                            {{"type", "Ready"},
                             {"status", a.ready ? "True" : "False"},
                             {"reason", a.ready ? "KubeletReady" : "NodeStatusUnknown"},
                             {"message", a.ready ? "kubelet is posting ready status" : "Kubelet stopped posting"},
                             {"lastHeartbeatTime", "2026-01-01T00:00:00Z"},
                             {"lastTransitionTime", "2025-12-01T00:00:00Z"}}})},
              {"addresses", json::array({{{"type", "InternalIP"}, {"address", "10.0.0.1"}},
                                         {{"type", "Hostname"}, {"address", name}}})},
              {"nodeInfo",
               {{"machineID", "m-" + name},
                {"systemUUID", a.system_uuid},
                {"bootID", "b"},
                {"kernelVersion", "6.1.0"},
                {"osImage", "Ubuntu 24.04 LTS"},
                {"containerRuntimeVersion", "containerd://1.7.1"},
                {"kubeletVersion", "v1.30.2"},
                {"operatingSystem", "linux"},
                {"architecture", a.arch}}}}}};
  if (!a.provider_id.empty()) n["spec"]["providerID"] = a.provider_id;
  return n;
}

k8s::InformerChange change(Type type, const json& object, const std::string& key = "") {
  k8s::InformerChange c;
  c.type = type;
  c.object = object;
  if (!key.empty()) {
    c.key = key;
  } else {
    const auto& md = object.at("metadata");
    c.key = md.contains("namespace") ? md["namespace"].get<std::string>() + "/" + md["name"].get<std::string>()
                                     : md["name"].get<std::string>();
  }
  return c;
}

ClusterAccess default_access() {
  ClusterAccess a;
  a.server = "https://api.a.example:6443";
  a.context = "ctx-a";
  a.ca_cert_pem = "CA-PEM";
  return a;
}

// One adapter instance's mapping, applied to its own cache the way the adapter does.
struct Cluster {
  InventoryCache cache;
  AdapterContext ctx;
  std::map<std::string, json> nodes_now;  // what the node informer would hold
  ClusterInventory inventory;
  std::vector<Change> last;
  test::AlarmCallRecorder alarms;  // sees what the adapter would report, after each apply

  explicit Cluster(json config = {{"kubeconfig", "/k"}}, ClusterAccess access = default_access())
      : ctx(make_adapter_context("cluster-a", &cache, config)),
        inventory(ctx, KubernetesOptions::parse(config, "cluster-a"), std::move(access),
                  [this](const std::string& name) -> std::optional<json> {
                    auto it = nodes_now.find(name);
                    if (it == nodes_now.end()) return std::nullopt;
                    return it->second;
                  }) {}

  std::vector<Change>& feed(WatchedKind kind, const std::vector<k8s::InformerChange>& changes) {
    if (kind == WatchedKind::node) {
      for (const auto& c : changes) {
        if (c.type == Type::deleted) {
          nodes_now.erase(c.key);
        } else {
          nodes_now[c.key] = c.object;
        }
      }
    }
    inventory.record(kind, changes);
    auto d = inventory.delta();
    last = cache.apply("cluster-a", std::move(d.upserts), d.removals);
    report_alarms(alarms, inventory.alarm_source(), d.alarms);
    return last;
  }
  std::vector<Change>& nodes(const std::vector<k8s::InformerChange>& changes) {
    return feed(WatchedKind::node, changes);
  }
  ObjectPtr resource_of(const std::string& node) const {
    auto id = inventory.resource_id_of_node(node);
    return id ? cache.get(Kind::resource, *id) : nullptr;
  }
  std::map<std::string, std::string> pools_by_name() const {  // name -> id
    std::map<std::string, std::string> out;
    cache.visit(Kind::resource_pool, [&](const InventoryObject& o) { out[o.doc["name"]] = o.id; });
    return out;
  }
  json dm() const {
    json out;
    cache.visit(Kind::deployment_manager, [&](const InventoryObject& o) { out = o.doc; });
    return out;
  }
};

std::size_t count_changes(const std::vector<Change>& changes, Kind kind, ChangeType type) {
  std::size_t n = 0;
  for (const auto& c : changes) n += (c.kind == kind && c.type == type) ? 1 : 0;
  return n;
}

// Sets (or adds) one of the node's conditions.
json with_condition(json node, const std::string& type, const std::string& status, const std::string& reason,
                    const std::string& since = "2026-02-03T04:05:06Z") {
  json& conditions = node["status"]["conditions"];
  json c = {{"type", type},
            {"status", status},
            {"reason", reason},
            {"message", type + " is " + status},
            {"lastHeartbeatTime", "2026-02-03T04:05:06Z"},
            {"lastTransitionTime", since}};
  for (auto& existing : conditions) {
    if (existing["type"] == type) {
      existing = c;
      return node;
    }
  }
  conditions.push_back(c);
  return node;
}

using AlarmOp = test::AlarmCallRecorder::Call::Op;

// The id of a node-condition definition in the dictionary of the test nodes' type.
std::string definition_id(const AdapterContext& ctx, const std::string& key,
                          const std::string& type_key = "aws|m5.xlarge|amd64|LOGICAL") {
  return ctx.derive_id("alarmDefinition", type_key + "/" + key);
}

// ---------------------------------------------------------------------------

TEST(KubernetesMapping, NodeBecomesResourceWithExtensions) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1"))});
  ObjectPtr r = c.resource_of("n1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->id, c.ctx.derive_id("resource", "uid-n1"));  // the node's UID is the key
  const json& d = r->doc;
  EXPECT_EQ(d["resourceId"], r->id);
  EXPECT_EQ(d["globalAssetId"], "aws:///zone-a/i-0123");
  EXPECT_NE(d["description"].get<std::string>().find("n1"), std::string::npos);
  EXPECT_EQ(d["tags"], json::array({"worker"}));
  const json& e = d["extensions"];
  EXPECT_EQ(e["cluster"], "cluster-a");
  EXPECT_EQ(e["nodeName"], "n1");
  EXPECT_EQ(e["capacity"]["cpu"], "4");
  EXPECT_EQ(e["allocatable"]["memory"], "16Gi");
  EXPECT_EQ(e["allocatable"]["ephemeral-storage"], "90Gi");
  EXPECT_EQ(e["allocatable"]["hugepages-1Gi"], "2Gi");
  EXPECT_EQ(e["allocatable"]["pods"], "110");
  EXPECT_EQ(e["architecture"], "amd64");
  EXPECT_EQ(e["operatingSystem"], "linux");
  EXPECT_EQ(e["osImage"], "Ubuntu 24.04 LTS");
  EXPECT_EQ(e["kernelVersion"], "6.1.0");
  EXPECT_EQ(e["kubeletVersion"], "v1.30.2");
  EXPECT_EQ(e["containerRuntimeVersion"], "containerd://1.7.1");
  ASSERT_EQ(e["conditions"].size(), 2u);
  EXPECT_EQ(e["conditions"][1], (json{{"type", "Ready"},
                                      {"status", "True"},
                                      {"reason", "KubeletReady"},
                                      {"message", "kubelet is posting ready status"},
                                      {"lastTransitionTime", "2025-12-01T00:00:00Z"}}));
  EXPECT_EQ(e["addresses"][0], (json{{"type", "InternalIP"}, {"address", "10.0.0.1"}}));
  EXPECT_EQ(e["labels"]["topology.kubernetes.io/zone"], "zone-a");
  EXPECT_EQ(e["taints"], json::array());
  EXPECT_EQ(e["unschedulable"], false);
  EXPECT_EQ(e["ready"], true);
  // The resource's type and pool exist.
  EXPECT_NE(c.cache.get(Kind::resource_type, d["resourceTypeId"]), nullptr);
  EXPECT_NE(c.cache.get(Kind::resource_pool, d["resourcePoolId"]), nullptr);
  EXPECT_EQ(r->parent_id, d["resourcePoolId"]);
}

TEST(KubernetesMapping, TaintsAndUnschedulable) {
  Cluster c;
  json n = make_node("n1");
  n["spec"]["unschedulable"] = true;
  n["spec"]["taints"] = json::array({{{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}}});
  c.nodes({change(Type::added, n)});
  const json& e = c.resource_of("n1")->doc["extensions"];
  EXPECT_EQ(e["unschedulable"], true);
  EXPECT_EQ(e["taints"],
            json::array({{{"key", "node.kubernetes.io/unschedulable"}, {"value", ""}, {"effect", "NoSchedule"}}}));
}

TEST(KubernetesMapping, GlobalAssetIdFallsBackToSystemUuid) {
  Cluster c;
  NodeArgs a;
  a.provider_id = "";
  c.nodes({change(Type::added, make_node("n1", a))});
  EXPECT_EQ(c.resource_of("n1")->doc["globalAssetId"], a.system_uuid);
  a.system_uuid = "";
  c.nodes({change(Type::modified, make_node("n1", a))});
  EXPECT_EQ(c.resource_of("n1")->doc["globalAssetId"], "");
}

TEST(KubernetesMapping, NodesGroupedByZoneLabelAndTheRestInTheClusterPool) {
  Cluster c;
  NodeArgs b;
  b.zone = "zone-b";
  NodeArgs none;
  none.zone = "";
  c.nodes({change(Type::added, make_node("a1")), change(Type::added, make_node("a2")),
           change(Type::added, make_node("b1", b)), change(Type::added, make_node("x1", none))});
  auto pools = c.pools_by_name();
  ASSERT_EQ(pools.size(), 3u);
  ASSERT_TRUE(pools.contains("zone-a") && pools.contains("zone-b") && pools.contains("cluster-a"));
  EXPECT_EQ(c.resource_of("a1")->parent_id, pools["zone-a"]);
  EXPECT_EQ(c.resource_of("a2")->parent_id, pools["zone-a"]);
  EXPECT_EQ(c.resource_of("b1")->parent_id, pools["zone-b"]);
  EXPECT_EQ(c.resource_of("x1")->parent_id, pools["cluster-a"]);
  // Pools sit in the cluster's site, at its location, in this O-Cloud.
  ObjectPtr pool = c.cache.get(Kind::resource_pool, pools["zone-a"]);
  EXPECT_EQ(pool->doc["extensions"]["label"], "topology.kubernetes.io/zone");
  EXPECT_EQ(pool->doc["globalLocationId"], "cluster-a");
  ObjectPtr site = c.cache.get(Kind::ocloud_site, pool->doc["oCloudSiteId"]);
  ASSERT_NE(site, nullptr);
  EXPECT_EQ(site->doc["resourcePools"].size(), 3u);
  EXPECT_NE(c.cache.get(Kind::location, "cluster-a"), nullptr);
}

TEST(KubernetesMapping, CustomPoolLabelAndNoLabel) {
  {
    Cluster c(json{{"kubeconfig", "/k"}, {"pool_label", "example.com/rack"}});
    json n = make_node("n1");
    n["metadata"]["labels"]["example.com/rack"] = "r7";
    c.nodes({change(Type::added, n), change(Type::added, make_node("n2"))});
    auto pools = c.pools_by_name();
    EXPECT_EQ(pools.size(), 2u);
    EXPECT_EQ(c.resource_of("n1")->parent_id, pools["r7"]);
    EXPECT_EQ(c.resource_of("n2")->parent_id, pools["cluster-a"]);
  }
  {
    Cluster c(json{{"kubeconfig", "/k"}, {"pool_label", ""}});
    c.nodes({change(Type::added, make_node("n1"))});
    EXPECT_EQ(c.pools_by_name().size(), 1u);
    EXPECT_TRUE(c.pools_by_name().contains("cluster-a"));
  }
}

TEST(KubernetesMapping, ResourceTypesByInstanceTypeAndArchitecture) {
  Cluster c;
  NodeArgs arm;
  arm.arch = "arm64";
  arm.instance_type = "m6g.xlarge";
  NodeArgs metal;
  metal.instance_type = "m5.metal";
  NodeArgs beta;
  beta.instance_type = "";
  NodeArgs bare;
  bare.instance_type = "";
  bare.provider_id = "";
  json beta_node = make_node("beta", beta);
  beta_node["metadata"]["labels"]["beta.kubernetes.io/instance-type"] = "c5.large";
  c.nodes({change(Type::added, make_node("x1")), change(Type::added, make_node("x2")),
           change(Type::added, make_node("g1", arm)), change(Type::added, make_node("m1", metal)),
           change(Type::added, beta_node), change(Type::added, make_node("bare", bare))});
  EXPECT_EQ(c.cache.count(Kind::resource_type), 5u);
  auto type_of = [&](const std::string& node) {
    return c.cache.get(Kind::resource_type, c.resource_of(node)->doc["resourceTypeId"])->doc;
  };
  EXPECT_EQ(c.resource_of("x1")->doc["resourceTypeId"], c.resource_of("x2")->doc["resourceTypeId"]);
  json t = type_of("x1");
  EXPECT_EQ(t["name"], "m5.xlarge (amd64)");
  EXPECT_EQ(t["model"], "m5.xlarge");
  EXPECT_EQ(t["vendor"], "Amazon Web Services");
  EXPECT_EQ(t["resourceKind"], "LOGICAL");
  EXPECT_EQ(t["resourceClass"], "COMPUTE");
  EXPECT_EQ(t["extensions"]["architecture"], "amd64");
  EXPECT_EQ(type_of("g1")["name"], "m6g.xlarge (arm64)");
  EXPECT_EQ(type_of("m1")["resourceKind"], "PHYSICAL");
  EXPECT_EQ(type_of("beta")["model"], "c5.large");
  EXPECT_EQ(type_of("bare")["resourceKind"], "UNDEFINED");
  EXPECT_EQ(type_of("bare")["name"], "node (amd64)");

  // The last node of a type takes the type with it.
  auto& changes = c.nodes({change(Type::deleted, make_node("g1", arm))});
  EXPECT_EQ(count_changes(changes, Kind::resource_type, ChangeType::remove), 1u);
  EXPECT_EQ(c.cache.count(Kind::resource_type), 4u);
}

TEST(KubernetesMapping, DeploymentManagerCapacitySumsAllocatable) {
  Cluster c;
  NodeArgs a;
  a.cpu = "3500m";
  a.memory = "16Gi";
  NodeArgs b;
  b.cpu = "4";
  b.memory = "1024Ki";
  b.ready = false;
  c.nodes({change(Type::added, make_node("n1", a)), change(Type::added, make_node("n2", b))});
  json dm = c.dm();
  EXPECT_EQ(dm["capacity"]["cpu"], 7.5);
  EXPECT_EQ(dm["capacity"]["memory"], 16LL * 1024 * 1024 * 1024 + 1024 * 1024);
  EXPECT_EQ(dm["capacity"]["pods"], 220);
  EXPECT_EQ(dm["capacity"]["ephemeral-storage"], 2 * 90LL * 1024 * 1024 * 1024);
  EXPECT_EQ(dm["capacity"]["hugepages-1Gi"], 4LL * 1024 * 1024 * 1024);
  EXPECT_EQ(dm["capacity"]["nodes"], 2);
  EXPECT_EQ(dm["capacity"]["readyNodes"], 1);
  EXPECT_EQ(dm["extensions"]["nodeCapacity"]["ephemeral-storage"], 200LL * 1024 * 1024 * 1024);
  EXPECT_EQ(dm["serviceUri"], "https://api.a.example:6443");
  EXPECT_EQ(dm["name"], "cluster-a");
  EXPECT_EQ(dm["supportedLocations"], json::array({"cluster-a"}));
  EXPECT_EQ(dm["extensions"]["profileName"], "native_k8sapi");
  const json& p = dm["extensions"]["profileData"];
  EXPECT_EQ(p["cluster_api_endpoint"], "https://api.a.example:6443");
  EXPECT_EQ(p["cluster_ca_cert"], "CA-PEM");
  EXPECT_EQ(p["admin_client_key"], "");
  EXPECT_FALSE(p.contains("admin_token"));

  // A node leaving takes its share with it, exactly.
  c.nodes({change(Type::deleted, make_node("n1", a))});
  dm = c.dm();
  EXPECT_EQ(dm["capacity"]["cpu"], 4);
  EXPECT_EQ(dm["capacity"]["memory"], 1024 * 1024);
  EXPECT_EQ(dm["capacity"]["nodes"], 1);
  EXPECT_EQ(dm["capacity"]["readyNodes"], 0);
}

TEST(KubernetesMapping, ExposedCredentialsAppearInProfileData) {
  ClusterAccess access = default_access();
  access.user = "ctx-a";
  access.client_cert_pem = "CERT";
  access.client_key_pem = "KEY";
  access.bearer_token = "TOKEN";
  Cluster c(json{{"kubeconfig", "/k"}, {"expose_credentials", true}}, access);
  c.nodes({change(Type::added, make_node("n1"))});
  const json p = c.dm()["extensions"]["profileData"];
  EXPECT_EQ(p["admin_client_cert"], "CERT");
  EXPECT_EQ(p["admin_client_key"], "KEY");
  EXPECT_EQ(p["admin_token"], "TOKEN");
}

TEST(KubernetesMapping, QuantitiesParseExactly) {
  Quantities q = parse_quantities(
      json{{"cpu", "250m"}, {"memory", "1Gi"}, {"pods", "1e3"}, {"bad", "x1"}, {"example.com/gpu", "2"}});
  EXPECT_EQ(q["cpu"], 250);
  EXPECT_EQ(q["memory"], 1LL << 30);
  EXPECT_EQ(q["pods"], 1000);
  EXPECT_FALSE(q.contains("bad"));
  json j = quantities_json(q);
  EXPECT_EQ(j["cpu"], 0.25);
  EXPECT_EQ(j["example.com/gpu"], 2);
}

TEST(KubernetesMapping, RelabelMovesTheNodeToAnotherPool) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n2"))});
  const std::string id = c.resource_of("n1")->id;
  NodeArgs b;
  b.zone = "zone-b";
  b.rv = "2";
  auto& changes = c.nodes({change(Type::modified, make_node("n1", b))});
  EXPECT_EQ(count_changes(changes, Kind::resource, ChangeType::modify), 1u);
  EXPECT_EQ(count_changes(changes, Kind::resource_pool, ChangeType::create), 1u);
  auto pools = c.pools_by_name();
  EXPECT_EQ(c.resource_of("n1")->id, id);  // the same resource, in another pool
  EXPECT_EQ(c.resource_of("n1")->parent_id, pools["zone-b"]);
  // zone-a keeps n2; moving n2 too empties it and the pool goes.
  auto& more = c.nodes({change(Type::modified, make_node("n2", b))});
  EXPECT_EQ(count_changes(more, Kind::resource_pool, ChangeType::remove), 1u);
  EXPECT_FALSE(c.pools_by_name().contains("zone-a"));
  std::size_t in_b = 0;
  c.cache.visit_children(Kind::resource, pools["zone-b"], [&](const InventoryObject&) { ++in_b; });
  EXPECT_EQ(in_b, 2u);
}

TEST(KubernetesMapping, NotReadyChangesConditionsAndReadyCount) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1"))});
  NodeArgs down;
  down.ready = false;
  down.rv = "2";
  auto& changes = c.nodes({change(Type::modified, make_node("n1", down))});
  EXPECT_EQ(count_changes(changes, Kind::resource, ChangeType::modify), 1u);
  EXPECT_EQ(count_changes(changes, Kind::deployment_manager, ChangeType::modify), 1u);  // readyNodes
  const json& e = c.resource_of("n1")->doc["extensions"];
  EXPECT_EQ(e["ready"], false);
  EXPECT_EQ(e["conditions"][1]["status"], "False");
  EXPECT_EQ(e["conditions"][1]["reason"], "NodeStatusUnknown");
  EXPECT_EQ(c.dm()["capacity"]["readyNodes"], 0);
}

TEST(KubernetesMapping, HeartbeatOnlyUpdateIsNotAChange) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1"))});
  json n = make_node("n1");
  n["metadata"]["resourceVersion"] = "99";
  n["status"]["conditions"][1]["lastHeartbeatTime"] = "2026-02-02T00:00:00Z";
  n["metadata"]["annotations"] = {{"volumes.kubernetes.io/controller-managed-attach-detach", "true"}};
  EXPECT_TRUE(c.nodes({change(Type::modified, n)}).empty());
}

TEST(KubernetesMapping, LabelOnlyChangeRebuildsOnlyTheResource) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n2"))});
  json n = make_node("n1");
  n["metadata"]["labels"]["team"] = "ran";
  const std::vector<k8s::InformerChange> batch{change(Type::modified, n)};
  c.inventory.record(WatchedKind::node, batch);
  ClusterInventory::Delta d = c.inventory.delta();
  // Pools, types and capacity are untouched: nothing derived is rebuilt.
  ASSERT_EQ(d.upserts.size(), 1u);
  EXPECT_EQ(d.upserts[0].kind, Kind::resource);
  EXPECT_TRUE(d.removals.empty());
}

TEST(KubernetesMapping, DeleteRemovesResourceAndEmptyPool) {
  Cluster c;
  NodeArgs b;
  b.zone = "zone-b";
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n2", b))});
  const std::string id = c.resource_of("n2")->id;
  auto& changes = c.nodes({change(Type::deleted, make_node("n2", b))});
  EXPECT_EQ(count_changes(changes, Kind::resource, ChangeType::remove), 1u);
  EXPECT_EQ(count_changes(changes, Kind::resource_pool, ChangeType::remove), 1u);
  EXPECT_EQ(c.cache.get(Kind::resource, id), nullptr);
  EXPECT_EQ(c.cache.count(Kind::resource), 1u);
  // Gone and back with a new UID: a new resource.
  json again = make_node("n2", b);
  again["metadata"]["uid"] = "uid-n2-second";
  c.nodes({change(Type::added, again)});
  EXPECT_NE(c.resource_of("n2")->id, id);
  EXPECT_EQ(c.cache.count(Kind::resource), 2u);
}

TEST(KubernetesMapping, DeleteAndRecreateInOneBatch) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1"))});
  const std::string old_id = c.resource_of("n1")->id;
  json again = make_node("n1");
  again["metadata"]["uid"] = "uid-n1-b";
  auto& changes = c.nodes({change(Type::deleted, make_node("n1")), change(Type::added, again)});
  EXPECT_EQ(count_changes(changes, Kind::resource, ChangeType::remove), 1u);
  EXPECT_EQ(count_changes(changes, Kind::resource, ChangeType::create), 1u);
  EXPECT_EQ(c.cache.get(Kind::resource, old_id), nullptr);
  EXPECT_EQ(c.cache.count(Kind::resource), 1u);
}

// --- machines ---------------------------------------------------------------

json openshift_machine_set(const std::string& name, int replicas) {
  return {
      {"apiVersion", "machine.openshift.io/v1beta1"},
      {"kind", "MachineSet"},
      {"metadata",
       {{"name", name}, {"namespace", "openshift-machine-api"}, {"uid", "uid-ms-" + name}, {"resourceVersion", "1"}}},
      {"spec", {{"replicas", replicas}}},
      {"status", {{"replicas", replicas}, {"readyReplicas", replicas}, {"availableReplicas", replicas}}}};
}

json openshift_machine(const std::string& name, const std::string& set, const std::string& node,
                       const std::string& provider_id = "aws:///zone-a/i-0123") {
  json m = {
      {"apiVersion", "machine.openshift.io/v1beta1"},
      {"kind", "Machine"},
      {"metadata",
       {{"name", name},
        {"namespace", "openshift-machine-api"},
        {"uid", "uid-m-" + name},
        {"resourceVersion", "1"},
        {"labels",
         {{"machine.openshift.io/cluster-api-machineset", set}, {"machine.openshift.io/instance-type", "m5.xlarge"}}},
        {"ownerReferences", json::array({{{"apiVersion", "machine.openshift.io/v1beta1"},
                                          {"kind", "MachineSet"},
                                          {"name", set},
                                          {"uid", "uid-ms-" + set}}})}}},
      {"spec", {{"providerID", provider_id}}},
      {"status", {{"phase", node.empty() ? "Provisioning" : "Running"}}}};
  if (!node.empty()) m["status"]["nodeRef"] = {{"kind", "Node"}, {"name", node}, {"uid", "uid-" + node}};
  return m;
}

TEST(KubernetesMapping, OpenShiftMachineSetsArePoolsAndMachinesTheirResources) {
  Cluster c;
  c.feed(WatchedKind::openshift_machine_set, {change(Type::added, openshift_machine_set("workers-a", 2)),
                                              change(Type::added, openshift_machine_set("empty", 0))});
  c.feed(WatchedKind::openshift_machine, {change(Type::added, openshift_machine("workers-a-1", "workers-a", "n1")),
                                          change(Type::added, openshift_machine("workers-a-2", "workers-a", ""))});
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n9"))});

  auto pools = c.pools_by_name();
  ASSERT_TRUE(pools.contains("workers-a"));
  ASSERT_TRUE(pools.contains("empty"));   // a machine set with no machines is still a pool
  ASSERT_TRUE(pools.contains("zone-a"));  // n9 has no machine
  // n1 and its machine are one resource, keyed by the machine, in the machine set's pool.
  EXPECT_EQ(c.cache.count(Kind::resource), 3u);
  ObjectPtr r1 = c.resource_of("n1");
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->id, c.ctx.derive_id("resource", "uid-m-workers-a-1"));
  EXPECT_EQ(r1->parent_id, pools["workers-a"]);
  EXPECT_EQ(r1->doc["extensions"]["nodeName"], "n1");
  EXPECT_EQ(r1->doc["extensions"]["machine"]["name"], "workers-a-1");
  EXPECT_EQ(r1->doc["extensions"]["machine"]["phase"], "Running");
  // The machine still provisioning is a resource of its own, not ready.
  ObjectPtr r2 = c.cache.get(Kind::resource, c.ctx.derive_id("resource", "uid-m-workers-a-2"));
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->parent_id, pools["workers-a"]);
  EXPECT_EQ(r2->doc["extensions"]["ready"], false);
  EXPECT_EQ(r2->doc["globalAssetId"], "aws:///zone-a/i-0123");
  EXPECT_EQ(c.dm()["capacity"]["nodes"], 2);  // nodes counted once
  ObjectPtr pool = c.cache.get(Kind::resource_pool, pools["workers-a"]);
  EXPECT_EQ(pool->doc["extensions"]["source"], "MachineSet");
  EXPECT_EQ(pool->doc["extensions"]["replicas"], 2);

  // Its node joins: the same resource now shows the node; no second resource.
  json m2 = openshift_machine("workers-a-2", "workers-a", "n2");
  m2["metadata"]["resourceVersion"] = "2";
  c.feed(WatchedKind::openshift_machine, {change(Type::modified, m2)});
  auto& joined = c.nodes({change(Type::added, make_node("n2"))});
  EXPECT_EQ(count_changes(joined, Kind::resource, ChangeType::create), 0u);
  EXPECT_EQ(count_changes(joined, Kind::resource, ChangeType::modify), 1u);
  EXPECT_EQ(c.resource_of("n2")->id, r2->id);
  EXPECT_EQ(c.cache.count(Kind::resource), 4u - 1u);

  // The machine set goes: its machines fall back to their nodes' label pools.
  c.feed(WatchedKind::openshift_machine_set, {change(Type::deleted, openshift_machine_set("workers-a", 2))});
  EXPECT_FALSE(c.pools_by_name().contains("workers-a"));
  EXPECT_EQ(c.resource_of("n1")->parent_id, c.pools_by_name()["zone-a"]);
  // Rebuilt for its machine's sake, the resource still shows all of its node (read again).
  EXPECT_EQ(c.resource_of("n1")->doc["extensions"]["nodeName"], "n1");
  EXPECT_EQ(c.resource_of("n1")->doc["extensions"]["allocatable"]["cpu"], "4");
  EXPECT_EQ(c.resource_of("n1")->doc["extensions"]["conditions"].size(), 2u);

  // The machine goes, the node stays: the node is a resource of its own again.
  auto& gone = c.feed(WatchedKind::openshift_machine,
                      {change(Type::deleted, openshift_machine("workers-a-1", "workers-a", "n1"))});
  EXPECT_EQ(count_changes(gone, Kind::resource, ChangeType::remove), 1u);
  EXPECT_EQ(count_changes(gone, Kind::resource, ChangeType::create), 1u);
  EXPECT_EQ(c.resource_of("n1")->id, c.ctx.derive_id("resource", "uid-n1"));
  EXPECT_EQ(c.dm()["capacity"]["nodes"], 3);
}

TEST(KubernetesMapping, MachineWhoseProviderIdDiffersIsNotLinked) {
  Cluster c;
  c.feed(WatchedKind::openshift_machine_set, {change(Type::added, openshift_machine_set("ms", 1))});
  c.feed(WatchedKind::openshift_machine,
         {change(Type::added, openshift_machine("m1", "ms", "n1", "aws:///zone-a/i-other"))});
  c.nodes({change(Type::added, make_node("n1"))});
  EXPECT_EQ(c.cache.count(Kind::resource), 2u);
  EXPECT_EQ(c.resource_of("n1")->id, c.ctx.derive_id("resource", "uid-n1"));
}

json capi(const std::string& kind, const std::string& name, const json& extra_metadata = json::object()) {
  json o = {{"apiVersion", "cluster.x-k8s.io/v1beta1"},
            {"kind", kind},
            {"metadata",
             {{"name", name}, {"namespace", "capi"}, {"uid", "uid-" + kind + "-" + name}, {"resourceVersion", "1"}}},
            {"spec", {{"clusterName", "edge-1"}, {"replicas", 3}}},
            {"status", json::object()}};
  o["metadata"].update(extra_metadata);
  return o;
}

TEST(KubernetesMapping, ClusterApiDeploymentsArePoolsOverTheirMachineSets) {
  Cluster c;
  c.feed(WatchedKind::capi_machine_deployment, {change(Type::added, capi("MachineDeployment", "md-0"))});
  c.feed(WatchedKind::capi_machine_set,
         {change(Type::added,
                 capi("MachineSet", "md-0-abc",
                      {{"ownerReferences", json::array({{{"kind", "MachineDeployment"}, {"name", "md-0"}}})}})),
          change(Type::added, capi("MachineSet", "standalone"))});
  json owned = capi("Machine", "md-0-abc-x",
                    {{"ownerReferences", json::array({{{"kind", "MachineSet"}, {"name", "md-0-abc"}}})},
                     {"labels", {{"cluster.x-k8s.io/deployment-name", "md-0"}}}});
  owned["spec"]["providerID"] = "aws:///zone-a/i-0123";
  owned["status"]["nodeRef"] = {{"name", "n1"}};
  owned["status"]["phase"] = "Running";
  json alone = capi("Machine", "standalone-y",
                    {{"ownerReferences", json::array({{{"kind", "MachineSet"}, {"name", "standalone"}}})}});
  json orphan = capi("Machine", "cp-0");  // control plane: no machine set
  c.feed(WatchedKind::capi_machine,
         {change(Type::added, owned), change(Type::added, alone), change(Type::added, orphan)});
  c.nodes({change(Type::added, make_node("n1"))});

  auto pools = c.pools_by_name();
  EXPECT_TRUE(pools.contains("md-0"));
  EXPECT_TRUE(pools.contains("standalone"));
  EXPECT_FALSE(pools.contains("md-0-abc"));  // part of md-0's pool
  EXPECT_TRUE(pools.contains("cluster-a"));  // cp-0 has neither pool nor node
  ObjectPtr r = c.resource_of("n1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->parent_id, pools["md-0"]);
  EXPECT_EQ(r->doc["extensions"]["machine"]["clusterName"], "edge-1");
  EXPECT_EQ(r->doc["extensions"]["machine"]["apiVersion"], "cluster.x-k8s.io/v1beta1");
  EXPECT_EQ(c.cache.get(Kind::resource, c.ctx.derive_id("resource", "uid-Machine-standalone-y"))->parent_id,
            pools["standalone"]);
  EXPECT_EQ(c.cache.get(Kind::resource_pool, pools["md-0"])->doc["extensions"]["source"], "MachineDeployment");
  EXPECT_EQ(c.cache.count(Kind::resource), 3u);
}

TEST(KubernetesMapping, ObjectsAreOwnedByTheInstanceAndIdsAreStable) {
  Cluster a;
  Cluster b;
  a.nodes({change(Type::added, make_node("n1"))});
  b.nodes({change(Type::added, make_node("n1"))});
  EXPECT_EQ(a.resource_of("n1")->json, b.resource_of("n1")->json);
  a.cache.visit(Kind::resource, [](const InventoryObject& o) { EXPECT_EQ(o.source, "cluster-a"); });
}

// --- configuration ----------------------------------------------------------

std::string config_error_key(const json& config) {
  try {
    (void)KubernetesOptions::parse(config, "x");
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "(accepted)";
}

// ---------------------------------------------------------------------------
// Alarms

TEST(KubernetesAlarms, EveryResourceTypeCarriesTheNodeConditionDictionary) {
  Cluster c;
  NodeArgs arm;
  arm.instance_type = "m6g.xlarge";
  arm.arch = "arm64";
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n2", arm))});
  ASSERT_EQ(c.cache.count(Kind::resource_type), 2u);
  EXPECT_EQ(c.cache.count(Kind::alarm_dictionary), 2u);
  c.cache.visit(Kind::resource_type, [&](const InventoryObject& type) {
    const json& dict = type.doc["alarmDictionary"];
    EXPECT_EQ(type.doc["alarmDictionaryId"], dict["alarmDictionaryId"]);
    EXPECT_EQ(dict["alarmDictionaryVersion"], "1.0");
    EXPECT_EQ(dict["entityType"], "kubernetes-node");
    ObjectPtr served = c.cache.get(Kind::alarm_dictionary, dict["alarmDictionaryId"]);
    ASSERT_NE(served, nullptr);
    EXPECT_EQ(served->parent_id, type.id);
    std::map<std::string, json> by_name;
    for (const auto& def : dict["alarmDefinition"]) by_name[def["alarmName"]] = def;
    ASSERT_EQ(by_name.size(), 5u);
    for (const auto& [name, def] : by_name) {
      EXPECT_EQ(def["clearingType"], "AUTOMATIC") << name;
      EXPECT_FALSE(def["alarmDescription"].get<std::string>().empty()) << name;
      EXPECT_FALSE(def["proposedRepairActions"].get<std::string>().empty()) << name;
    }
    EXPECT_EQ(by_name["Node not ready"]["alarmAdditionalFields"]["severity"], "CRITICAL");
    EXPECT_EQ(by_name["Node memory pressure"]["alarmAdditionalFields"]["severity"], "MAJOR");
    EXPECT_EQ(by_name["Node disk pressure"]["alarmAdditionalFields"]["severity"], "MAJOR");
    EXPECT_EQ(by_name["Node PID pressure"]["alarmAdditionalFields"]["severity"], "MAJOR");
    EXPECT_EQ(by_name["Node network unavailable"]["alarmAdditionalFields"]["severity"], "CRITICAL");
    // Definition ids are derived like every other id, from the type's key.
    const json& extensions = type.doc["extensions"];
    const std::string type_key =
        extensions["provider"].get<std::string>() + "|" + extensions["instanceType"].get<std::string>() + "|" +
        extensions["architecture"].get<std::string>() + "|" + type.doc["resourceKind"].get<std::string>();
    EXPECT_EQ(by_name["Node not ready"]["alarmDefinitionId"],
              c.ctx.derive_id("alarmDefinition", type_key + "/NodeNotReady"));
  });
}

TEST(KubernetesAlarms, BadConditionsRaiseAndRecoveryClears) {
  Cluster c;
  c.nodes({change(Type::added, make_node("n1")), change(Type::added, make_node("n2"))});
  EXPECT_TRUE(c.alarms.calls().empty());  // healthy nodes raise nothing

  NodeArgs down;
  down.ready = false;
  down.rv = "2";
  json n1 = with_condition(make_node("n1", down), "Ready", "Unknown", "NodeStatusUnknown", "2026-02-03T04:05:06Z");
  n1 = with_condition(n1, "MemoryPressure", "True", "KubeletHasInsufficientMemory", "2026-02-03T04:00:00Z");
  c.nodes({change(Type::modified, n1)});
  auto raised = c.alarms.calls_of(AlarmOp::raise);
  ASSERT_EQ(raised.size(), 2u);
  std::map<std::string, AlarmReport> by_key;
  for (const auto& call : raised) by_key.emplace(call.key, *call.report);
  ASSERT_TRUE(by_key.contains("uid-n1/Ready"));
  ASSERT_TRUE(by_key.contains("uid-n1/MemoryPressure"));
  const AlarmReport& not_ready = by_key["uid-n1/Ready"];
  EXPECT_EQ(not_ready.source, "kubernetes/cluster-a");
  EXPECT_EQ(not_ready.resource_id, c.resource_of("n1")->id);
  EXPECT_TRUE(not_ready.resource_type_id.empty());  // the resource's own type
  EXPECT_EQ(not_ready.definition, definition_id(c.ctx, "NodeNotReady"));
  EXPECT_EQ(not_ready.severity, Severity::critical);
  EXPECT_EQ(not_ready.extensions["node"], "n1");
  EXPECT_EQ(not_ready.extensions["reason"], "NodeStatusUnknown");
  EXPECT_EQ(not_ready.extensions["message"], "Ready is Unknown");
  EXPECT_EQ(not_ready.extensions["lastTransitionTime"], "2026-02-03T04:05:06Z");
  ASSERT_TRUE(not_ready.since.has_value());
  EXPECT_EQ(*not_ready.since, parse_kubernetes_time("2026-02-03T04:05:06Z"));
  const AlarmReport& memory = by_key["uid-n1/MemoryPressure"];
  EXPECT_EQ(memory.definition, definition_id(c.ctx, "MemoryPressure"));
  EXPECT_EQ(memory.severity, Severity::major);
  EXPECT_EQ(memory.extensions["reason"], "KubeletHasInsufficientMemory");
  // The definitions named are in the dictionary of the resource's type.
  ObjectPtr type = c.cache.get(Kind::resource_type, c.resource_of("n1")->doc["resourceTypeId"]);
  ASSERT_NE(type, nullptr);
  std::set<std::string> keys_in_dictionary;
  for (const auto& def : type->doc["alarmDictionary"]["alarmDefinition"]) {
    keys_in_dictionary.insert(def["alarmDefinitionId"]);
  }
  EXPECT_TRUE(keys_in_dictionary.contains(not_ready.definition));
  EXPECT_TRUE(keys_in_dictionary.contains(memory.definition));
  EXPECT_EQ(c.inventory.active_alarm_keys(), (std::vector<std::string>{"uid-n1/MemoryPressure", "uid-n1/Ready"}));

  // A heartbeat-only update (and the same conditions again) reports nothing.
  c.alarms.forget_calls();
  n1["metadata"]["resourceVersion"] = "3";
  c.nodes({change(Type::modified, n1)});
  EXPECT_TRUE(c.alarms.calls().empty());

  // Memory recovers: that alarm clears, NotReady stays.
  n1 = with_condition(n1, "MemoryPressure", "False", "KubeletHasSufficientMemory");
  n1["metadata"]["resourceVersion"] = "4";
  c.nodes({change(Type::modified, n1)});
  auto calls = c.alarms.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].op, AlarmOp::clear);
  EXPECT_EQ(calls[0].source, "kubernetes/cluster-a");
  EXPECT_EQ(calls[0].key, "uid-n1/MemoryPressure");

  // The node is Ready again: everything clears.
  c.alarms.forget_calls();
  NodeArgs up;
  up.rv = "5";
  c.nodes({change(Type::modified, make_node("n1", up))});
  calls = c.alarms.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].op, AlarmOp::clear);
  EXPECT_EQ(calls[0].key, "uid-n1/Ready");
  EXPECT_TRUE(c.alarms.active().empty());
  EXPECT_TRUE(c.inventory.active_alarm_keys().empty());
}

TEST(KubernetesAlarms, OtherConditionsAndSeverityChanges) {
  Cluster c;
  json n1 = with_condition(make_node("n1"), "DiskPressure", "True", "KubeletHasDiskPressure");
  n1 = with_condition(n1, "PIDPressure", "Unknown", "NodeStatusUnknown");  // Unknown pressure: no alarm
  n1 = with_condition(n1, "NetworkUnavailable", "True", "NoRouteCreated");
  c.nodes({change(Type::added, n1)});
  std::map<std::string, AlarmReport> by_key;
  for (const auto& call : c.alarms.calls_of(AlarmOp::raise)) by_key.emplace(call.key, *call.report);
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key["uid-n1/DiskPressure"].definition, definition_id(c.ctx, "DiskPressure"));
  EXPECT_EQ(by_key["uid-n1/DiskPressure"].severity, Severity::major);
  EXPECT_EQ(by_key["uid-n1/NetworkUnavailable"].definition, definition_id(c.ctx, "NetworkUnavailable"));
  EXPECT_EQ(by_key["uid-n1/NetworkUnavailable"].severity, Severity::critical);

  // A changed reason is raised again (the service turns it into a CHANGE).
  c.alarms.forget_calls();
  n1 = with_condition(n1, "PIDPressure", "True", "KubeletHasInsufficientPID");
  n1["metadata"]["resourceVersion"] = "2";
  c.nodes({change(Type::modified, n1)});
  auto raised = c.alarms.calls_of(AlarmOp::raise);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].key, "uid-n1/PIDPressure");
  EXPECT_EQ(raised[0].report->severity, Severity::major);
}

TEST(KubernetesAlarms, DeletedNodeClearsItsAlarms) {
  Cluster c;
  NodeArgs down;
  down.ready = false;
  c.nodes({change(Type::added, make_node("n1", down)), change(Type::added, make_node("n2"))});
  ASSERT_EQ(c.alarms.active().size(), 1u);
  c.alarms.forget_calls();
  c.nodes({change(Type::deleted, make_node("n1", down))});
  auto calls = c.alarms.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].op, AlarmOp::clear);
  EXPECT_EQ(calls[0].key, "uid-n1/Ready");
  EXPECT_TRUE(c.alarms.active().empty());

  // Deleted and created again under the same name: the old uid's alarm clears, the new one's is raised.
  c.nodes({change(Type::added, make_node("n1", down))});
  json again = make_node("n1", down);
  again["metadata"]["uid"] = "uid-n1-again";
  c.alarms.forget_calls();
  c.nodes({change(Type::deleted, make_node("n1", down)), change(Type::added, again)});
  EXPECT_EQ(c.alarms.calls_of(AlarmOp::clear).size(), 1u);
  ASSERT_EQ(c.alarms.calls_of(AlarmOp::raise).size(), 1u);
  EXPECT_EQ(c.alarms.calls_of(AlarmOp::raise)[0].key, "uid-n1-again/Ready");
  EXPECT_EQ(c.alarms.calls_of(AlarmOp::raise)[0].report->resource_id, c.resource_of("n1")->id);
}

TEST(KubernetesAlarms, NodeShownByItsMachineAlarmsOnTheMachinesResource) {
  Cluster c;
  c.feed(WatchedKind::openshift_machine_set, {change(Type::added, openshift_machine_set("workers-a", 1))});
  NodeArgs down;
  down.ready = false;
  c.nodes({change(Type::added, make_node("n1", down))});
  ASSERT_EQ(c.alarms.calls_of(AlarmOp::raise).size(), 1u);
  EXPECT_EQ(c.alarms.calls_of(AlarmOp::raise)[0].report->resource_id, c.ctx.derive_id("resource", "uid-n1"));

  // Its machine appears: the node is now shown by the machine's resource, and the alarm moves there.
  c.alarms.forget_calls();
  c.feed(WatchedKind::openshift_machine, {change(Type::added, openshift_machine("workers-a-1", "workers-a", "n1"))});
  auto raised = c.alarms.calls_of(AlarmOp::raise);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].key, "uid-n1/Ready");
  EXPECT_EQ(raised[0].report->resource_id, c.ctx.derive_id("resource", "uid-m-workers-a-1"));
  EXPECT_EQ(raised[0].report->resource_id, c.resource_of("n1")->id);
  EXPECT_TRUE(c.alarms.calls_of(AlarmOp::clear).empty());
}

TEST(KubernetesAlarms, RetainOnlyAfterAFullListDropsStaleAlarms) {
  // What the adapter does after its first sync and after a relist.
  Cluster c;
  test::AlarmCallRecorder& sink = c.alarms;
  AlarmReport stale;
  stale.source = "kubernetes/cluster-a";
  stale.key = "uid-gone/Ready";
  (void)sink.raise(stale);  // left over from before a restart
  NodeArgs down;
  down.ready = false;
  c.nodes({change(Type::added, make_node("n1", down)), change(Type::added, make_node("n2"))});
  sink.retain_only(c.inventory.alarm_source(), c.inventory.active_alarm_keys());
  auto retain = sink.calls_of(AlarmOp::retain_only);
  ASSERT_EQ(retain.size(), 1u);
  EXPECT_EQ(retain[0].keys, std::vector<std::string>{"uid-n1/Ready"});
  ASSERT_EQ(sink.active().size(), 1u);
  EXPECT_EQ(sink.active().begin()->first.second, "uid-n1/Ready");
}

TEST(KubernetesAlarms, RejectedReportsAreLoggedNotFatal) {
  Cluster c;
  c.alarms.reject_with("no resource type");
  NodeArgs down;
  down.ready = false;
  EXPECT_NO_THROW(c.nodes({change(Type::added, make_node("n1", down))}));
  EXPECT_EQ(c.alarms.calls_of(AlarmOp::raise).size(), 1u);
}

TEST(KubernetesAlarms, KubernetesTimesParse) {
  using namespace std::chrono;
  auto t = parse_kubernetes_time("2026-02-03T04:05:06Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(duration_cast<seconds>(t->time_since_epoch()).count(), 1770091506);
  EXPECT_EQ(parse_kubernetes_time("2026-02-03T05:05:06+01:00"), t);
  auto frac = parse_kubernetes_time("2026-02-03T04:05:06.250Z");
  ASSERT_TRUE(frac.has_value());
  EXPECT_EQ(duration_cast<milliseconds>(*frac - *t).count(), 250);
  EXPECT_FALSE(parse_kubernetes_time("").has_value());
  EXPECT_FALSE(parse_kubernetes_time("yesterday").has_value());
  EXPECT_FALSE(parse_kubernetes_time("2026-13-03T04:05:06Z").has_value());
}

TEST(KubernetesConfig, Defaults) {
  KubernetesOptions o = KubernetesOptions::parse(json{{"kubeconfig", "/etc/kube/config"}}, "cluster-a");
  EXPECT_EQ(o.kubeconfig, "/etc/kube/config");
  EXPECT_FALSE(o.in_cluster);
  EXPECT_EQ(o.pool_label, "topology.kubernetes.io/zone");
  EXPECT_TRUE(o.machine_pools);
  EXPECT_EQ(o.cluster_name, "cluster-a");
  EXPECT_EQ(o.site, "cluster-a");
  EXPECT_EQ(o.location, "cluster-a");
  EXPECT_FALSE(o.expose_credentials);
  EXPECT_EQ(o.qps, 50);
  EXPECT_EQ(o.burst, 100);
  EXPECT_EQ(o.request_timeout.count(), 10000);
  KubernetesOptions in = KubernetesOptions::parse(
      json{{"in_cluster", true}, {"machine_pools", "off"}, {"cluster_name", "edge"}, {"site", "s1"}}, "x");
  EXPECT_TRUE(in.in_cluster);
  EXPECT_FALSE(in.machine_pools);
  EXPECT_EQ(in.cluster_name, "edge");
  EXPECT_EQ(in.site, "s1");
  EXPECT_EQ(in.location, "edge");
}

TEST(KubernetesConfig, ErrorsNameTheKey) {
  EXPECT_EQ(config_error_key(json::object()), "kubeconfig");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"in_cluster", true}}), "kubeconfig");
  EXPECT_EQ(config_error_key(json{{"in_cluster", false}}), "kubeconfig");
  EXPECT_EQ(config_error_key(json{{"in_cluster", "maybe"}}), "in_cluster");
  EXPECT_EQ(config_error_key(json{{"in_cluster", true}, {"context", "c"}}), "context");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"pool_label", "not a label"}}), "pool_label");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"pool_label", "Bad_Prefix/zone"}}), "pool_label");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"machine_pools", "sometimes"}}), "machine_pools");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"qps", 0}}), "qps");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"burst", "many"}}), "burst");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"request_timeout_ms", 5}}), "request_timeout_ms");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"expose_credentials", "yes please"}}), "expose_credentials");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", "/k"}, {"kubeconfg", "/typo"}}), "kubeconfg");
  EXPECT_EQ(config_error_key(json{{"kubeconfig", 5}}), "(accepted)");  // numbers read as strings, like elsewhere
  EXPECT_EQ(config_error_key(json{{"kubeconfig", json::array()}}), "kubeconfig");
}

TEST(KubernetesConfig, LabelKeys) {
  EXPECT_TRUE(is_label_key("topology.kubernetes.io/zone"));
  EXPECT_TRUE(is_label_key("zone"));
  EXPECT_TRUE(is_label_key("example.com/Rack_1.a-b"));
  EXPECT_FALSE(is_label_key(""));
  EXPECT_FALSE(is_label_key("/zone"));
  EXPECT_FALSE(is_label_key("example.com/"));
  EXPECT_FALSE(is_label_key("-zone"));
  EXPECT_FALSE(is_label_key("a/b/c"));
  EXPECT_FALSE(is_label_key(std::string(64, 'a')));
}

}  // namespace
}  // namespace o2gw::ims
