#include "ims/kubernetes/kubernetes_adapter.hpp"

#include <spdlog/spdlog.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "o2gw/alarms.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Health checks arrive every registry.health_interval_ms; the API server is
// asked at most this often however short that interval is.
constexpr milliseconds kMinProbeInterval{1000};
constexpr milliseconds kDiscoveryRetryInitial{500};
constexpr milliseconds kDiscoveryRetryMax{30000};
// stop() waits this long for the loop to stop the informers before tearing down anyway.
constexpr milliseconds kStopWait{5000};
constexpr milliseconds kWatchErrorGrace{5000};

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_text(const std::filesystem::path& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

k8s::ClusterConfig load_cluster(const KubernetesOptions& o) {
  return o.in_cluster ? k8s::in_cluster_config() : k8s::load_kubeconfig(o.kubeconfig, o.context);
}

ClusterAccess access_of(const k8s::ClusterConfig& c, const KubernetesOptions& o) {
  ClusterAccess a;
  a.server = c.server;
  a.context = c.context;
  // A kubeconfig's certificate-authority-data arrives as PEM in memory, a file path otherwise.
  a.ca_cert_pem = c.tls.ca_pem.empty() ? read_text(c.tls.ca_file) : c.tls.ca_pem;
  if (o.expose_credentials) {
    a.user = c.context;
    a.client_cert_pem = c.tls.client_cert_pem.empty() ? read_text(c.tls.client_cert_file) : c.tls.client_cert_pem;
    a.client_key_pem = c.tls.client_key_pem.empty() ? read_text(c.tls.client_key_file) : c.tls.client_key_pem;
    a.bearer_token = c.bearer_token.empty() ? trim_newlines(read_text(c.token_file)) : c.bearer_token;
  }
  return a;
}

std::string status_text(int status) {
  switch (status) {
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 503: return "503 Service Unavailable";
    default: return std::to_string(status);
  }
}

}  // namespace

std::string describe_cluster_error(const k8s::Error& e, const std::string& server, milliseconds timeout) {
  if (e.status == 0) {
    const std::string message = e.transport ? e.transport->message : e.message;
    if (!e.transport) return "cannot reach " + server + ": " + message;
    switch (e.transport->kind) {
      case net::ClientError::Kind::timeout:
        return "no answer from " + server + " within " + std::to_string(timeout.count()) + " ms";
      case net::ClientError::Kind::tls: return "TLS with " + server + " failed: " + message;
      case net::ClientError::Kind::resolve: return "cannot resolve " + server + ": " + message;
      default: return "cannot reach " + server + ": " + message;
    }
  }
  const std::string what = status_text(e.status) + (e.message.empty() ? "" : ": " + e.message);
  if (e.status == 401) return "API server refused the credentials (" + what + ")";
  if (e.status == 403) return "API server denied access (" + what + "); check the ClusterRole";
  return "API server answered " + what;
}

KubernetesAdapter::KubernetesAdapter(AdapterContext ctx, KubernetesOptions options)
    : ctx_(std::move(ctx)), options_(std::move(options)), cluster_(load_cluster(options_)) {
  if (ctx_.inventory == nullptr) {
    throw std::invalid_argument("kubernetes adapter '" + ctx_.spec.name + "' needs an inventory cache");
  }
}

KubernetesAdapter::~KubernetesAdapter() {
  stop();
}

void KubernetesAdapter::start() {
  started_at_ = std::chrono::steady_clock::now();
  // Runs on the loop (inside delta()), where watches_ is only ever changed.
  auto node_lookup = [this](const std::string& name) -> std::optional<json> {
    for (const auto& w : watches_) {
      if (w.kind == WatchedKind::node) return w.informer->get(name);
    }
    return std::nullopt;
  };
  inventory_ = std::make_unique<ClusterInventory>(ctx_, options_, access_of(cluster_, options_), node_lookup);
  loop_ = std::make_unique<net::EventLoop>(1, "k8s-" + ctx_.spec.name);
  http_ = std::make_unique<net::HttpClient>(*loop_);
  k8s::ClientOptions client_options;
  client_options.qps = options_.qps;
  client_options.burst = options_.burst;
  client_options.timeout = options_.request_timeout;
  client_options.user_agent = std::string("o2gw/") + O2GW_VERSION + " (ims/kubernetes " + ctx_.spec.name + ")";
  client_ = std::make_unique<k8s::Client>(*loop_, *http_, cluster_, client_options);
  {
    std::lock_guard lock(mu_);
    health_ = {true, "listing nodes from " + cluster_.server};
  }
  spdlog::info("adapter {}: watching cluster {} at {}{}", ctx_.spec.name, options_.cluster_name, cluster_.server,
               cluster_.context.empty() ? std::string() : " (context " + cluster_.context + ")");
  loop_->post([this] { begin(); });
}

