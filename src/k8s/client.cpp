// The Kubernetes REST client: requests through a client-side token bucket onto
// the pooled net::HttpClient, watch streams decoded as they arrive, and
// discovery of group/version resources (cached).
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>

#include "o2gw/http.hpp"
#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// TokenBucket

TokenBucket::TokenBucket(double qps, int burst, Clock::time_point now)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  last_ = now;
}

bool TokenBucket::try_take(Clock::time_point now) {
  if (qps_ <= 0) return true;
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

TokenBucket::Clock::duration TokenBucket::wait_time(Clock::time_point now) const {
  if (qps_ <= 0) return Clock::duration::zero();
  double tokens = tokens_;
  if (now > last_) tokens = std::min(burst_, tokens + std::chrono::duration<double>(now - last_).count() * qps_);
  if (tokens >= 1.0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>((1.0 - tokens) / qps_));
}

// ---------------------------------------------------------------------------

namespace {

Error local_error(std::string message) {
  Error e;
  e.transport = net::ClientError{net::ClientError::Kind::bad_url, message};
  e.reason = "BadRequest";
  e.message = std::move(message);
  return e;
}

Result failed(Error e) {
  Result r;
  r.error = std::move(e);
  return r;
}

void add_param(std::string& target, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += http::percent_encode(value);
}

std::string meta_string(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return {};
  auto v = m->find(key);
  return v != m->end() && v->is_string() ? v->get<std::string>() : std::string();
}

// "v1", "v2beta1": a version of the core group rather than a group name.
bool looks_like_version(std::string_view s) {
  if (s.size() < 2 || s[0] != 'v' || s[1] < '1' || s[1] > '9') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::optional<ResourceRef> find_kind(const std::vector<ResourceRef>& resources, std::string_view kind) {
  for (const auto& r : resources) {
    if (r.kind == kind) return r;
  }
  for (const auto& r : resources) {
    if (r.resource == kind) return r;  // a plural resource name works too
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------
// Client::Impl

struct Client::Impl : std::enable_shared_from_this<Impl> {
  struct ListAllOp;
  struct KindSearch;
  using Go = std::function<void(std::optional<Error>)>;
  using ResourcesDone = std::function<void(std::optional<std::vector<ResourceRef>>, std::optional<Error>)>;

  Impl(net::EventLoop& l, net::HttpClient& h, ClusterConfig c, ClientOptions o)
      : loop(l),
        http(h),
        config(std::move(c)),
        options(std::move(o)),
        tokens(config),
        bucket(options.qps, options.burst) {}

  net::EventLoop& loop;
  net::HttpClient& http;
  const ClusterConfig config;
  const ClientOptions options;
  TokenSource tokens;

  std::mutex mu;  // the limiter and its queue
  TokenBucket bucket;
  std::deque<Go> waiting;
  bool timer_armed = false;
  net::EventLoop::Timer timer;
  bool closed = false;

  std::mutex discovery_mu;
  std::map<std::string, std::vector<ResourceRef>> discovered;  // by groupVersion
  std::optional<json> group_list;                              // GET /apis

  static Error closed_error() {
    Error e;
    e.transport = net::ClientError{net::ClientError::Kind::protocol, "the Kubernetes client was shut down"};
    e.message = e.transport->message;
    return e;
  }

  bool is_closed() {
    std::lock_guard lock(mu);
    return closed;
  }

  // Runs go(nullopt) on the loop once the token bucket allows, in arrival order;
  // go(error) if the client shuts down first.
  void admit(Go go) {
    std::unique_lock lock(mu);
    if (closed) {
      lock.unlock();
      loop.post([go = std::move(go)] { go(closed_error()); });
      return;
    }
    auto now = Clock::now();
    if (waiting.empty() && bucket.try_take(now)) {
      lock.unlock();
      loop.post([go = std::move(go)] { go(std::nullopt); });
      return;
    }
    waiting.push_back(std::move(go));
    arm_locked(now);
  }

  void arm_locked(Clock::time_point now) {
    if (timer_armed || waiting.empty()) return;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(bucket.wait_time(now));
    timer_armed = true;
    timer = loop.post_after(std::max(wait, std::chrono::milliseconds(1)), [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  void on_timer() {
    std::vector<Go> ready;
    {
      std::lock_guard lock(mu);
      timer_armed = false;
      if (closed) return;
      auto now = Clock::now();
      while (!waiting.empty() && bucket.try_take(now)) {
        ready.push_back(std::move(waiting.front()));
        waiting.pop_front();
      }
      arm_locked(now);
    }
    for (auto& go : ready) go(std::nullopt);
  }

  void close() {
    std::deque<Go> dropped;
    {
      std::lock_guard lock(mu);
      closed = true;
      dropped.swap(waiting);
      timer.cancel();
    }
    for (auto& go : dropped) {
      loop.post([go = std::move(go)] { go(closed_error()); });
    }
  }

  std::vector<http::Header> headers(std::string_view content_type) {
    std::vector<http::Header> h;
    h.push_back({"Accept", "application/json"});
    if (!content_type.empty()) h.push_back({"Content-Type", std::string(content_type)});
    if (!options.user_agent.empty()) h.push_back({"User-Agent", options.user_agent});
    std::string token = tokens.token();
    if (!token.empty()) h.push_back({"Authorization", "Bearer " + token});
    return h;
  }

  // One request: rate limited, under one deadline from now.
  void call(http::Method method, std::string target, std::string body, std::string content_type, Callback done) {
    auto deadline = Clock::now() + options.timeout;
    admit([self = shared_from_this(), method, target = std::move(target), body = std::move(body),
           content_type = std::move(content_type), deadline,
           done = std::move(done)](std::optional<Error> refused) mutable {
      if (!refused && self->is_closed()) refused = closed_error();
      if (refused) {
        done(failed(std::move(*refused)));
        return;
      }
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (remaining.count() <= 0) {
        done(failed(error_from_transport(
            {net::ClientError::Kind::timeout, "timed out after " + std::to_string(self->options.timeout.count()) +
                                                  " ms waiting for the client-side rate limit"})));
        return;
      }
      net::ClientRequest req;
      req.method = method;
      req.url = self->config.server + target;
      req.headers = self->headers(body.empty() ? std::string_view() : std::string_view(content_type));
      req.body = std::move(body);
      req.timeout = remaining;
      req.max_response_bytes = self->options.max_response_bytes;
      auto* impl = self.get();
      impl->http.request(std::move(req), impl->config.tls,
                         [self = std::move(self), done = std::move(done)](net::ClientResult r) mutable {
                           done(self->to_result(std::move(r)));
                         });
    });
  }

  Result to_result(net::ClientResult r) {
    if (r.error) return failed(error_from_transport(*r.error));
    auto& res = *r.response;
    if (res.status < 200 || res.status >= 300) {
      if (res.status == 401) tokens.invalidate();
      Error e = error_from_response(res.status, res.body);
      if (auto retry = res.header("Retry-After"); !retry.empty() && e.retry_after_seconds == 0) {
        int seconds = 0;
        for (char c : retry) seconds = (c >= '0' && c <= '9' && seconds < 3600) ? seconds * 10 + (c - '0') : seconds;
        e.retry_after_seconds = seconds;
      }
      return failed(std::move(e));
    }
    Result out;
    if (res.body.empty()) {
      out.object = json::object();
      return out;
    }
    json parsed = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      Error e;
      e.status = res.status;
      e.reason = "InvalidResponse";
      e.message = "the response body is not JSON";
      return failed(std::move(e));
    }
    out.object = std::move(parsed);
    return out;
  }

  void post_error(Callback done, Error e) {
    loop.post([done = std::move(done), e = std::move(e)]() mutable { done(failed(std::move(e))); });
  }

  // --- discovery

  void resources_for(const std::string& group_version, bool refresh, ResourcesDone done) {
    if (!refresh) {
      std::lock_guard lock(discovery_mu);
      auto it = discovered.find(group_version);
      if (it != discovered.end()) {
        loop.post([done = std::move(done), list = it->second]() mutable { done(std::move(list), std::nullopt); });
        return;
      }
    }
    std::string path =
        group_version.find('/') == std::string::npos ? "/api/" + group_version : "/apis/" + group_version;
    call(http::Method::get, path, {}, {}, [self = shared_from_this(), group_version, done = std::move(done)](Result r) {
      if (!r.ok()) {
        done(std::nullopt, std::move(r.error));
        return;
      }
      auto list = parse_api_resources(*r.object);
      {
        std::lock_guard lock(self->discovery_mu);
        self->discovered[group_version] = list;
      }
      done(std::move(list), std::nullopt);
    });
  }

  // GET /apis (cached): every group with its preferred version.
  void groups(std::function<void(std::optional<json>, std::optional<Error>)> done) {
    {
      std::lock_guard lock(discovery_mu);
      if (group_list) {
        loop.post([done = std::move(done), g = *group_list]() mutable { done(std::move(g), std::nullopt); });
        return;
      }
    }
    call(http::Method::get, "/apis", {}, {}, [self = shared_from_this(), done = std::move(done)](Result r) {
      if (!r.ok()) {
        done(std::nullopt, std::move(r.error));
        return;
      }
      {
        std::lock_guard lock(self->discovery_mu);
        self->group_list = *r.object;
      }
      done(std::move(r.object), std::nullopt);
    });
  }
};

// Resolving a kind without a version walks the core group and then every group's
// preferred version, one discovery document at a time, until one serves it.
struct Client::Impl::KindSearch : std::enable_shared_from_this<KindSearch> {
  std::shared_ptr<Impl> impl;
  std::string kind;
  std::vector<std::string> group_versions;
  std::size_t next = 0;
  std::function<void(std::optional<ResourceRef>, std::optional<Error>)> done;

  void step() {
    if (next >= group_versions.size()) {
      Error e;
      e.status = 404;
      e.reason = "NotFound";
      e.message = "no API group serves kind " + kind;
      done(std::nullopt, std::move(e));
      return;
    }
    impl->resources_for(
        group_versions[next++], false,
        [self = shared_from_this()](std::optional<std::vector<ResourceRef>> list, std::optional<Error>) {
          // A group that fails discovery (an aggregated API down) is skipped.
          if (list) {
            if (auto found = find_kind(*list, self->kind)) {
              self->done(std::move(found), std::nullopt);
              return;
            }
          }
          self->step();
        });
  }
};

// ---------------------------------------------------------------------------
// Client

Client::Client(net::EventLoop& loop, net::HttpClient& http, ClusterConfig config, ClientOptions options)
    : impl_(std::make_shared<Impl>(loop, http, std::move(config), std::move(options))) {}

Client::~Client() {
  impl_->close();
}

const ClusterConfig& Client::config() const {
  return impl_->config;
}

net::EventLoop& Client::loop() const {
  return impl_->loop;
}

namespace {

// The namespace segment for a call: ignored for cluster-scoped resources.
std::optional<std::string> namespace_for(const ResourceRef& r, std::string_view ns, const json* object) {
  if (!r.namespaced) return std::string();
  if (!ns.empty()) return std::string(ns);
  if (object != nullptr) {
    std::string from_object = meta_string(*object, "namespace");
    if (!from_object.empty()) return from_object;
  }
  return std::nullopt;
}

}  // namespace

void Client::get(const ResourceRef& r, std::string_view ns, std::string_view name, Callback done) {
  auto n = namespace_for(r, ns, nullptr);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  if (name.empty()) return impl_->post_error(std::move(done), local_error("get needs a name"));
  impl_->call(http::Method::get, r.path(*n, name), {}, {}, std::move(done));
}

namespace {

std::string list_target(const ResourceRef& r, std::string_view ns, const ListOptions& options) {
  std::string target = r.path(r.namespaced ? ns : std::string_view());
  add_param(target, "labelSelector", options.label_selector);
  add_param(target, "fieldSelector", options.field_selector);
  if (options.limit > 0) add_param(target, "limit", std::to_string(options.limit));
  add_param(target, "continue", options.continue_token);
  add_param(target, "resourceVersion", options.resource_version);
  return target;
}

}  // namespace

void Client::list(const ResourceRef& r, std::string_view ns, ListOptions options, Callback done) {
  impl_->call(http::Method::get, list_target(r, ns, options), {}, {}, std::move(done));
}

// Follows `continue` tokens, gathering the items of every page.
struct Client::Impl::ListAllOp : std::enable_shared_from_this<ListAllOp> {
  std::shared_ptr<Impl> impl;
  ResourceRef resource;
  std::string ns;
  ListOptions options;
  Callback done;
  json items = json::array();
  bool restarted = false;

  void page(std::string continue_token) {
    ListOptions o = options;
    o.continue_token = std::move(continue_token);
    bool continuing = !o.continue_token.empty();
    impl->call(http::Method::get, list_target(resource, ns, o), {}, {},
               [self = shared_from_this(), continuing](Result r) { self->on_page(std::move(r), continuing); });
  }

  void on_page(Result r, bool continuing) {
    if (!r.ok()) {
      // The continue token expired (compaction): start over once, from a fresh snapshot.
      if (continuing && r.error->gone() && !restarted) {
        restarted = true;
        items = json::array();
        page({});
        return;
      }
      done(std::move(r));
      return;
    }
    json& list = *r.object;
    if (auto it = list.find("items"); it != list.end() && it->is_array()) {
      if (items.empty()) {
        items = std::move(*it);
      } else {
        for (auto& item : *it) items.push_back(std::move(item));
      }
    }
    std::string next = list.contains("metadata") ? meta_string(list, "continue") : std::string();
    if (!next.empty()) {
      page(std::move(next));
      return;
    }
    list["items"] = std::move(items);
    if (auto m = list.find("metadata"); m != list.end() && m->is_object()) {
      m->erase("continue");
      m->erase("remainingItemCount");
    }
    done(std::move(r));
  }
};

void Client::list_all(const ResourceRef& r, std::string_view ns, ListOptions options, Callback done) {
  auto op = std::make_shared<Impl::ListAllOp>();
  op->impl = impl_;
  op->resource = r;
  op->ns = std::string(ns);
  op->options = std::move(options);
  op->done = std::move(done);
  std::string first = std::move(op->options.continue_token);
  op->options.continue_token.clear();
  op->page(std::move(first));
}

void Client::create(const ResourceRef& r, std::string_view ns, json object, Callback done) {
  auto n = namespace_for(r, ns, &object);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  impl_->call(http::Method::post, r.path(*n), object.dump(), "application/json", std::move(done));
}

void Client::update(const ResourceRef& r, std::string_view ns, json object, Callback done) {
  auto n = namespace_for(r, ns, &object);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  std::string name = meta_string(object, "name");
  if (name.empty()) return impl_->post_error(std::move(done), local_error("update needs metadata.name"));
  impl_->call(http::Method::put, r.path(*n, name), object.dump(), "application/json", std::move(done));
}

void Client::merge_patch(const ResourceRef& r, std::string_view ns, std::string_view name, json patch, Callback done) {
  auto n = namespace_for(r, ns, nullptr);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  if (name.empty()) return impl_->post_error(std::move(done), local_error("merge_patch needs a name"));
  impl_->call(http::Method::patch, r.path(*n, name), patch.dump(), "application/merge-patch+json", std::move(done));
}

void Client::apply(const ResourceRef& r, std::string_view ns, json object, std::string_view field_manager, bool force,
                   Callback done) {
  if (!object.is_object()) return impl_->post_error(std::move(done), local_error("apply needs an object"));
  auto n = namespace_for(r, ns, &object);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  std::string name = meta_string(object, "name");
  if (name.empty()) return impl_->post_error(std::move(done), local_error("apply needs metadata.name"));
  if (field_manager.empty()) return impl_->post_error(std::move(done), local_error("apply needs a field manager"));
  // Apply requires apiVersion and kind in the body; the resource knows them.
  if (!object.contains("apiVersion")) object["apiVersion"] = r.api_version();
  if (!object.contains("kind") && !r.kind.empty()) object["kind"] = r.kind;
  std::string target = r.path(*n, name);
  add_param(target, "fieldManager", field_manager);
  if (force) add_param(target, "force", "true");
  // JSON is YAML: no YAML emitter needed.
  impl_->call(http::Method::patch, std::move(target), object.dump(), "application/apply-patch+yaml", std::move(done));
}

void Client::remove(const ResourceRef& r, std::string_view ns, std::string_view name, Callback done) {
  auto n = namespace_for(r, ns, nullptr);
  if (!n)
    return impl_->post_error(std::move(done), local_error(r.resource + " are namespaced: a namespace is required"));
  if (name.empty()) return impl_->post_error(std::move(done), local_error("remove needs a name"));
  impl_->call(http::Method::del, r.path(*n, name), {}, {}, std::move(done));
}

void Client::version(Callback done) {
  impl_->call(http::Method::get, "/version", {}, {}, std::move(done));
}

void Client::invalidate_discovery() {
  std::lock_guard lock(impl_->discovery_mu);
  impl_->discovered.clear();
  impl_->group_list.reset();
}

void Client::resolve(std::string_view api_version, std::string_view kind,
                     std::function<void(std::optional<ResourceRef>, std::optional<Error>)> done) {
  auto impl = impl_;
  std::string k(kind);
  if (k.empty()) {
    impl->loop.post([done = std::move(done)] { done(std::nullopt, local_error("resolve needs a kind")); });
    return;
  }
  std::string av(api_version);
  // A full group/version (or a core version): that document, refreshed once on a miss.
  if (av.find('/') != std::string::npos || looks_like_version(av)) {
    impl->resources_for(av, false,
                        [impl, av, k, done = std::move(done)](std::optional<std::vector<ResourceRef>> list,
                                                              std::optional<Error> error) mutable {
                          if (list) {
                            if (auto found = find_kind(*list, k)) return done(std::move(found), std::nullopt);
                          }
                          if (error && !error->not_found()) return done(std::nullopt, std::move(error));
                          impl->resources_for(
                              av, true,
                              [av, k, done = std::move(done)](std::optional<std::vector<ResourceRef>> again,
                                                              std::optional<Error> error2) {
                                if (again) {
                                  if (auto found = find_kind(*again, k)) return done(std::move(found), std::nullopt);
                                }
                                if (error2 && !error2->not_found()) return done(std::nullopt, std::move(error2));
                                Error e;
                                e.status = 404;
                                e.reason = "NotFound";
                                e.message = "kind " + k + " is not served by " + av;
                                done(std::nullopt, std::move(e));
                              });
                        });
    return;
  }
  // A group without a version ("apps"), or nothing: through /apis.
  impl->groups([impl, av, k, done = std::move(done)](std::optional<json> groups, std::optional<Error> error) mutable {
    if (!groups) return done(std::nullopt, std::move(error));
    auto search = std::make_shared<Impl::KindSearch>();
    search->impl = impl;
    search->kind = k;
    if (av.empty()) search->group_versions.push_back("v1");
    if (auto list = groups->find("groups"); list != groups->end() && list->is_array()) {
      for (const auto& g : *list) {
        if (!g.is_object() || !g.contains("name") || !g["name"].is_string()) continue;
        if (!av.empty() && g["name"].get<std::string>() != av) continue;
        auto pv = g.find("preferredVersion");
        if (pv != g.end() && pv->is_object() && pv->contains("groupVersion") && (*pv)["groupVersion"].is_string()) {
          search->group_versions.push_back((*pv)["groupVersion"].get<std::string>());
        }
      }
    }
    search->done = std::move(done);
    search->step();
  });
}

// ---------------------------------------------------------------------------
// Watch

struct WatchState {
  std::recursive_mutex mu;  // held while starting the stream and while reporting a refusal
  bool cancelled = false;
  std::atomic<bool> finished{false};
  net::StreamHandle stream;
};

WatchHandle::~WatchHandle() {
  cancel();
}

WatchHandle::WatchHandle(WatchHandle&&) noexcept = default;

WatchHandle& WatchHandle::operator=(WatchHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

void WatchHandle::cancel() {
  if (!state_) return;
  net::StreamHandle stream;
  {
    std::lock_guard lock(state_->mu);
    state_->cancelled = true;
    stream = std::move(state_->stream);
  }
  stream.cancel();
}

bool WatchHandle::active() const {
  if (!state_) return false;
  std::lock_guard lock(state_->mu);
  return !state_->cancelled && !state_->finished.load();
}

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;  // of a watch refused with a Status

// What one watch stream's callbacks share; they run one at a time (the stream's lock).
struct WatchStreamContext {
  std::function<void(std::vector<WatchEvent>&)> on_events;
  std::function<void(std::optional<Error>)> on_closed;
  std::weak_ptr<WatchState> state;
  int status = 0;
  std::string error_body;  // a non-200 answer's Status
  WatchDecoder decoder;
  std::vector<WatchEvent> events;
  std::optional<Error> ending;  // an ERROR event, or undecodable data

  void closed(std::optional<Error> e) {
    if (auto st = state.lock()) st->finished = true;
    auto fn = std::move(on_closed);
    on_events = nullptr;
    if (fn) fn(std::move(e));
  }

  // Hands over what one read decoded; an ERROR event ends the stream after it.
  bool deliver(bool decoded_ok) {
    bool stop = !decoded_ok;
    if (!decoded_ok) {
      ending = error_from_transport({net::ClientError::Kind::protocol, decoder.error()});
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].type == WatchEvent::Type::error) {
        ending = error_from_status(events[i].object, 500);
        events.resize(i + 1);
        stop = true;
        break;
      }
    }
    if (!events.empty() && on_events) on_events(events);
    events.clear();
    return !stop;
  }
};

}  // namespace

WatchHandle Client::watch_batches(const ResourceRef& r, std::string_view ns, WatchOptions options,
                                  std::function<void(std::vector<WatchEvent>&)> on_events,
                                  std::function<void(std::optional<Error>)> on_closed) {
  auto state = std::make_shared<WatchState>();
  WatchHandle handle;
  handle.state_ = state;

  std::string target = r.path(r.namespaced ? ns : std::string_view());
  target += "?watch=1";
  add_param(target, "resourceVersion", options.resource_version);
  if (options.allow_bookmarks) add_param(target, "allowWatchBookmarks", "true");
  if (options.timeout.count() > 0) add_param(target, "timeoutSeconds", std::to_string(options.timeout.count()));
  add_param(target, "labelSelector", options.label_selector);
  add_param(target, "fieldSelector", options.field_selector);
  std::chrono::milliseconds idle = options.idle_timeout;
  if (idle.count() <= 0 && options.timeout.count() > 0) idle = options.timeout + std::chrono::seconds(30);

  auto ctx = std::make_shared<WatchStreamContext>();
  ctx->on_events = std::move(on_events);
  ctx->on_closed = std::move(on_closed);
  ctx->state = state;

  impl_->admit([impl = impl_, weak = std::weak_ptr<WatchState>(state), ctx, target = std::move(target),
                idle](std::optional<Error> refused) mutable {
    auto st = weak.lock();
    if (!st) return;  // the handle is gone: cancelled
    std::lock_guard lock(st->mu);
    if (st->cancelled) return;
    if (!refused && impl->is_closed()) refused = Impl::closed_error();
    if (refused) {
      ctx->closed(std::move(refused));
      return;
    }
    net::ClientRequest req;
    req.url = impl->config.server + target;
    req.headers = impl->headers({});
    req.timeout = impl->options.timeout;
    req.stream_idle_timeout = idle;
    st->stream = impl->http.stream(
        std::move(req), impl->config.tls,
        [impl, ctx](int status, const std::vector<http::Header>&) {
          ctx->status = status;
          if (status == 401) impl->tokens.invalidate();
        },
        [ctx](std::string_view chunk) {
          if (ctx->status != 200) {
            if (ctx->error_body.size() < kMaxErrorBody) ctx->error_body.append(chunk.substr(0, kMaxErrorBody));
            return true;
          }
          bool ok = ctx->decoder.feed(chunk, ctx->events);
          return ctx->deliver(ok);
        },
        [ctx](std::optional<net::ClientError> error) {
          if (error) {
            ctx->closed(error_from_transport(*error));
          } else if (ctx->status != 200) {
            ctx->closed(error_from_response(ctx->status, ctx->error_body));
          } else if (ctx->ending) {
            ctx->closed(std::move(ctx->ending));
          } else {
            bool ok = ctx->decoder.finish(ctx->events);
            if (ctx->deliver(ok) || !ctx->ending) {
              ctx->closed(std::nullopt);
            } else {
              ctx->closed(std::move(ctx->ending));
            }
          }
        });
  });
  return handle;
}

WatchHandle Client::watch(const ResourceRef& r, std::string_view ns, WatchOptions options,
                          std::function<void(const WatchEvent&)> on_event,
                          std::function<void(std::optional<Error>)> on_closed) {
  return watch_batches(
      r, ns, std::move(options),
      [on_event = std::move(on_event)](std::vector<WatchEvent>& events) {
        for (const auto& e : events) on_event(e);
      },
      std::move(on_closed));
}

}  // namespace o2gw::k8s
