// The "kubernetes" IMS adapter's configuration (docs/adapters/kubernetes.md):
// which cluster to watch and how its nodes and machines become O2 pools,
// resources and a deployment manager. Parsed once, strictly.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace o2gw::ims {

inline constexpr std::string_view kKubernetesAdapterType = "kubernetes";
inline constexpr std::string_view kDefaultPoolLabel = "topology.kubernetes.io/zone";

struct KubernetesOptions {
  // Exactly one way to reach the cluster: a kubeconfig file, or the pod's service account.
  std::filesystem::path kubeconfig;
  bool in_cluster = false;
  std::string context;  // kubeconfig context; empty: its current-context

  // Nodes are grouped into pools by this label's value; empty: one pool for the cluster.
  std::string pool_label{kDefaultPoolLabel};
  // Machine sets / deployments (OpenShift Machine API, Cluster API) as pools when served.
  bool machine_pools = true;

  std::string cluster_name;  // default: the adapter instance's name
  std::string site;          // the oCloudSite name; default: cluster_name
  std::string location;      // the site's globalLocationId; default: cluster_name
  bool expose_credentials = false;

  int qps = 50;
  int burst = 100;
  std::chrono::milliseconds request_timeout{10000};

  // Validates the adapter's config section; throws ConfigError naming the key.
  // Defaults that depend on the instance (cluster_name, site, location) are
  // filled from `instance_name` when it is given.
  static KubernetesOptions parse(const nlohmann::json& config, const std::string& instance_name = "");
};

// True when `key` is a valid Kubernetes label key: an optional DNS-subdomain
// prefix and '/', then a name of at most 63 alphanumerics, '-', '_' or '.'.
bool is_label_key(std::string_view key);

}  // namespace o2gw::ims
