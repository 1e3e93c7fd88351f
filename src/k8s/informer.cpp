// The informer: list, then watch from the list's resourceVersion; resume a
// dropped watch from the last version seen (bookmarks included); on 410 Gone
// list again and reconcile. One step runs at a time: a list, or a watch, or a
// backoff timer, and each completion starts the next.
#include <spdlog/spdlog.h>

#include <mutex>
#include <random>

#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

void strip_managed_fields(json& object) {
  if (!object.is_object()) return;
  auto m = object.find("metadata");
  if (m != object.end() && m->is_object()) m->erase("managedFields");
}

std::string resource_version_of(const json& object) {
  if (!object.is_object()) return {};
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return {};
  auto rv = m->find("resourceVersion");
  return rv != m->end() && rv->is_string() ? rv->get<std::string>() : std::string();
}

// A watch that ends this soon without delivering anything counts as a failure
// (backoff), so a server that closes every watch at once is not hammered.
constexpr auto kShortWatch = std::chrono::seconds(1);
constexpr int kWatchFailuresBeforeRelist = 3;

}  // namespace

struct Informer::Impl : std::enable_shared_from_this<Impl> {
  Impl(Client& c, ResourceRef r, InformerOptions o, Handlers h)
      : client(c), resource(std::move(r)), options(std::move(o)), handlers(std::move(h)), rng(std::random_device{}()) {}

  Client& client;
  const ResourceRef resource;
  const InformerOptions options;
  const Handlers handlers;

  // Held by every step and while handlers run; stop() takes it, so once it
  // returns no handler is running and none will start. Recursive: a handler may call stop().
  std::recursive_mutex run_mu;
  bool started = false;
  bool stopped = false;
  std::uint64_t generation = 0;  // of the current list or watch: stale callbacks are ignored
  WatchHandle watch;
  net::EventLoop::Timer retry_timer;
  int failures = 0;  // consecutive, for the backoff
  std::mt19937 rng;
  Clock::time_point watch_started;
  std::uint64_t watch_events = 0;

  // What the accessors read, from any thread.
  mutable std::mutex data_mu;
  ObjectCache cache;
  std::string resource_version;
  bool synced = false;
  InformerStats stats;
  std::optional<Error> last_error;

  template <class F>
  void guarded(std::uint64_t gen, F&& f) {
    std::lock_guard lock(run_mu);
    if (stopped || gen != generation) return;
    f();
  }

  void list() {
    std::uint64_t gen = ++generation;
    ListOptions lo;
    lo.label_selector = options.label_selector;
    lo.field_selector = options.field_selector;
    lo.limit = options.page_size;
    client.list_all(resource, options.ns, std::move(lo), [weak = weak_from_this(), gen](Result r) {
      if (auto self = weak.lock()) self->guarded(gen, [&] { self->on_list(std::move(r)); });
    });
  }

  void on_list(Result r) {
    if (!r.ok()) {
      failed(*r.error, /*relist=*/true);
      return;
    }
    json& list = *r.object;
    std::vector<json> items;
    if (auto it = list.find("items"); it != list.end() && it->is_array()) {
      items.reserve(it->size());
      for (auto& item : *it) {
        if (options.strip_managed_fields) strip_managed_fields(item);
        items.push_back(std::move(item));
      }
    }
    std::string version = list.contains("metadata") ? resource_version_of(list) : std::string();
    std::vector<InformerChange> changes;
    bool first;
    {
      std::lock_guard lock(data_mu);
      changes = reconcile(cache, std::move(items));
      resource_version = version;
      ++stats.lists;
      first = !synced;
      synced = true;
      last_error.reset();
    }
    failures = 0;
    if (!changes.empty() && handlers.on_changes) handlers.on_changes(changes);
    if (stopped) return;
    if (first && handlers.on_synced) handlers.on_synced();
    if (stopped) return;
    start_watch();
  }

  void start_watch() {
    std::uint64_t gen = ++generation;
    WatchOptions wo;
    {
      std::lock_guard lock(data_mu);
      wo.resource_version = resource_version;
      ++stats.watches;
    }
    wo.label_selector = options.label_selector;
    wo.field_selector = options.field_selector;
    wo.allow_bookmarks = true;
    wo.timeout = options.watch_timeout;
    watch_started = Clock::now();
    watch_events = 0;
    watch = client.watch_batches(
        resource, options.ns, std::move(wo),
        [weak = weak_from_this(), gen](std::vector<WatchEvent>& events) {
          if (auto self = weak.lock()) self->guarded(gen, [&] { self->on_events(events); });
        },
        [weak = weak_from_this(), gen](std::optional<Error> error) {
          if (auto self = weak.lock()) self->guarded(gen, [&] { self->on_watch_closed(std::move(error)); });
        });
  }

