// How one Kubernetes cluster becomes O2 inventory, kept current change by
// change. Nodes (and, where the cluster serves them, OpenShift Machine API or
// Cluster API machines) become Resources; node labels and machine sets become
// ResourcePools; instance type and architecture make the ResourceTypes; the
// cluster itself is the DeploymentManager. Pure: no I/O, no threads. The
// adapter feeds it the informers' change batches and writes what delta()
// returns to the inventory cache. Decisions are documented in
// docs/adapters/kubernetes.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ims/common/o2_objects.hpp"
#include "ims/kubernetes/kubernetes_options.hpp"
#include "o2gw/alarms.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/k8s.hpp"
#include "o2gw/registry.hpp"

namespace o2gw::ims {

// The informer a change batch comes from.
enum class WatchedKind {
  node,
  openshift_machine_set,
  openshift_machine,
  capi_machine_deployment,
  capi_machine_set,
  capi_machine,
};

// What the deployment manager tells an SMO about reaching the cluster.
struct ClusterAccess {
  std::string server;       // the API server URL
  std::string context;      // the kubeconfig context ("" in-cluster)
  std::string ca_cert_pem;  // "" when the server is trusted through the system store
  // Filled only when expose_credentials is set.
  std::string user;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;
};

// Resource quantities summed exactly: cpu in millicores, everything else in base units.
using Quantities = std::map<std::string, std::int64_t>;
// Parses a node's capacity or allocatable map; entries that do not parse are skipped.
Quantities parse_quantities(const nlohmann::json& resource_list);
// The same map as JSON numbers: cpu in cores (15.5), the rest in base units.
nlohmann::json quantities_json(const Quantities& q);

// What a node or machine says about its resource type.
struct TypeFacts {
  std::string provider;                             // providerID scheme: "aws", "gce", "baremetalhost" ...
  std::string instance_type;                        // node.kubernetes.io/instance-type (or the beta label)
  std::string architecture;                         // status.nodeInfo.architecture (or kubernetes.io/arch)
  [[nodiscard]] std::string resource_kind() const;  // PHYSICAL | LOGICAL | UNDEFINED
  [[nodiscard]] std::string key() const;
  [[nodiscard]] ResourceTypeSpec spec() const;
};

// The alarm dictionary every Kubernetes resource type carries: one definition
// per node condition that means trouble (docs/adapters/kubernetes.md, Alarms).
AlarmDictionarySpec node_alarm_dictionary();

// A node condition in a bad state, as an alarm would show it.
struct NodeProblem {
  std::string condition;   // the condition type: "Ready", "MemoryPressure", ...
  std::string definition;  // the alarm definition key: "NodeNotReady", "MemoryPressure", ...
  Severity severity = Severity::major;
  std::string status, reason, message, last_transition_time;
  bool operator==(const NodeProblem&) const = default;
};
// The bad conditions among a node's status.conditions: Ready not True (False
// or Unknown); MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable True.
std::vector<NodeProblem> node_problems(const std::vector<k8s::NodeCondition>& conditions);

// RFC 3339 ("2026-01-01T10:00:00Z", fractions and offsets allowed); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_kubernetes_time(std::string_view text);

// What changed in the node-condition alarms since the last delta().
struct AlarmDelta {
  std::vector<AlarmReport> raised;   // new or changed: raise (an unchanged one is not repeated)
  std::vector<std::string> cleared;  // keys that are no longer bad
  [[nodiscard]] bool empty() const { return raised.empty() && cleared.empty(); }
};
// Hands a delta to the sink: raises after clears, logs (once per distinct
// reason) the reports the sink rejects.
void report_alarms(AlarmSink& sink, const std::string& source, const AlarmDelta& alarms,
                   std::string* last_rejection = nullptr);

// A node reduced to what the inventory shows (the raw object is not kept).
struct NodeFacts {
  std::string name;
  std::string uid;
  std::string provider_id;
  std::string system_uuid;
  std::optional<std::string> pool_value;  // the pool label's value, when the label is set
  TypeFacts type;
  Quantities allocatable;
  Quantities capacity;
  bool ready = false;
  std::vector<std::string> roles;     // from node-role.kubernetes.io/<role> labels
  std::vector<NodeProblem> problems;  // usually empty: kept for the alarms
  // The node part of the resource's extensions. Held only until the resource
  // is built: a rebuild for another reason (its machine changed) reads the
  // node again through the NodeLookup, so 5,000 nodes are not kept twice.
  nlohmann::json extensions;
  static NodeFacts from(const nlohmann::json& node, const std::string& pool_label);
};

// The current object of a node by name (the node informer's copy), or nullopt.
using NodeLookup = std::function<std::optional<nlohmann::json>(const std::string& name)>;

// A Machine (OpenShift machine.openshift.io or Cluster API cluster.x-k8s.io).
struct MachineFacts {
  bool capi = false;
  std::string ns, name, uid;
  std::string node_name;    // status.nodeRef.name
  std::string provider_id;  // spec.providerID
  std::string instance_type;
  std::string owner_set;         // the owning MachineSet (ownerReferences, else label)
  std::string owner_deployment;  // Cluster API: the deployment-name label
  nlohmann::json extensions;     // the "machine" object of the resource's extensions
  static MachineFacts from(const nlohmann::json& machine, bool capi);
};

// A MachineSet or MachineDeployment that may be a resource pool.
struct MachinePoolFacts {
  std::string pool_key;
  std::string kind;  // "MachineSet" | "MachineDeployment"
  bool capi = false;
  std::string ns, name;
  std::string owner_deployment;  // Cluster API MachineSet: its MachineDeployment
  ResourcePoolSpec spec;         // site_key filled in later
  static MachinePoolFacts from(const nlohmann::json& object, WatchedKind kind, const std::string& cluster);
};

class ClusterInventory {
 public:
  ClusterInventory(const AdapterContext& ctx, KubernetesOptions options, ClusterAccess access, NodeLookup lookup);

