// The Kubernetes API client: configuration (kubeconfig, in-cluster), async REST
// calls over the pooled net::HttpClient, watch streams, and an informer-style
// cache per watched resource that survives dropped connections and expired
// resource versions. The Kubernetes IMS adapter uses it today; the Helm, Argo CD,
// Flux, Kustomize and Crossplane adapters will use it later. Beast and Asio stay
// in src/: callers see only these types.
//
// Threading: every callback runs on one of the EventLoop's threads. Objects are
// unstructured (nlohmann::json) so CRDs need no code; core/v1 has typed helpers.
//
// Split: the parsers (kubeconfig, quantities, Status, watch framing, the cache
// reconcile) are library o2gw_k8s_parse, free of sockets so the fuzz build has
// them; the client and informer are o2gw_k8s (over o2gw_net).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/http_client.hpp"

namespace o2gw::k8s {

// ---------------------------------------------------------------------------
// Configuration

// A kubeconfig or in-cluster problem: the message names the file, context or
// field and never contains credential material.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ClusterConfig {
  std::string server;        // "https://host:port" (no trailing slash)
  std::string context;       // the kubeconfig context used (empty in-cluster)
  std::string namespace_;    // the context's default namespace ("default")
  net::TlsOptions tls;       // CA, client certificate and key; verify=false only for insecure-skip-tls-verify
  std::string bearer_token;  // a static token (never logged)
  // A token file (in-cluster service account, or kubeconfig tokenFile): re-read
  // when its modification time changes, so a rotated token is picked up.
  std::filesystem::path token_file;
  // Basic auth is deliberately unsupported (removed from Kubernetes in 1.19).
};

// Reads a kubeconfig (YAML). `context` empty selects current-context. Inline
// *-data fields are decoded into PEM held in memory (net::TlsOptions' *_pem);
// relative file paths resolve against the kubeconfig's directory.
// Not supported (a ConfigError saying so): exec and auth-provider credential
// plugins, basic auth, impersonation, proxy-url. Throws ConfigError.
ClusterConfig load_kubeconfig(const std::filesystem::path& file, const std::string& context = {});

// The same from text: `base_dir` resolves relative paths, `source` names the
// document in error messages.
ClusterConfig parse_kubeconfig(std::string_view yaml, const std::filesystem::path& base_dir,
                               const std::string& context = {}, std::string_view source = "kubeconfig");

// In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the service
// account directory (token, ca.crt, namespace). `sa_dir` is a parameter for tests.
// Throws ConfigError.
ClusterConfig in_cluster_config(const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// ---------------------------------------------------------------------------
// Resources and errors

// A group/version/resource, with what discovery says about it.
struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower-case: "nodes"
  std::string kind;      // "Node"
  bool namespaced = false;

  [[nodiscard]] std::string api_version() const;  // "v1" or "apps/v1"
  // "/api/v1/nodes", "/apis/apps/v1/namespaces/ns/deployments/name" ...
  [[nodiscard]] std::string path(std::string_view ns = {}, std::string_view name = {}) const;
};

// Well-known resources (no discovery needed).
namespace resources {
ResourceRef nodes();
ResourceRef namespaces();
ResourceRef pods();
ResourceRef config_maps();
ResourceRef secrets();
ResourceRef services();
ResourceRef openshift_machine_sets();    // machine.openshift.io/v1beta1 machinesets
ResourceRef openshift_machines();        // machine.openshift.io/v1beta1 machines
ResourceRef capi_machine_deployments();  // cluster.x-k8s.io/v1beta1 machinedeployments
ResourceRef capi_machine_sets();         // cluster.x-k8s.io/v1beta1 machinesets
ResourceRef capi_machines();             // cluster.x-k8s.io/v1beta1 machines
}  // namespace resources

// Why a call failed: either the transport (status 0, `transport` set) or the API
// server's answer (status and its Status object's reason and message).
struct Error {
  int status = 0;                             // HTTP status; 0 for transport errors
  std::optional<net::ClientError> transport;  // set when no response arrived
  std::string reason;                         // Status.reason: "NotFound", "Conflict", "Expired"...
  std::string message;                        // Status.message, or the transport's message
  // Seconds the server asked us to wait (Retry-After, Status.details.retryAfterSeconds); 0 if none.
  int retry_after_seconds = 0;
  [[nodiscard]] std::string describe() const;  // one line, safe to log
  [[nodiscard]] bool not_found() const { return status == 404; }
  [[nodiscard]] bool conflict() const { return status == 409; }
  [[nodiscard]] bool gone() const { return status == 410; }
  [[nodiscard]] bool unauthorized() const { return status == 401 || status == 403; }
};