void KubernetesAdapter::stop() {
  std::lock_guard loop_lock(loop_mu_);
  if (!loop_) return;
  stopping_ = true;
  // Everything that touches the loop's sockets and timers goes on the loop
  // itself, behind whatever handler is running now; handlers queued after this
  // see stopping_ and return without touching anything.
  auto done = std::make_shared<std::promise<void>>();
  auto stopped = done->get_future();
  loop_->post([this, done] {
    for (auto& w : watches_) w.informer->stop();
    for (auto& t : timers_) t.cancel();
    watches_.clear();
    client_.reset();
    http_.reset();
    done->set_value();
  });
  if (stopped.wait_for(kStopWait) != std::future_status::ready) {
    spdlog::warn("adapter {}: the event loop did not stop the watches within {} ms", ctx_.spec.name, kStopWait.count());
  }
  loop_.reset();  // joins the loop's thread: nothing of ours runs after this
  watches_.clear();
  client_.reset();
  http_.reset();
}

bool KubernetesAdapter::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

Health KubernetesAdapter::check_health() {
  // Never blocks: the answer reflects the last probe; a new one is started when due.
  {
    std::lock_guard loop_lock(loop_mu_);
    if (loop_ && !stopping_ && now_ms() - last_probe_ms_.load() >= kMinProbeInterval.count() &&
        !probe_in_flight_.exchange(true)) {
      last_probe_ms_ = now_ms();
      loop_->post([this] { probe(); });
    }
  }
  std::lock_guard lock(mu_);
  return health_;
}

std::string KubernetesAdapter::describe(const k8s::Error& e) const {
  return describe_cluster_error(e, cluster_.server, options_.request_timeout);
}

void KubernetesAdapter::begin() {
  if (stopping_) return;
  watch(WatchedKind::node, k8s::resources::nodes());
  if (options_.machine_pools) {
    discoveries_pending_ = 2;
    discover("machine.openshift.io/v1beta1", "MachineSet", 0);
    discover("cluster.x-k8s.io/v1beta1", "MachineDeployment", 0);
  }
  probe_in_flight_ = true;
  last_probe_ms_ = now_ms();
  probe();
}

// Asks discovery whether the cluster serves a machine API; watches it when it
// does. Not served (404) is an answer; anything else is retried with backoff,
// and the adapter is not synced until every question has an answer.
void KubernetesAdapter::discover(const std::string& api_version, const std::string& kind, int attempt) {
  client_->resolve(
      api_version, kind,
      [this, api_version, kind, attempt](std::optional<k8s::ResourceRef> ref, std::optional<k8s::Error> error) {
        if (stopping_) return;
        if (error && error->status == 403) {
          // Discovery refused is not worth withholding the nodes for: go on without this machine API.
          spdlog::warn("adapter {}: discovery of {} {} refused ({}); its machine pools are off", ctx_.spec.name,
                       api_version, kind, describe(*error));
          error.reset();
        }
        if (error && !error->not_found()) {
          discovery_error_ = "discovery of " + api_version + " " + kind + ": " + describe(*error);
          refresh_health();
          auto delay = std::min(kDiscoveryRetryMax, kDiscoveryRetryInitial * (1 << std::min(attempt, 6)));
          std::erase_if(timers_, [](const net::EventLoop::Timer& t) { return !t.active(); });
          timers_.push_back(loop_->post_after(delay, [this, api_version, kind, attempt] {
            if (!stopping_) discover(api_version, kind, attempt + 1);
          }));
          return;
        }
        discovery_error_.reset();
        if (ref) {
          spdlog::info("adapter {}: the cluster serves {} {}: its machines are resources of their pools",
                       ctx_.spec.name, api_version, kind);
          if (kind == "MachineSet") {
            watch(WatchedKind::openshift_machine_set, k8s::resources::openshift_machine_sets());
            watch(WatchedKind::openshift_machine, k8s::resources::openshift_machines());
          } else {
            watch(WatchedKind::capi_machine_deployment, k8s::resources::capi_machine_deployments());
            watch(WatchedKind::capi_machine_set, k8s::resources::capi_machine_sets());
            watch(WatchedKind::capi_machine, k8s::resources::capi_machines());
          }
        }
        --discoveries_pending_;
        publish_if_ready();
        refresh_health();
      });
}

