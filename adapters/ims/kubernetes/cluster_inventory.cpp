#include "ims/kubernetes/cluster_inventory.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <utility>

namespace o2gw::ims {
namespace {

using nlohmann::json;

constexpr std::string_view kInstanceTypeLabel = "node.kubernetes.io/instance-type";
constexpr std::string_view kBetaInstanceTypeLabel = "beta.kubernetes.io/instance-type";
constexpr std::string_view kArchLabel = "kubernetes.io/arch";
constexpr std::string_view kBetaArchLabel = "beta.kubernetes.io/arch";
constexpr std::string_view kRoleLabelPrefix = "node-role.kubernetes.io/";
constexpr std::string_view kLegacyRoleLabel = "kubernetes.io/role";
constexpr std::string_view kOpenShiftInstanceTypeLabel = "machine.openshift.io/instance-type";
constexpr std::string_view kOpenShiftMachineSetLabel = "machine.openshift.io/cluster-api-machineset";
constexpr std::string_view kCapiSetNameLabel = "cluster.x-k8s.io/set-name";
constexpr std::string_view kCapiDeploymentNameLabel = "cluster.x-k8s.io/deployment-name";
constexpr std::string_view kOpenShiftMachineApiVersion = "machine.openshift.io/v1beta1";
constexpr std::string_view kCapiApiVersion = "cluster.x-k8s.io/v1beta1";

// The deployment manager's key: one per adapter instance, so a constant.
constexpr std::string_view kDeploymentManagerKey = "cluster";
constexpr std::string_view kLabelPoolPrefix = "label:";
constexpr std::string_view kClusterPoolPrefix = "cluster:";

// Read-only walks into unstructured objects: a missing member or a wrong type is "".
const json* member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
const json* path_of(const json& j, std::initializer_list<std::string_view> keys) {
  const json* cur = &j;
  for (auto k : keys) {
    cur = member(*cur, k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}
std::string string_at(const json& j, std::initializer_list<std::string_view> keys) {
  const json* v = path_of(j, keys);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}
std::int64_t integer_at(const json& j, std::initializer_list<std::string_view> keys) {
  const json* v = path_of(j, keys);
  return v != nullptr && v->is_number_integer() ? v->get<std::int64_t>() : 0;
}

std::string label(const std::map<std::string, std::string>& labels, std::string_view key) {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

// "aws:///us-east-1a/i-0abc" -> "aws"; "kind://docker/c/n" -> "kind".
std::string provider_of(std::string_view provider_id) {
  auto at = provider_id.find("://");
  if (at == std::string_view::npos) at = provider_id.find(':');
  if (at == std::string_view::npos) return {};
  std::string out(provider_id.substr(0, at));
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string vendor_of(const std::string& provider) {
  static const std::map<std::string, std::string, std::less<>> kVendors = {
      {"aws", "Amazon Web Services"},
      {"azure", "Microsoft Azure"},
      {"gce", "Google Cloud"},
      {"ibm", "IBM Cloud"},
      {"openstack", "OpenStack"},
      {"vsphere", "VMware vSphere"},
      {"ovirt", "oVirt"},
      {"kubevirt", "KubeVirt"},
      {"alicloud", "Alibaba Cloud"},
      {"nutanix", "Nutanix"},
      {"equinixmetal", "Equinix Metal"},
      {"baremetalhost", "Metal3 bare metal"},
      {"metal3", "Metal3 bare metal"},
      {"kind", "kind"},
  };
  auto it = kVendors.find(provider);
  return it != kVendors.end() ? it->second : provider;
}

// Kept as the API shows them (quantity strings): the SMO sees what kubectl shows.
json string_map(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

json owner_reference(const json& object, std::string_view kind) {
  const json* refs = path_of(object, {"metadata", "ownerReferences"});
  if (refs == nullptr || !refs->is_array()) return nullptr;
  for (const auto& r : *refs) {
    if (string_at(r, {"kind"}) == kind) return r;
  }
  return nullptr;
}

// Conditions without lastHeartbeatTime / lastUpdateTime: those change on every
// kubelet report and would turn each heartbeat into an O2 change event.
json compact_conditions(const json* conditions) {
  json out = json::array();
  if (conditions == nullptr || !conditions->is_array()) return out;
  for (const auto& c : *conditions) {
    out.push_back(json{{"type", string_at(c, {"type"})},
                       {"status", string_at(c, {"status"})},
                       {"reason", string_at(c, {"reason"})},
                       {"message", string_at(c, {"message"})},
                       {"lastTransitionTime", string_at(c, {"lastTransitionTime"})}});
  }
  return out;
}

std::string machine_pool_key(bool capi, std::string_view kind, std::string_view ns, std::string_view name) {
  std::string key = capi ? "capi-" : "openshift-";
  key += kind == "MachineDeployment" ? "machinedeployment:" : "machineset:";
  key.append(ns).append("/").append(name);
  return key;
}

// The node conditions that raise alarms. Ready is bad unless True (Unknown
// means the kubelet stopped reporting); the others are bad when True.
struct ConditionAlarm {
  std::string_view condition;
  std::string_view definition;
  bool bad_when_true;
  Severity severity;
  std::string_view name;
  std::string_view description;
  std::string_view repair;
};
constexpr ConditionAlarm kConditionAlarms[] = {
    {"Ready", "NodeNotReady", false, Severity::critical, "Node not ready",
     "The node's Ready condition is False or Unknown: the kubelet reports it cannot run pods, or stopped "
     "reporting (node down, network partition, kubelet or container runtime failure). Its pods are evicted "
     "after the cluster's toleration period.",
     "Check the node's reachability and the kubelet and container runtime (journalctl -u kubelet); "
     "kubectl describe node shows the reason. Cordon and drain it if it does not recover."},
    {"MemoryPressure", "MemoryPressure", true, Severity::major, "Node memory pressure",
     "The node is low on memory: the kubelet evicts pods and admits no new BestEffort pods.",
     "Find the pods using the most memory, set memory limits, or move workloads to other nodes."},
    {"DiskPressure", "DiskPressure", true, Severity::major, "Node disk pressure",
     "The node's root or image filesystem is low on space or inodes: the kubelet garbage-collects images "
     "and evicts pods.",
     "Free space on the node (unused images, logs, emptyDir volumes) or enlarge its disks."},
    {"PIDPressure", "PIDPressure", true, Severity::major, "Node PID pressure",
     "The node is running out of process ids: the kubelet evicts pods.",
     "Find the pods creating too many processes and set pod PID limits."},
    {"NetworkUnavailable", "NetworkUnavailable", true, Severity::critical, "Node network unavailable",
     "The node's network is not configured correctly (the CNI plugin or the cloud route controller reports "
     "it): its pods cannot reach the cluster network.",
     "Check the CNI plugin's pods on the node and the cloud routes; kubectl describe node shows the reason."},
};
constexpr std::string_view kNodeAlarmDictionaryVersion = "1.0";

// The dictionary's "severity" hint, as the simulator writes it.
std::string_view severity_text(Severity s) {
  switch (s) {
    case Severity::critical: return "CRITICAL";
    case Severity::major: return "MAJOR";
    case Severity::minor: return "MINOR";
    case Severity::warning: return "WARNING";
    default: return "INDETERMINATE";
  }
}

}  // namespace

AlarmDictionarySpec node_alarm_dictionary() {
  AlarmDictionarySpec dict;
  dict.version = std::string(kNodeAlarmDictionaryVersion);
  dict.entity_type = "kubernetes-node";
  for (const auto& a : kConditionAlarms) {
    AlarmDefinitionSpec def;
    def.key = std::string(a.definition);
    def.name = std::string(a.name);
    def.last_change = dict.version;
    def.change_type = "ADDED";
    def.description = std::string(a.description);
    def.proposed_repair_actions = std::string(a.repair);
    def.clearing_type = "AUTOMATIC";
    def.additional_fields = json{{"severity", severity_text(a.severity)},
                                 {"condition", a.condition},
                                 {"conditionStatus", a.bad_when_true ? "True" : "False|Unknown"}};
    dict.definitions.push_back(std::move(def));
  }
  return dict;
}

std::vector<NodeProblem> node_problems(const std::vector<k8s::NodeCondition>& conditions) {
  std::vector<NodeProblem> out;
  for (const auto& c : conditions) {
    for (const auto& a : kConditionAlarms) {
      if (c.type != a.condition) continue;
      const bool bad = a.bad_when_true ? c.status == "True" : c.status != "True";
      if (!bad) break;
      out.push_back(NodeProblem{c.type, std::string(a.definition), a.severity, c.status, c.reason, c.message,
                                c.last_transition_time});
      break;
    }
  }
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_kubernetes_time(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
  const std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  std::chrono::nanoseconds fraction{0};
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    std::int64_t scale = 100000000;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      fraction += std::chrono::nanoseconds((rest.front() - '0') * scale);
      scale /= 10;
      rest.remove_prefix(1);
    }
  }
  std::chrono::minutes offset{0};
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om) * (rest[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                         std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto tp = std::chrono::sys_days(date) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec) +
            fraction - offset;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(tp);
}

void report_alarms(AlarmSink& sink, const std::string& source, const AlarmDelta& alarms, std::string* last_rejection) {
  for (const auto& key : alarms.cleared) sink.clear(source, key);
  for (const auto& report : alarms.raised) {
    auto rejected = sink.raise(report);
    if (!rejected) continue;
    // One log line per distinct reason: 5,000 nodes rejected alike say it once.
    if (last_rejection != nullptr && *last_rejection == rejected->reason) continue;
    spdlog::warn("alarm source {}: alarm {} not raised: {}", source, report.key, rejected->reason);
    if (last_rejection != nullptr) *last_rejection = rejected->reason;
  }
}

Quantities parse_quantities(const json& resource_list) {
  Quantities out;
  if (!resource_list.is_object()) return out;
  for (const auto& [name, value] : resource_list.items()) {
    if (!value.is_string()) continue;
    auto parsed = k8s::parse_quantity(value.get_ref<const std::string&>());
    if (!parsed || !std::isfinite(*parsed)) continue;
    out[name] = std::llround(name == "cpu" ? *parsed * 1000.0 : *parsed);
  }
  return out;
}

json quantities_json(const Quantities& q) {
  json out = json::object();
  for (const auto& [name, value] : q) {
    if (name == "cpu") {
      if (value % 1000 == 0) {
        out[name] = value / 1000;
      } else {
        out[name] = static_cast<double>(value) / 1000.0;
      }
    } else {
      out[name] = value;
    }
  }
  return out;
}

std::string TypeFacts::resource_kind() const {
  std::string lower = instance_type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Bare-metal instance types (AWS *.metal, IBM *-metal-*) and bare-metal providers are machines you can touch.
  if (lower.find("metal") != std::string::npos) return "PHYSICAL";
  static const std::set<std::string, std::less<>> kBareMetalProviders = {"baremetalhost", "metal3", "ironic",
                                                                         "equinixmetal", "packet"};
  if (kBareMetalProviders.contains(provider)) return "PHYSICAL";
  // A cloud provider's instance without "metal" is a virtual machine.
  if (!provider.empty() || !instance_type.empty()) return "LOGICAL";
  // A node with neither (kubeadm on unknown hardware): nothing tells.
  return "UNDEFINED";
}

std::string TypeFacts::key() const {
  return provider + "|" + instance_type + "|" + architecture + "|" + resource_kind();
}

ResourceTypeSpec TypeFacts::spec() const {
  ResourceTypeSpec t;
  t.key = key();
  t.name = instance_type.empty() ? "node" : instance_type;
  if (!architecture.empty()) t.name += " (" + architecture + ")";
  t.description = "Kubernetes nodes";
  if (!instance_type.empty()) t.description += " of instance type " + instance_type;
  if (!provider.empty()) t.description += " on " + vendor_of(provider);
  if (!architecture.empty()) t.description += ", " + architecture;
  t.vendor = vendor_of(provider);
  t.model = instance_type;
  t.version = "";
  t.resource_kind = resource_kind();
  t.resource_class = "COMPUTE";
  t.extensions = json{{"provider", provider}, {"instanceType", instance_type}, {"architecture", architecture}};
  // Machines without a node share it: their alarms are their node's.
  t.alarm_dictionary = node_alarm_dictionary();
  return t;
}

NodeFacts NodeFacts::from(const json& node, const std::string& pool_label) {
  const k8s::Node n = k8s::Node::from(node);
  const auto& labels = n.metadata.labels;
  NodeFacts f;
  f.name = n.metadata.name;
  f.uid = n.metadata.uid;
  f.provider_id = n.provider_id;
  f.system_uuid = n.system_uuid;
  if (!pool_label.empty()) {
    auto it = labels.find(pool_label);
    if (it != labels.end() && !it->second.empty()) f.pool_value = it->second;
  }
  f.type.provider = provider_of(n.provider_id);
  f.type.instance_type = label(labels, kInstanceTypeLabel);
  if (f.type.instance_type.empty()) f.type.instance_type = label(labels, kBetaInstanceTypeLabel);
  f.type.architecture = n.architecture;
  if (f.type.architecture.empty()) f.type.architecture = label(labels, kArchLabel);
  if (f.type.architecture.empty()) f.type.architecture = label(labels, kBetaArchLabel);
  f.allocatable = parse_quantities(string_map(n.allocatable));
  f.capacity = parse_quantities(string_map(n.capacity));
  f.ready = n.ready();
  f.problems = node_problems(n.conditions);
  for (const auto& [key, value] : labels) {
    if (key.starts_with(kRoleLabelPrefix) && key.size() > kRoleLabelPrefix.size()) {
      f.roles.push_back(key.substr(kRoleLabelPrefix.size()));
    } else if (key == kLegacyRoleLabel && !value.empty()) {
      f.roles.push_back(value);
    }
  }
  std::sort(f.roles.begin(), f.roles.end());
  f.roles.erase(std::unique(f.roles.begin(), f.roles.end()), f.roles.end());

  json conditions = json::array();
  for (const auto& c : n.conditions) {
    conditions.push_back(json{{"type", c.type},
                              {"status", c.status},
                              {"reason", c.reason},
                              {"message", c.message},
                              {"lastTransitionTime", c.last_transition_time}});
  }
  json addresses = json::array();
  for (const auto& a : n.addresses) addresses.push_back(json{{"type", a.type}, {"address", a.address}});
  json taints = json::array();
  for (const auto& t : n.taints) taints.push_back(json{{"key", t.key}, {"value", t.value}, {"effect", t.effect}});

  json& e = f.extensions;
  e = json::object();
  e["nodeName"] = f.name;
  e["nodeUID"] = f.uid;
  e["providerID"] = n.provider_id;
  e["systemUUID"] = n.system_uuid;
  e["machineID"] = n.machine_id;
  e["instanceType"] = f.type.instance_type;
  e["architecture"] = f.type.architecture;
  e["operatingSystem"] = n.operating_system;
  e["osImage"] = n.os_image;
  e["kernelVersion"] = n.kernel_version;
  e["kubeletVersion"] = n.kubelet_version;
  e["containerRuntimeVersion"] = n.container_runtime_version;
  e["capacity"] = string_map(n.capacity);
  e["allocatable"] = string_map(n.allocatable);
  e["conditions"] = std::move(conditions);
  e["addresses"] = std::move(addresses);
  e["labels"] = string_map(labels);
  e["taints"] = std::move(taints);
  e["roles"] = f.roles;
  e["unschedulable"] = n.unschedulable;
  e["ready"] = f.ready;
  return f;
}

MachineFacts MachineFacts::from(const json& machine, bool capi) {
  const k8s::ObjectMeta meta = k8s::ObjectMeta::from(machine);
  MachineFacts f;
  f.capi = capi;
  f.ns = meta.ns;
  f.name = meta.name;
  f.uid = meta.uid;
  f.node_name = string_at(machine, {"status", "nodeRef", "name"});
  f.provider_id = string_at(machine, {"spec", "providerID"});
  f.instance_type = label(meta.labels, kOpenShiftInstanceTypeLabel);
  if (f.instance_type.empty()) f.instance_type = label(meta.labels, kInstanceTypeLabel);
  const json owner = owner_reference(machine, "MachineSet");
  f.owner_set = owner.is_null() ? std::string() : string_at(owner, {"name"});
  if (f.owner_set.empty()) f.owner_set = label(meta.labels, capi ? kCapiSetNameLabel : kOpenShiftMachineSetLabel);
  if (capi) f.owner_deployment = label(meta.labels, kCapiDeploymentNameLabel);

  std::string api_version = string_at(machine, {"apiVersion"});
  if (api_version.empty()) api_version = std::string(capi ? kCapiApiVersion : kOpenShiftMachineApiVersion);
  json& e = f.extensions;
  e = json::object();
  e["apiVersion"] = api_version;
  e["namespace"] = f.ns;
  e["name"] = f.name;
  e["uid"] = f.uid;
  e["phase"] = string_at(machine, {"status", "phase"});
  e["providerID"] = f.provider_id;
  e["nodeName"] = f.node_name;
  e["instanceType"] = f.instance_type;
  // OpenShift reports errorReason/errorMessage, Cluster API failureReason/failureMessage.
  std::string reason = string_at(machine, {"status", capi ? "failureReason" : "errorReason"});
  std::string message = string_at(machine, {"status", capi ? "failureMessage" : "errorMessage"});
  if (!reason.empty()) e["failureReason"] = reason;
  if (!message.empty()) e["failureMessage"] = message;
  if (capi) e["clusterName"] = string_at(machine, {"spec", "clusterName"});
  const json* conditions = path_of(machine, {"status", "conditions"});
  if (conditions != nullptr) e["conditions"] = compact_conditions(conditions);
  return f;
}

MachinePoolFacts MachinePoolFacts::from(const json& object, WatchedKind kind, const std::string& cluster) {
  const k8s::ObjectMeta meta = k8s::ObjectMeta::from(object);
  MachinePoolFacts f;
  f.capi = kind != WatchedKind::openshift_machine_set;
  f.kind = kind == WatchedKind::capi_machine_deployment ? "MachineDeployment" : "MachineSet";
  f.ns = meta.ns;
  f.name = meta.name;
  f.pool_key = machine_pool_key(f.capi, f.kind, f.ns, f.name);
  if (kind == WatchedKind::capi_machine_set) {
    const json owner = owner_reference(object, "MachineDeployment");
    f.owner_deployment = owner.is_null() ? std::string() : string_at(owner, {"name"});
    if (f.owner_deployment.empty()) f.owner_deployment = label(meta.labels, kCapiDeploymentNameLabel);
  }
  std::string api_version = string_at(object, {"apiVersion"});
  if (api_version.empty()) api_version = std::string(f.capi ? kCapiApiVersion : kOpenShiftMachineApiVersion);

  f.spec.key = f.pool_key;
  f.spec.name = f.name;
  f.spec.description =
      (f.capi ? "Cluster API " : "OpenShift ") + f.kind + " " + f.ns + "/" + f.name + " of cluster " + cluster;
  json& e = f.spec.extensions;
  e = json::object();
  e["cluster"] = cluster;
  e["source"] = f.kind;
  e["apiVersion"] = api_version;
  e["namespace"] = f.ns;
  e["name"] = f.name;
  e["uid"] = meta.uid;
  e["replicas"] = integer_at(object, {"spec", "replicas"});
  e["readyReplicas"] = integer_at(object, {"status", "readyReplicas"});
  e["availableReplicas"] = integer_at(object, {"status", "availableReplicas"});
  if (f.capi) e["clusterName"] = string_at(object, {"spec", "clusterName"});
  return f;
}

// ---------------------------------------------------------------------------

ClusterInventory::ClusterInventory(const AdapterContext& ctx, KubernetesOptions options, ClusterAccess access,
                                   NodeLookup lookup)
    : ctx_(ctx),
      options_(std::move(options)),
      access_(std::move(access)),
      ids_(ctx_),
      lookup_(std::move(lookup)),
      alarm_source_("kubernetes/" + ctx_.spec.name) {}

void ClusterInventory::set_kubernetes_version(const std::string& version) {
  if (version == kubernetes_version_) return;
  kubernetes_version_ = version;
  derived_dirty_ = true;
}

void ClusterInventory::record(WatchedKind kind, std::span<const k8s::InformerChange> changes) {
  for (const auto& c : changes) {
    const bool deleted = c.type == k8s::InformerChange::Type::deleted;
    switch (kind) {
      case WatchedKind::node: {
        std::string name = c.key;
        if (deleted) {
          nodes_.erase(name);
        } else {
          nodes_.insert_or_assign(name, NodeFacts::from(c.object, options_.pool_label));
        }
        dirty_nodes_.insert(std::move(name));
        break;
      }
      case WatchedKind::openshift_machine:
      case WatchedKind::capi_machine: {
        const bool capi = kind == WatchedKind::capi_machine;
        std::string key = (capi ? "capi:" : "openshift:") + c.key;
        if (auto it = machines_.find(key); it != machines_.end()) {
          auto wanted = wanted_by_.find(it->second.node_name);
          if (wanted != wanted_by_.end()) {
            wanted->second.erase(key);
            if (wanted->second.empty()) wanted_by_.erase(wanted);
          }
        }
        if (deleted) {
          machines_.erase(key);
        } else {
          MachineFacts facts = MachineFacts::from(c.object, capi);
          if (!facts.node_name.empty()) wanted_by_[facts.node_name].insert(key);
          machines_.insert_or_assign(key, std::move(facts));
        }
        dirty_machines_.insert(std::move(key));
        break;
      }
      case WatchedKind::openshift_machine_set:
      case WatchedKind::capi_machine_set:
      case WatchedKind::capi_machine_deployment: {
        MachinePoolFacts facts = MachinePoolFacts::from(c.object, kind, options_.cluster_name);
        if (deleted) {
          machine_pools_.erase(facts.pool_key);
        } else {
          std::string key = facts.pool_key;
          machine_pools_.insert_or_assign(std::move(key), std::move(facts));
        }
        machine_pools_dirty_ = true;
        break;
      }
    }
  }
}

std::string ClusterInventory::fallback_pool_key() const {
  return std::string(kClusterPoolPrefix) + options_.cluster_name;
}

std::string ClusterInventory::pool_key_for_label(const std::string& value) const {
  return std::string(kLabelPoolPrefix) + options_.pool_label + "=" + value;
}

std::string ClusterInventory::node_pool_of(const NodeFacts& n) const {
  return n.pool_value ? pool_key_for_label(*n.pool_value) : fallback_pool_key();
}

// The machine pool a machine belongs to, or "" when none of its sets is known.
std::string ClusterInventory::machine_pool_of(const MachineFacts& m) const {
  if (!m.capi) {
    if (m.owner_set.empty()) return {};
    std::string key = machine_pool_key(false, "MachineSet", m.ns, m.owner_set);
    return machine_pools_.contains(key) ? key : std::string();
  }
  // Cluster API: Machine -> MachineSet -> MachineDeployment; the deployment is the pool.
  std::string deployment = m.owner_deployment;
  if (!m.owner_set.empty()) {
    std::string set_key = machine_pool_key(true, "MachineSet", m.ns, m.owner_set);
    auto set = machine_pools_.find(set_key);
    if (set != machine_pools_.end()) {
      if (!set->second.owner_deployment.empty()) deployment = set->second.owner_deployment;
      std::string md_key = machine_pool_key(true, "MachineDeployment", m.ns, deployment);
      if (!deployment.empty() && machine_pools_.contains(md_key)) return md_key;
      return set_key;
    }
  }
  if (!deployment.empty()) {
    std::string md_key = machine_pool_key(true, "MachineDeployment", m.ns, deployment);
    if (machine_pools_.contains(md_key)) return md_key;
  }
  return {};
}

// Pools and types exist while some host uses them: a use count crossing zero
// changes the derived objects; anything else leaves them as they are.
void ClusterInventory::add_contribution(const Host& h) {
  if (++pool_use_[h.pool_key] == 1) derived_dirty_ = true;
  if (++type_use_.at(h.type_key).first == 1) derived_dirty_ = true;
  if (!h.has_node) return;
  ++totals_.nodes;
  if (h.ready) ++totals_.ready;
  for (const auto& [k, v] : h.allocatable) totals_.allocatable[k] += v;
  for (const auto& [k, v] : h.capacity) totals_.capacity[k] += v;
}

void ClusterInventory::remove_contribution(const Host& h) {
  if (auto it = pool_use_.find(h.pool_key); it != pool_use_.end() && --it->second == 0) {
    pool_use_.erase(it);
    derived_dirty_ = true;
  }
  if (auto it = type_use_.find(h.type_key); it != type_use_.end() && --it->second.first == 0) {
    type_use_.erase(it);
    derived_dirty_ = true;
  }
  if (!h.has_node) return;
  --totals_.nodes;
  if (h.ready) --totals_.ready;
  auto subtract = [](Quantities& total, const Quantities& part) {
    for (const auto& [k, v] : part) {
      auto it = total.find(k);
      if (it == total.end()) continue;
      it->second -= v;
      if (it->second == 0) total.erase(it);
    }
  };
  subtract(totals_.allocatable, h.allocatable);
  subtract(totals_.capacity, h.capacity);
}

InventoryObject ClusterInventory::build_host(const std::string& resource_key, const MachineFacts* machine,
                                             NodeFacts* node, Host& host) {
  host = Host{};
  host.resource_key = resource_key;
  std::string machine_pool = machine != nullptr ? machine_pool_of(*machine) : std::string();
  if (!machine_pool.empty()) {
    host.pool_key = std::move(machine_pool);
  } else if (node != nullptr) {
    host.pool_key = node_pool_of(*node);
  } else {
    host.pool_key = fallback_pool_key();
  }
  TypeFacts type = node != nullptr ? node->type : TypeFacts{};
  if (machine != nullptr) {
    if (type.provider.empty()) type.provider = provider_of(machine->provider_id);
    if (type.instance_type.empty()) type.instance_type = machine->instance_type;
  }
  host.type_key = type.key();
  auto& type_entry = type_use_[host.type_key];
  if (type_entry.first == 0) type_entry.second = type.spec();
  if (node != nullptr) {
    host.has_node = true;
    host.ready = node->ready;
    host.allocatable = node->allocatable;
    host.capacity = node->capacity;
  }

  ResourceSpec spec;
  spec.key = resource_key;
  spec.pool_key = host.pool_key;
  spec.type_key = host.type_key;
  if (node != nullptr) {
    spec.description = "Kubernetes node " + node->name + " of cluster " + options_.cluster_name;
    if (machine != nullptr) spec.description += " (machine " + machine->ns + "/" + machine->name + ")";
    spec.global_asset_id = !node->provider_id.empty()                            ? node->provider_id
                           : machine != nullptr && !machine->provider_id.empty() ? machine->provider_id
                                                                                 : node->system_uuid;
    spec.tags = node->roles;
    if (node->extensions.is_null()) {
      // Built before: read the node again rather than keep every node's extensions twice.
      std::optional<json> current = lookup_ ? lookup_(node->name) : std::nullopt;
      if (current) spec.extensions = NodeFacts::from(*current, options_.pool_label).extensions;
    } else {
      spec.extensions = std::move(node->extensions);
      node->extensions = nullptr;
    }
    if (!spec.extensions.is_object()) spec.extensions = json::object();
  } else {
    spec.description =
        "Machine " + machine->ns + "/" + machine->name + " of cluster " + options_.cluster_name + " (no node)";
    spec.global_asset_id = machine->provider_id;
    spec.extensions = json::object();
    spec.extensions["ready"] = false;
  }
  spec.extensions["cluster"] = options_.cluster_name;
  if (machine != nullptr) spec.extensions["machine"] = machine->extensions;
  return make_resource(std::move(spec), resource_key, ids_.resource_pool(host.pool_key), ids_, ctx_);
}

ClusterInventory::Delta ClusterInventory::delta() {
  Delta d;
  if (machine_pools_dirty_) {
    for (const auto& [key, m] : machines_) dirty_machines_.insert(key);
    machine_pools_dirty_ = false;
    derived_dirty_ = true;
  }
  // A machine that names a changed node may (un)link with it.
  for (const auto& name : dirty_nodes_) {
    if (auto it = wanted_by_.find(name); it != wanted_by_.end()) {
      dirty_machines_.insert(it->second.begin(), it->second.end());
    }
  }
  // Every link involving a dirty machine is made again; a node that loses its
  // machine becomes a resource of its own.
  for (const auto& key : dirty_machines_) {
    if (auto it = machine_to_node_.find(key); it != machine_to_node_.end()) {
      dirty_nodes_.insert(it->second);
      node_to_machine_.erase(it->second);
      machine_to_node_.erase(it);
    }
  }
  for (const auto& key : dirty_machines_) {
    auto m = machines_.find(key);
    if (m == machines_.end() || m->second.node_name.empty()) continue;
    const std::string& node_name = m->second.node_name;
    auto n = nodes_.find(node_name);
    if (n == nodes_.end() || node_to_machine_.contains(node_name)) continue;
    // A Cluster API management cluster holds Machines of other clusters: a
    // same-named local node is only the machine's when the provider ids agree.
    if (!m->second.provider_id.empty() && !n->second.provider_id.empty() &&
        m->second.provider_id != n->second.provider_id) {
      continue;
    }
    node_to_machine_[node_name] = key;
    machine_to_node_[key] = node_name;
    dirty_nodes_.insert(node_name);
  }

  // The deployment manager shows the totals: it changes when they do.
  const Totals totals_before = totals_;
  // The resources that showed the affected nodes and machines before...
  std::set<std::string> previous;
  for (const auto& name : dirty_nodes_) {
    if (auto it = host_of_node_.find(name); it != host_of_node_.end()) {
      previous.insert(it->second);
      host_of_node_.erase(it);
    }
  }
  for (const auto& key : dirty_machines_) {
    if (auto it = host_of_machine_.find(key); it != host_of_machine_.end()) {
      previous.insert(it->second);
      host_of_machine_.erase(it);
    }
  }
  // ...and the ones that show them now.
  std::set<std::string> built;
  auto publish = [&](const std::string& resource_key, const MachineFacts* machine, NodeFacts* node) {
    if (auto old = hosts_.find(resource_key); old != hosts_.end()) remove_contribution(old->second);
    Host host;
    d.upserts.push_back(build_host(resource_key, machine, node, host));
    add_contribution(host);
    hosts_.insert_or_assign(resource_key, std::move(host));
    built.insert(resource_key);
  };
  for (const auto& key : dirty_machines_) {
    auto m = machines_.find(key);
    if (m == machines_.end()) continue;
    NodeFacts* node = nullptr;
    if (auto link = machine_to_node_.find(key); link != machine_to_node_.end()) node = &nodes_.at(link->second);
    // Without a uid (a malformed object) the name keeps the id stable.
    std::string resource_key = m->second.uid.empty() ? key : m->second.uid;
    publish(resource_key, &m->second, node);
    host_of_machine_[key] = std::move(resource_key);
  }
  for (const auto& name : dirty_nodes_) {
    // A linked node is shown by its machine, which is dirty too and was built above.
    if (node_to_machine_.contains(name)) continue;
    auto n = nodes_.find(name);
    if (n == nodes_.end()) continue;
    std::string resource_key = n->second.uid.empty() ? "node:" + name : n->second.uid;
    publish(resource_key, nullptr, &n->second);
    host_of_node_[name] = std::move(resource_key);
  }
  for (const auto& key : previous) {
    if (built.contains(key)) continue;
    auto it = hosts_.find(key);
    if (it == hosts_.end()) continue;
    remove_contribution(it->second);
    hosts_.erase(it);
    d.removals.emplace_back(Kind::resource, ids_.resource(key));
  }
  if (!(totals_ == totals_before)) derived_dirty_ = true;
  // Alarms follow the hosts: a node's resource id may have changed with its machine link.
  for (const auto& name : dirty_nodes_) diff_alarms(name, d.alarms);
  dirty_nodes_.clear();
  dirty_machines_.clear();

  if (derived_dirty_) {
    derived_dirty_ = false;
    std::vector<InventoryObject> derived = build_derived();
    std::set<std::pair<Kind, std::string>> now;
    for (const auto& o : derived) now.emplace(o.kind, o.id);
    for (const auto& key : derived_published_) {
      if (!now.contains(key)) d.removals.push_back(key);
    }
    derived_published_ = std::move(now);
    for (auto& o : derived) d.upserts.push_back(std::move(o));
  }
  return d;
}

std::vector<InventoryObject> ClusterInventory::build_derived() {
  const std::string& cluster = options_.cluster_name;
  OCloudModel model;
  LocationSpec location;
  location.global_location_id = options_.location;
  location.name = options_.location;
  location.description = "Location of Kubernetes cluster " + cluster;
  location.extensions = json{{"cluster", cluster}};
  model.locations.push_back(std::move(location));

  SiteSpec site;
  site.key = options_.site;
  site.global_location_id = options_.location;
  site.name = options_.site;
  site.description = "Site of Kubernetes cluster " + cluster;
  site.extensions = json{{"cluster", cluster}};
  model.sites.push_back(std::move(site));

  for (const auto& [key, entry] : type_use_) model.resource_types.push_back(entry.second);

  // Pools: the label values in use, the cluster pool when some host has no
  // other, and every machine set or deployment (also while it has no machines).
  for (const auto& [key, count] : pool_use_) {
    if (count == 0) continue;
    ResourcePoolSpec pool;
    pool.key = key;
    pool.site_key = options_.site;
    if (key.starts_with(kLabelPoolPrefix)) {
      const std::string value = key.substr(kLabelPoolPrefix.size() + options_.pool_label.size() + 1);
      pool.name = value;
      pool.description = "Nodes of cluster " + cluster + " with " + options_.pool_label + "=" + value;
      pool.extensions =
          json{{"cluster", cluster}, {"source", "nodeLabel"}, {"label", options_.pool_label}, {"value", value}};
    } else if (key.starts_with(kClusterPoolPrefix)) {
      pool.name = cluster;
      pool.description = options_.pool_label.empty()
                             ? "Nodes of cluster " + cluster
                             : "Nodes of cluster " + cluster + " without the " + options_.pool_label + " label";
      pool.extensions = json{{"cluster", cluster}, {"source", "cluster"}};
    } else {
      continue;  // a machine pool, added below
    }
    model.resource_pools.push_back(std::move(pool));
  }
  for (const auto& [key, facts] : machine_pools_) {
    // A Cluster API MachineSet run by a MachineDeployment is part of the deployment's pool.
    if (facts.capi && facts.kind == "MachineSet" && !facts.owner_deployment.empty() &&
        machine_pools_.contains(machine_pool_key(true, "MachineDeployment", facts.ns, facts.owner_deployment))) {
      continue;
    }
    ResourcePoolSpec pool = facts.spec;
    pool.site_key = options_.site;
    model.resource_pools.push_back(std::move(pool));
  }

  DeploymentManagerSpec dm;
  dm.key = std::string(kDeploymentManagerKey);
  dm.name = cluster;
  dm.description = "Kubernetes cluster " + cluster + " (" + access_.server + ")";
  dm.service_uri = access_.server;
  dm.site_keys = {options_.site};
  dm.capabilities = json::object();
  if (!kubernetes_version_.empty()) dm.capabilities["kubernetesVersion"] = kubernetes_version_;
  dm.capacity = quantities_json(totals_.allocatable);
  dm.capacity["nodes"] = totals_.nodes;
  dm.capacity["readyNodes"] = totals_.ready;
  json profile = json::object();
  profile["cluster_api_endpoint"] = access_.server;
  profile["cluster_ca_cert"] = access_.ca_cert_pem;
  // Present but empty unless expose_credentials: the conformance schema lists
  // the fields, and an SMO must not receive credentials it was not meant to.
  profile["admin_user"] = access_.user;
  profile["admin_client_cert"] = access_.client_cert_pem;
  profile["admin_client_key"] = access_.client_key_pem;
  if (!access_.bearer_token.empty()) profile["admin_token"] = access_.bearer_token;
  dm.extensions = json{{"profileName", "native_k8sapi"},
                       {"profileData", std::move(profile)},
                       {"cluster", cluster},
                       {"context", access_.context},
                       {"nodeCapacity", quantities_json(totals_.capacity)}};
  model.deployment_managers.push_back(std::move(dm));
  pools_published_ = model.resource_pools.size();
  return build_inventory(std::move(model), ctx_);
}

// The node's alarms now against the ones last reported: raise what is new or
// changed (severity, resource, details), clear what went away. A deleted node
// (or one recreated under a new uid) clears its keys.
void ClusterInventory::diff_alarms(const std::string& node_name, AlarmDelta& out) {
  std::map<std::string, AlarmReport> now;
  auto n = nodes_.find(node_name);
  // The resource that shows the node, and its type, whose dictionary defines
  // the alarm: the definition goes by id, which the alarm service resolves
  // whatever the names look like.
  const std::string* resource_key = nullptr;
  if (n != nodes_.end() && !n->second.problems.empty()) {
    if (auto m = node_to_machine_.find(node_name); m != node_to_machine_.end()) {
      if (auto h = host_of_machine_.find(m->second); h != host_of_machine_.end()) resource_key = &h->second;
    } else if (auto h = host_of_node_.find(node_name); h != host_of_node_.end()) {
      resource_key = &h->second;
    }
  }
  auto host = resource_key != nullptr ? hosts_.find(*resource_key) : hosts_.end();
  if (host != hosts_.end()) {
    const NodeFacts& node = n->second;
    const std::string node_key = node.uid.empty() ? "node:" + node.name : node.uid;
    for (const auto& p : node.problems) {
      AlarmReport r;
      r.source = alarm_source_;
      r.key = node_key + "/" + p.condition;
      r.resource_id = ids_.resource(*resource_key);
      r.definition = ids_.alarm_definition(host->second.type_key, p.definition);
      r.severity = p.severity;
      r.extensions = json{{"node", node.name},
                          {"condition", p.condition},
                          {"status", p.status},
                          {"reason", p.reason},
                          {"message", p.message},
                          {"lastTransitionTime", p.last_transition_time},
                          {"cluster", options_.cluster_name}};
      r.since = parse_kubernetes_time(p.last_transition_time);
      std::string key = r.key;
      now.emplace(std::move(key), std::move(r));
    }
  }
  auto before = node_alarms_.find(node_name);
  auto same = [](const AlarmReport& a, const AlarmReport& b) {
    return a.resource_id == b.resource_id && a.definition == b.definition && a.severity == b.severity &&
           a.extensions == b.extensions && a.since == b.since;
  };
  if (before != node_alarms_.end()) {
    for (const auto& [key, old] : before->second) {
      if (!now.contains(key)) out.cleared.push_back(key);
    }
  }
  for (const auto& [key, r] : now) {
    if (before != node_alarms_.end()) {
      auto it = before->second.find(key);
      if (it != before->second.end() && same(it->second, r)) continue;
    }
    out.raised.push_back(r);
  }
  if (now.empty()) {
    if (before != node_alarms_.end()) node_alarms_.erase(before);
  } else {
    node_alarms_.insert_or_assign(node_name, std::move(now));
  }
}

std::vector<std::string> ClusterInventory::active_alarm_keys() const {
  std::vector<std::string> out;
  for (const auto& [name, alarms] : node_alarms_) {
    for (const auto& [key, r] : alarms) out.push_back(key);
  }
  std::sort(out.begin(), out.end());
  return out;
}

ClusterInventory::Counts ClusterInventory::counts() const {
  Counts c;
  c.nodes = nodes_.size();
  c.ready_nodes = totals_.ready;
  c.machines = machines_.size();
  c.resources = hosts_.size();
  c.pools = pools_published_;
  return c;
}

std::optional<std::string> ClusterInventory::resource_id_of_node(const std::string& name) const {
  if (auto m = node_to_machine_.find(name); m != node_to_machine_.end()) {
    auto h = host_of_machine_.find(m->second);
    if (h != host_of_machine_.end()) return ids_.resource(h->second);
  }
  if (auto h = host_of_node_.find(name); h != host_of_node_.end()) return ids_.resource(h->second);
  return std::nullopt;
}

}  // namespace o2gw::ims