  void on_events(std::vector<WatchEvent>& events) {
    std::vector<InformerChange> changes;
    {
      std::lock_guard lock(data_mu);
      for (auto& e : events) {
        if (e.type == WatchEvent::Type::error) continue;  // on_watch_closed gets it as the error
        std::string version = resource_version_of(e.object);
        if (e.type == WatchEvent::Type::bookmark) {
          ++stats.bookmarks;
        } else {
          ++stats.events;
          if (options.strip_managed_fields) strip_managed_fields(e.object);
          apply_watch_event(cache, e, changes);
        }
        if (!version.empty()) resource_version = std::move(version);
      }
      last_error.reset();
    }
    watch_events += events.size();
    failures = 0;
    if (!changes.empty() && handlers.on_changes) handlers.on_changes(changes);
  }

  void on_watch_closed(std::optional<Error> error) {
    if (!error) {
      bool short_and_empty = watch_events == 0 && Clock::now() - watch_started < kShortWatch;
      if (!short_and_empty) {
        start_watch();
        return;
      }
      Error e;
      e.transport = net::ClientError{net::ClientError::Kind::protocol, "the watch ended at once"};
      e.message = e.transport->message;
      failed(e, /*relist=*/false);
      return;
    }
    if (error->gone()) {
      // The version we would resume from is compacted away: only a list can say
      // what changed meanwhile.
      spdlog::info("k8s informer {}: resourceVersion expired ({}), listing again", resource.resource,
                   error->describe());
      {
        std::lock_guard lock(data_mu);
        ++stats.relists_410;
        resource_version.clear();
      }
      list();
      return;
    }
    failed(*error, /*relist=*/false);
  }

  void failed(const Error& error, bool relist) {
    {
      std::lock_guard lock(data_mu);
      ++stats.errors;
      last_error = error;
      // Without a version to resume from, only a list can start a watch; and a
      // version the server keeps refusing (too large after a restore, say) is
      // given up for a fresh list, which reconcile makes exact.
      if (resource_version.empty() || failures >= kWatchFailuresBeforeRelist) relist = true;
    }
    spdlog::warn("k8s informer {}: {} failed: {}", resource.resource, relist ? "list" : "watch", error.describe());
    if (handlers.on_error) handlers.on_error(error);
    if (stopped) return;
    auto delay = next_backoff();
    std::uint64_t gen = ++generation;
    retry_timer = client.loop().post_after(delay, [weak = weak_from_this(), gen, relist] {
      if (auto self = weak.lock()) {
        self->guarded(gen, [&] {
          if (relist) {
            self->list();
          } else {
            self->start_watch();
          }
        });
      }
    });
  }

  // Exponential from backoff_initial to backoff_max, each wait drawn from its
  // upper half so that many informers restarting together spread out.
  std::chrono::milliseconds next_backoff() {
    auto base = options.backoff_initial.count() > 0 ? options.backoff_initial : std::chrono::milliseconds(1);
    auto limit = std::max(options.backoff_max, base);
    auto d = base;
    for (int i = 0; i < failures && d < limit; ++i) d *= 2;
    d = std::min(d, limit);
    ++failures;
    std::uniform_int_distribution<long long> half(d.count() / 2, d.count());
    return std::chrono::milliseconds(half(rng));
  }

  void stop() {
    WatchHandle w;
    net::EventLoop::Timer t;
    {
      std::lock_guard lock(run_mu);
      if (stopped) return;
      stopped = true;
      ++generation;
      w = std::move(watch);
      t = retry_timer;
    }
    t.cancel();
    w.cancel();
  }
};

Informer::Informer(Client& client, ResourceRef resource, InformerOptions options, Handlers handlers)
    : impl_(std::make_shared<Impl>(client, std::move(resource), std::move(options), std::move(handlers))) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  std::lock_guard lock(impl_->run_mu);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  impl_->list();
}

void Informer::stop() {
  impl_->stop();
}

bool Informer::synced() const {
  std::lock_guard lock(impl_->data_mu);
  return impl_->synced;
}

std::vector<json> Informer::snapshot() const {
  std::lock_guard lock(impl_->data_mu);
  std::vector<json> out;
  out.reserve(impl_->cache.size());
  for (const auto& [key, object] : impl_->cache) out.push_back(object);
  return out;
}

std::optional<json> Informer::get(const std::string& key) const {
  std::lock_guard lock(impl_->data_mu);
  auto it = impl_->cache.find(key);
  if (it == impl_->cache.end()) return std::nullopt;
  return it->second;
}

std::string Informer::resource_version() const {
  std::lock_guard lock(impl_->data_mu);
  return impl_->resource_version;
}

std::optional<Error> Informer::last_error() const {
  std::lock_guard lock(impl_->data_mu);
  return impl_->last_error;
}

InformerStats Informer::stats() const {
  std::lock_guard lock(impl_->data_mu);
  return impl_->stats;
}

}  // namespace o2gw::k8s