// Exactly one of object / error is set.
struct Result {
  std::optional<nlohmann::json> object;  // the returned object (a List for list calls)
  std::optional<Error> error;
  [[nodiscard]] bool ok() const { return object.has_value(); }
};
using Callback = std::function<void(Result)>;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;  // 0: no paging
  std::string continue_token;
  std::string resource_version;  // "" (most recent), "0" (any), or a version
};

struct ClientOptions {
  double qps = 50;  // client-side rate limit (token bucket), like client-go's defaults x10; <= 0: none
  int burst = 100;
  // Every non-watch request's deadline, time spent waiting for the rate limiter
  // included; for a watch, the deadline for its response head.
  std::chrono::milliseconds timeout{10000};
  std::string user_agent = "o2gw";
  std::size_t max_response_bytes = std::size_t{512} << 20;  // an unpaged list of a big cluster is large
};

// ---------------------------------------------------------------------------
// The client

struct WatchEvent {
  enum class Type { added, modified, deleted, bookmark, error };
  Type type = Type::added;
  nlohmann::json object;  // the object; for error, the Status object
};
std::string_view watch_event_type_name(WatchEvent::Type t);  // "ADDED", ...

struct WatchOptions {
  // Start after this version. "" or "0": the API server first replays the current
  // state as ADDED events ("" from a consistent read, "0" from its cache), then
  // streams changes: to see only changes, pass the version a list returned.
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // server-side timeoutSeconds; the stream then ends normally
  // A stream silent for this long is dead (on_closed with a timeout error).
  // 0: timeout + 30 s (bookmarks keep a healthy stream from being silent that
  // long), or no limit when timeout is 0 too.
  std::chrono::milliseconds idle_timeout{0};
};

// A running watch; destroying or cancelling it closes the stream. No callback
// runs after cancel() returns (one running on another thread is waited for).
class WatchHandle {
 public:
  WatchHandle() = default;
  ~WatchHandle();
  WatchHandle(WatchHandle&&) noexcept;
  WatchHandle& operator=(WatchHandle&&) noexcept;
  void cancel();
  [[nodiscard]] bool active() const;

 private:
  friend class Client;
  std::shared_ptr<struct WatchState> state_;
};

class Client {
 public:
  Client(net::EventLoop& loop, net::HttpClient& http, ClusterConfig config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] const ClusterConfig& config() const;
  [[nodiscard]] net::EventLoop& loop() const;  // where callbacks run (the Informer's timers too)

  // `ns` is ignored for cluster-scoped resources and required for namespaced
  // ones (except list/watch, where empty means all namespaces).
  void get(const ResourceRef& r, std::string_view ns, std::string_view name, Callback done);
  // One page (limit/continue as given).
  void list(const ResourceRef& r, std::string_view ns, ListOptions options, Callback done);
  // Every page, following `continue`; the result is a List whose `items` holds
  // them all and whose metadata.resourceVersion is the version to watch from.
  // A 410 on a continue token restarts from the first page once.
  void list_all(const ResourceRef& r, std::string_view ns, ListOptions options, Callback done);
  void create(const ResourceRef& r, std::string_view ns, nlohmann::json object, Callback done);
  // PUT; a stale metadata.resourceVersion is the API server's 409.
  void update(const ResourceRef& r, std::string_view ns, nlohmann::json object, Callback done);
  // application/merge-patch+json
  void merge_patch(const ResourceRef& r, std::string_view ns, std::string_view name, nlohmann::json patch,
                   Callback done);
  // Server-side apply: application/apply-patch+yaml (JSON is valid YAML) with fieldManager.
  void apply(const ResourceRef& r, std::string_view ns, nlohmann::json object, std::string_view field_manager,
             bool force, Callback done);
  void remove(const ResourceRef& r, std::string_view ns, std::string_view name, Callback done);