void KubernetesAdapter::watch(WatchedKind kind, const k8s::ResourceRef& ref) {
  k8s::Informer::Handlers handlers;
  handlers.on_changes = [this, kind](std::span<const k8s::InformerChange> changes) { on_changes(kind, changes); };
  handlers.on_synced = [this, kind] {
    for (auto& w : watches_) {
      if (w.kind == kind) w.synced = true;
    }
    publish_if_ready();
    refresh_health();
  };
  handlers.on_error = [this](const k8s::Error&) { refresh_health(); };
  std::string name = ref.group.empty() ? ref.resource : ref.resource + "." + ref.group;
  auto informer = std::make_unique<k8s::Informer>(*client_, ref, k8s::InformerOptions{}, std::move(handlers));
  k8s::Informer* started = informer.get();
  watches_.push_back(Watch{kind, std::move(name), std::move(informer), false, std::nullopt});
  started->start();
}

void KubernetesAdapter::on_changes(WatchedKind kind, std::span<const k8s::InformerChange> changes) {
  if (stopping_) return;
  inventory_->record(kind, changes);
  if (!published_ || publish_queued_) return;  // the first publication waits for every list
  // Published from a task queued behind the stream reads already waiting on
  // the loop: a burst of events becomes one write to the cache (and one
  // recomputation of pools, types and capacity), a lone event goes at once.
  publish_queued_ = true;
  loop_->post([this] {
    publish_queued_ = false;
    if (!stopping_) publish_changes();
  });
}

void KubernetesAdapter::publish_changes() {
  ClusterInventory::Delta d = inventory_->delta();
  if (!d.empty()) ctx_.inventory->apply(ctx_.spec.name, std::move(d.upserts), d.removals);
  // After the apply: the alarm service finds the node's resource in the cache.
  report_alarms(d.alarms);
  // A relist (410 Gone, repeated watch failures) reconciled into adds, modifies
  // and deletes; still, make sure no alarm of a node we no longer know stays active.
  if (lists_done() != lists_seen_) retain_alarms_after_list();
}

void KubernetesAdapter::report_alarms(const AlarmDelta& alarms) {
  if (ctx_.alarms == nullptr || alarms.empty()) return;
  ims::report_alarms(*ctx_.alarms, inventory_->alarm_source(), alarms, &last_alarm_rejection_);
}

void KubernetesAdapter::retain_alarms_after_list() {
  lists_seen_ = lists_done();
  if (ctx_.alarms == nullptr) return;
  ctx_.alarms->retain_only(inventory_->alarm_source(), inventory_->active_alarm_keys());
}

std::uint64_t KubernetesAdapter::lists_done() const {
  std::uint64_t lists = 0;
  for (const auto& w : watches_) lists += w.informer->stats().lists;
  return lists;
}

