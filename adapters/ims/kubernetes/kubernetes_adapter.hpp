// IMS adapter "kubernetes": one Kubernetes cluster's nodes (and OpenShift or
// Cluster API machines) as O2 resources, pools, types and a deployment
// manager, kept current by watches (docs/adapters/kubernetes.md). Each
// instance owns its event loop, HTTP client and Kubernetes client, so one
// unreachable cluster never slows another.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ims/kubernetes/cluster_inventory.hpp"
#include "ims/kubernetes/kubernetes_options.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/k8s.hpp"
#include "o2gw/registry.hpp"

namespace o2gw::ims {

// One line saying why a call to the API server failed, for health and logs:
// "API server refused the credentials (401 Unauthorized: ...)", "cannot reach
// https://...: connection refused", ...
std::string describe_cluster_error(const k8s::Error& e, const std::string& server, std::chrono::milliseconds timeout);

class KubernetesAdapter final : public Adapter {
 public:
  // Reads the kubeconfig or the in-cluster service account; throws
  // k8s::ConfigError (the registry then marks the instance failed).
  KubernetesAdapter(AdapterContext ctx, KubernetesOptions options);
  ~KubernetesAdapter() override;
  KubernetesAdapter(const KubernetesAdapter&) = delete;
  KubernetesAdapter& operator=(const KubernetesAdapter&) = delete;

  void start() override;
  void stop() override;
  Health check_health() override;
  [[nodiscard]] bool synced() const override;

 private:
  struct Watch {
    WatchedKind kind;
    std::string resource;  // "nodes", "machinesets.machine.openshift.io" ... for messages
    std::unique_ptr<k8s::Informer> informer;
    bool synced = false;
    std::optional<std::chrono::steady_clock::time_point> failing_since;
  };

  // Everything below marked "loop" runs on loop_'s single thread only.
  void begin();                                                                         // loop
  void discover(const std::string& api_version, const std::string& kind, int attempt);  // loop
  void watch(WatchedKind kind, const k8s::ResourceRef& ref);                            // loop
  void on_changes(WatchedKind kind, std::span<const k8s::InformerChange> changes);      // loop
  void publish_if_ready();                                                              // loop
  void publish_changes();                                                               // loop
  void report_alarms(const AlarmDelta& alarms);                                         // loop
  void retain_alarms_after_list();                                                      // loop
  [[nodiscard]] std::uint64_t lists_done() const;                                       // loop
  void probe();                                                                         // loop
  void refresh_health();                                                                // loop
  [[nodiscard]] std::string describe(const k8s::Error& e) const;

  const AdapterContext ctx_;
  const KubernetesOptions options_;
  const k8s::ClusterConfig cluster_;

  std::mutex loop_mu_;  // guards loop_ against stop() (never taken on the loop)
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<net::HttpClient> http_;
  std::unique_ptr<k8s::Client> client_;
  std::unique_ptr<ClusterInventory> inventory_;  // loop
  std::vector<Watch> watches_;                   // loop
  int discoveries_pending_ = 0;                  // loop
  std::optional<std::string> discovery_error_;   // loop
  std::optional<std::string> probe_error_;       // loop
  bool published_ = false;                       // loop
  bool publish_queued_ = false;                  // loop
  std::uint64_t lists_seen_ = 0;                 // loop: informer lists at the last retain_only
  std::string last_alarm_rejection_;             // loop
  std::chrono::steady_clock::time_point started_at_;
  std::vector<net::EventLoop::Timer> timers_;  // loop: discovery retries

  std::atomic<bool> stopping_{false};
  std::atomic<bool> probe_in_flight_{false};
  std::atomic<std::int64_t> last_probe_ms_{0};  // steady clock, ms

  mutable std::mutex mu_;  // guards the two below
  bool synced_ = false;
  Health health_{true, "starting"};
  std::string last_logged_problem_;  // loop
};

}  // namespace o2gw::ims