  // GET /version.
  void version(Callback done);
  // Resolves an apiVersion + kind to a resource through discovery (cached per
  // group/version; a miss refreshes once). Error 404 when the kind is not served.
  // api_version may be "group/version", a core version ("v1"), a group alone
  // ("apps": its preferred version, from /apis) or "" (the core group, then
  // every group's preferred version). `kind` may also be the plural resource name.
  void resolve(std::string_view api_version, std::string_view kind,
               std::function<void(std::optional<ResourceRef>, std::optional<Error>)> done);

  // Streams watch events (?watch=1, JSON lines). on_event runs for each event in
  // order; on_closed runs once when the stream ends (normally: no error; or with
  // the error; a 410 arrives either as the status or as an ERROR event carrying
  // a Status with code 410, which is passed to on_event first).
  WatchHandle watch(const ResourceRef& r, std::string_view ns, WatchOptions options,
                    std::function<void(const WatchEvent&)> on_event,
                    std::function<void(std::optional<Error>)> on_closed);
  // The same, delivering the events decoded from one read of the stream
  // together; the callee may move the objects out (the Informer does). Requests
  // and watch starts share the client-side rate limit.
  WatchHandle watch_batches(const ResourceRef& r, std::string_view ns, WatchOptions options,
                            std::function<void(std::vector<WatchEvent>& events)> on_events,
                            std::function<void(std::optional<Error>)> on_closed);

  // Forgets the discovery cache (after a CRD was installed or removed).
  void invalidate_discovery();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Informer: list + watch kept consistent

struct InformerChange {
  enum class Type { added, modified, deleted };
  Type type = Type::added;
  std::string key;        // "namespace/name" or "name"
  nlohmann::json object;  // the new object; for deleted, its final state (the last known after a relist)
  nlohmann::json old;     // modified/deleted: the previously cached state; added: null
};

struct InformerOptions {
  std::string ns;  // "" = all namespaces / cluster-scoped
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;  // list paging
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::seconds watch_timeout{300};
  // Drop metadata.managedFields from cached objects (and from the changes): it
  // is often a third of an object and nothing in o2gw reads it.
  bool strip_managed_fields = true;
};

struct InformerStats {
  std::uint64_t lists = 0;        // full lists (initial + relists)
  std::uint64_t relists_410 = 0;  // relists caused by an expired resourceVersion
  std::uint64_t watches = 0;      // watch streams opened
  std::uint64_t events = 0;       // watch events applied
  std::uint64_t bookmarks = 0;
  std::uint64_t errors = 0;  // failed list/watch attempts
};

// Keeps a local copy of every object of one resource. Stop (or destroy) it
// before the Client it uses. The initial list is delivered as one batch of
// `added`; afterwards each watch event becomes one change (consecutive events
// of one stream read are batched). After a watch drop it resumes from the last
// seen resourceVersion (bookmarks included), with exponential backoff and
// jitter on errors; on 410 Gone (or after three failed watch attempts in a row)
// it lists again and reconciles: the batch holds exactly the adds, modifies
// (resourceVersion differs) and deletes between the old and the new state, so
// a consumer sees no lost and no duplicate change.
class Informer {
 public:
  struct Handlers {
    std::function<void(std::span<const InformerChange>)> on_changes;
    std::function<void()> on_synced;             // after the first complete list
    std::function<void(const Error&)> on_error;  // each failed attempt (then retried with backoff)
  };
  Informer(Client& client, ResourceRef resource, InformerOptions options, Handlers handlers);
  ~Informer();  // stops
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();
  // Returns promptly; no handler runs after it returns (one running on another
  // thread is waited for, so do not call stop() holding a lock a handler takes).
  void stop();
  [[nodiscard]] bool synced() const;
  [[nodiscard]] std::vector<nlohmann::json> snapshot() const;  // current objects, key order
  [[nodiscard]] std::optional<nlohmann::json> get(const std::string& key) const;
  [[nodiscard]] std::string resource_version() const;     // last seen
  [[nodiscard]] std::optional<Error> last_error() const;  // cleared by the next success
  [[nodiscard]] InformerStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Typed core/v1 helpers (read-only views over the JSON)

struct ObjectMeta {
  std::string name, ns, uid, resource_version;
  std::map<std::string, std::string> labels, annotations;
  static ObjectMeta from(const nlohmann::json& object);
};

struct NodeCondition {
  std::string type, status, reason, message, last_transition_time;
};
struct NodeTaint {
  std::string key, value, effect;
};
struct NodeAddress {
  std::string type, address;
};

// core/v1 Node, the fields o2gw uses. Quantities are kept as the API's strings.
struct Node {
  ObjectMeta metadata;
  std::string provider_id;
  bool unschedulable = false;
  std::vector<NodeTaint> taints;
  std::map<std::string, std::string> capacity, allocatable;
  std::vector<NodeCondition> conditions;
  std::vector<NodeAddress> addresses;
  // status.nodeInfo
  std::string machine_id, system_uuid, boot_id, kernel_version, os_image, container_runtime_version, kubelet_version,
      operating_system, architecture;
  [[nodiscard]] bool ready() const;  // condition Ready == "True"
  static Node from(const nlohmann::json& object);
};

// Parses a resource quantity ("250m", "4Gi", "1e3", "16") to a number in base
// units (cores, bytes); nullopt when malformed.
std::optional<double> parse_quantity(std::string_view q);

// ---------------------------------------------------------------------------
// Building blocks of the client and informer, public for tests and fuzzing.

// The bearer token to send: the token file's content when there is one (re-read
// when its modification time or size changes; the last good value is kept if a
// read fails), else the static token. Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const ClusterConfig& config);
  [[nodiscard]] std::string token();
  void invalidate();  // after a 401: read the file again next time whatever its stamp

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// An Error from an API server response: the Status object in the body when there
// is one, else a reason derived from the HTTP status.
Error error_from_response(int status, std::string_view body);
// An Error from a Status object (a watch ERROR event); `fallback_status` when it has no code.
Error error_from_status(const nlohmann::json& status, int fallback_status = 500);
Error error_from_transport(const net::ClientError& e);

// Splits a watch stream into events: JSON objects one per line, a line possibly
// split across chunks and several lines in one chunk.
class WatchDecoder {
 public:
  explicit WatchDecoder(std::size_t max_line_bytes = std::size_t{64} << 20) : max_line_(max_line_bytes) {}
  // Decodes every complete line of `chunk` (with what was buffered) into `out`.
  // Returns false on a malformed event or an over-long line (error() says which;
  // the events decoded before it are in `out`). Not usable after a failure.
  bool feed(std::string_view chunk, std::vector<WatchEvent>& out);
  // At the end of the stream: a last line without its newline.
  bool finish(std::vector<WatchEvent>& out);
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::size_t buffered() const { return partial_.size(); }