void KubernetesAdapter::publish_if_ready() {
  if (published_ || stopping_ || discoveries_pending_ > 0) return;
  for (const auto& w : watches_) {
    if (!w.synced) return;
  }
  ClusterInventory::Delta d = inventory_->delta();
  const std::size_t objects = d.upserts.size();
  ctx_.inventory->replace_source(ctx_.spec.name, std::move(d.upserts));
  published_ = true;
  // Alarms of nodes that went away (or recovered) while the gateway was down clear here.
  report_alarms(d.alarms);
  retain_alarms_after_list();
#if defined(__GLIBC__)
  // The first list of a large cluster passes through several transient copies
  // (the response body, its parse, the change batch: ~100 MB for 5,000 nodes)
  // that glibc would otherwise keep mapped; hand them back once they are freed,
  // after the informer's list handler (our caller) has returned.
  loop_->post([] { malloc_trim(0); });
#endif
  const auto counts = inventory_->counts();
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started_at_).count();
  spdlog::info("adapter {}: synced {} nodes ({} ready), {} machines, {} pools ({} objects) from {} in {} ms",
               ctx_.spec.name, counts.nodes, counts.ready_nodes, counts.machines, counts.pools, objects,
               cluster_.server, took);
  std::lock_guard lock(mu_);
  synced_ = true;
}

void KubernetesAdapter::probe() {
  if (stopping_) {
    probe_in_flight_ = false;
    return;
  }
  client_->version([this](k8s::Result r) {
    probe_in_flight_ = false;
    if (stopping_) return;
    if (r.ok()) {
      probe_error_.reset();
      const json& v = *r.object;
      auto git = v.find("gitVersion");
      if (git != v.end() && git->is_string()) {
        inventory_->set_kubernetes_version(git->get<std::string>());
        if (published_) publish_changes();
      }
    } else if (r.error) {
      probe_error_ = describe(*r.error);
    }
    refresh_health();
  });
}

void KubernetesAdapter::refresh_health() {
  if (stopping_) return;
  std::string problem;
  if (probe_error_) {
    problem = *probe_error_;
  } else if (discovery_error_) {
    problem = *discovery_error_;
  }
  // A watch cut by a load balancer or an API server restart fails once and
  // resumes at once; only an answer that says no (401, 403, 404 ...) or a
  // failure that outlasts kWatchErrorGrace makes the instance unhealthy. An
  // unreachable server shows through the probe anyway.
  const auto now = std::chrono::steady_clock::now();
  for (auto& w : watches_) {
    auto e = w.informer->last_error();
    if (!e) {
      w.failing_since.reset();
      continue;
    }
    if (!w.failing_since) w.failing_since = now;
    if (problem.empty() && (e->status != 0 || now - *w.failing_since >= kWatchErrorGrace)) {
      problem = "watching " + w.resource + ": " + describe(*e);
    }
  }
  const auto counts = inventory_->counts();
  Health h;
  if (!problem.empty()) {
    h.ok = false;
    h.detail = ctx_.spec.name + ": " + problem +
               (published_ ? "; serving the last known inventory (" + std::to_string(counts.nodes) + " nodes)"
                           : std::string("; no inventory yet"));
  } else if (published_) {
    h.detail = std::to_string(counts.nodes) + " nodes (" + std::to_string(counts.ready_nodes) + " ready), " +
               std::to_string(counts.machines) + " machines in " + std::to_string(counts.pools) + " pools from " +
               cluster_.server;
  } else {
    h.detail =
        "listing nodes" + std::string(options_.machine_pools ? " and machines" : "") + " from " + cluster_.server;
  }
  if (!problem.empty() && problem != last_logged_problem_) {
    spdlog::warn("adapter {}: {}", ctx_.spec.name, problem);
  } else if (problem.empty() && !last_logged_problem_.empty()) {
    spdlog::info("adapter {}: {} answers again", ctx_.spec.name, cluster_.server);
  }
  last_logged_problem_ = problem;
  std::lock_guard lock(mu_);
  health_ = std::move(h);
}

namespace {

const AdapterRegistration kKubernetesAdapterRegistration{AdapterFactory{
    Category::ims,
    std::string(kKubernetesAdapterType),
    "Kubernetes cluster nodes (and OpenShift / Cluster API machines) kept current by watches",
    [](const nlohmann::json& config) { (void)KubernetesOptions::parse(config); },
    [](const AdapterContext& ctx) -> std::unique_ptr<Adapter> {
      return std::make_unique<KubernetesAdapter>(ctx, KubernetesOptions::parse(ctx.spec.config, ctx.spec.name));
    },
}};

}  // namespace
}  // namespace o2gw::ims