  // Records a batch of changes from one informer. Nothing is built until delta().
  void record(WatchedKind kind, std::span<const k8s::InformerChange> changes);
  // Shown in the deployment manager's capabilities once known.
  void set_kubernetes_version(const std::string& version);

  struct Delta {
    std::vector<InventoryObject> upserts;
    std::vector<std::pair<Kind, std::string>> removals;
    // Report to the alarm sink after the upserts are in the cache: the sink
    // resolves each alarm's resource there.
    AlarmDelta alarms;
    [[nodiscard]] bool empty() const { return upserts.empty() && removals.empty(); }
  };
  // The objects that may have changed since the last call: the resources of the
  // nodes and machines recorded since, and every derived object (pools, types,
  // site, location, deployment manager) when anything changed. Unchanged
  // documents among them are no-ops for InventoryCache::apply.
  Delta delta();

  struct Counts {
    std::size_t nodes = 0;
    std::size_t ready_nodes = 0;
    std::size_t machines = 0;
    std::size_t resources = 0;
    std::size_t pools = 0;
  };
  [[nodiscard]] Counts counts() const;

  // The alarm source of this instance: "kubernetes/<instance>".
  [[nodiscard]] const std::string& alarm_source() const { return alarm_source_; }
  // The keys of every node-condition alarm raised and not cleared, for
  // AlarmSink::retain_only after a full list.
  [[nodiscard]] std::vector<std::string> active_alarm_keys() const;

  // The O2 id of the resource that shows a node (tests and logs).
  [[nodiscard]] std::optional<std::string> resource_id_of_node(const std::string& name) const;

 private:
  struct Host {
    std::string resource_key;  // the machine's uid when there is a machine, else the node's
    std::string pool_key;
    std::string type_key;
    bool has_node = false;
    bool ready = false;
    Quantities allocatable;
    Quantities capacity;
  };
  struct Totals {
    std::size_t nodes = 0;
    std::size_t ready = 0;
    Quantities allocatable;
    Quantities capacity;
    bool operator==(const Totals&) const = default;
  };

  std::string machine_pool_of(const MachineFacts& m) const;
  std::string node_pool_of(const NodeFacts& n) const;
  InventoryObject build_host(const std::string& resource_key, const MachineFacts* machine, NodeFacts* node, Host& host);
  void add_contribution(const Host& h);
  void remove_contribution(const Host& h);
  std::vector<InventoryObject> build_derived();
  std::string pool_key_for_label(const std::string& value) const;
  void diff_alarms(const std::string& node_name, AlarmDelta& out);
  [[nodiscard]] std::string fallback_pool_key() const;

  const AdapterContext& ctx_;
  const KubernetesOptions options_;
  const ClusterAccess access_;
  const O2Ids ids_;
  const NodeLookup lookup_;
  std::string kubernetes_version_;

  std::map<std::string, NodeFacts> nodes_;                            // by node name
  std::map<std::string, MachineFacts> machines_;                      // by "openshift:ns/name" | "capi:ns/name"
  std::map<std::string, MachinePoolFacts> machine_pools_;             // by pool key
  std::unordered_map<std::string, std::set<std::string>> wanted_by_;  // node name -> machines naming it
  std::unordered_map<std::string, std::string> node_to_machine_;      // linked pairs
  std::unordered_map<std::string, std::string> machine_to_node_;

  std::unordered_map<std::string, Host> hosts_;                // published resources by resource key
  std::unordered_map<std::string, std::string> host_of_node_;  // standalone node -> resource key
  std::unordered_map<std::string, std::string> host_of_machine_;
  std::map<std::string, std::size_t> pool_use_;  // pool key -> hosts in it
  std::map<std::string, std::pair<std::size_t, ResourceTypeSpec>> type_use_;
  Totals totals_;

  std::set<std::string> dirty_nodes_;
  std::set<std::string> dirty_machines_;
  bool machine_pools_dirty_ = false;
  bool derived_dirty_ = true;
  std::set<std::pair<Kind, std::string>> derived_published_;
  std::size_t pools_published_ = 0;

  const std::string alarm_source_;
  // The alarms last reported, by node name, then by key.
  std::unordered_map<std::string, std::map<std::string, AlarmReport>> node_alarms_;
};

}  // namespace o2gw::ims