 private:
  bool decode(std::string_view line, std::vector<WatchEvent>& out);
  std::size_t max_line_;
  std::string partial_;
  std::string error_;
};

// Client-side rate limit: `burst` tokens, refilled at `qps` per second.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double qps, int burst, Clock::time_point now = Clock::now());
  bool try_take(Clock::time_point now);                                  // takes a token if one is there
  [[nodiscard]] Clock::duration wait_time(Clock::time_point now) const;  // until one is (0: now)

 private:
  void refill(Clock::time_point now);
  double qps_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// "namespace/name" or "name".
std::string object_key(const nlohmann::json& object);

// An informer's objects by key.
using ObjectCache = std::map<std::string, nlohmann::json>;

// Replaces the cache's content with a full list and returns the difference in
// key order: added (new keys), modified (metadata.resourceVersion differs) and
// deleted (keys gone; object and old are the last known state).
std::vector<InformerChange> reconcile(ObjectCache& cache, std::vector<nlohmann::json> items);

// Applies one ADDED/MODIFIED/DELETED watch event, appending the change it makes
// (none for a replay of the version already cached, or a delete of an unknown
// key). ADDED of a known key is a modification, MODIFIED of an unknown one an
// addition. Bookmarks and errors change nothing. The event's object is moved from.
void apply_watch_event(ObjectCache& cache, WatchEvent& event, std::vector<InformerChange>& changes);

// The resources of an APIResourceList (discovery of one group/version),
// subresources left out.
std::vector<ResourceRef> parse_api_resources(const nlohmann::json& list);

}  // namespace o2gw::k8s
