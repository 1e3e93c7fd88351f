// Subscriptions in memory and in the store, matching inventory changes against
// them, and the notification body.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <thread>

#include "o2gw/events.hpp"
#include "o2gw/security.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

// Notifications reach every subscriber whatever its role, so a deployment
// manager's credentials (profileData secrets) never travel in them; a deployer
// reads them from the API.
std::string notifiable_json(Kind kind, const std::string& json) {
  if (kind != Kind::deployment_manager || json.find("profileData") == std::string::npos) return json;
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded()) return json;
  redact_credentials(doc);
  return doc.dump();
}

}  // namespace

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Copies `a` into `into` unless an attribute of that name is already there.
void merge_attribute(AttributeSchema& into, const AttributeSchema& from, const AttributeSchema::Attribute& a) {
  if (into.find(a.name) != nullptr) return;
  if (a.type == AttrType::record) {
    if (a.recursive) {
      into.add_recursive_array(a.name);
    } else {
      into.add_record(a.name, *from.fields_of(a), a.array);
    }
  } else if (a.array) {
    into.add_array(a.name, a.type);
  } else {
    into.add(a.name, a.type);
  }
}

constexpr Kind kNotifiedKinds[] = {Kind::resource_pool, Kind::resource, Kind::resource_type,
                                   Kind::deployment_manager, Kind::location, Kind::ocloud_site};

bool notified(Kind k) { return std::find(std::begin(kNotifiedKinds), std::end(kNotifiedKinds), k) != std::end(kNotifiedKinds); }

}  // namespace

const AttributeSchema& inventory_event_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("InventoryObject");
    for (Kind k : kNotifiedKinds) {
      const AttributeSchema& ks = schema_for(k);
      for (const auto& a : ks.attributes()) merge_attribute(s, ks, a);
    }
    return s;
  }();
  return schema;
}

const AttributeSchema& subscription_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("Subscription", "subscriptionId");
    s.add("subscriptionId", AttrType::uuid)
        .add("consumerSubscriptionId", AttrType::uuid)
        .add("filter", AttrType::string)
        .add("callback", AttrType::string);
    return s;
  }();
  return schema;
}

SubscriptionPtr make_subscription(SubscriptionRecord record, Filter filter) {
  auto s = std::make_shared<Subscription>();
  s->doc = nlohmann::json::object();
  s->doc[record.family == SubscriptionFamily::alarm ? "alarmSubscriptionId" : "subscriptionId"] = record.id;
  if (!record.consumer_subscription_id.empty()) s->doc["consumerSubscriptionId"] = record.consumer_subscription_id;
  if (!record.filter.empty()) s->doc["filter"] = record.filter;
  s->doc["callback"] = record.callback;
  s->json = s->doc.dump();
  s->record = std::move(record);
  s->filter = std::move(filter);
  return s;
}

// ---------------------------------------------------------------------------

SubscriptionService::SubscriptionService(Store& store, SubscriptionFamily family, const AttributeSchema& filter_schema,
                                         std::size_t max_subscriptions)
    : store_(store),
      family_(family),
      filter_schema_(filter_schema),
      max_(max_subscriptions),
      snapshot_(std::make_shared<const std::vector<SubscriptionPtr>>()) {}

void SubscriptionService::load() {
  std::vector<SubscriptionPtr> subs;
  for (auto& rec : store_.subscriptions(family_)) {
    auto f = parse_filter(rec.filter);
    if (!f) {
      // Better to deliver nothing than everything the subscriber asked to exclude.
      spdlog::error("subscription {}: stored filter no longer valid ({}); it matches no event until recreated",
                    rec.id, f.problem().detail);
      auto sub = std::const_pointer_cast<Subscription>(make_subscription(std::move(rec), Filter()));
      sub->filter_broken = true;
      subs.push_back(std::move(sub));
      continue;
    }
    subs.push_back(make_subscription(std::move(rec), std::move(*f)));
  }
  std::lock_guard lock(mu_);
  publish(std::move(subs));
}

void SubscriptionService::publish(std::vector<SubscriptionPtr> subs) {
  std::sort(subs.begin(), subs.end(), [](const auto& a, const auto& b) { return a->record.id < b->record.id; });
  auto snap = std::make_shared<const std::vector<SubscriptionPtr>>(std::move(subs));
  std::atomic_store(&snapshot_, std::move(snap));
}

SubscriptionService::Snapshot SubscriptionService::snapshot() const { return std::atomic_load(&snapshot_); }

SubscriptionPtr SubscriptionService::find(const std::string& id) const {
  auto snap = snapshot();
  auto it = std::lower_bound(snap->begin(), snap->end(), id,
                             [](const SubscriptionPtr& s, const std::string& key) { return s->record.id < key; });
  if (it == snap->end() || (*it)->record.id != id) return nullptr;
  return *it;
}

SubscriptionService::CreateResult SubscriptionService::create(SubscriptionRecord record, Filter filter,
                                                              int duplicate_status) {
  std::lock_guard lock(mu_);
  auto current = std::atomic_load(&snapshot_);
  for (const auto& s : *current) {
    // "The same subscription": same tenant, callback and filter (compared in canonical form).
    // Another tenant's subscription is invisible, so it is never a duplicate.
    if (s->record.tenant == record.tenant && s->record.callback == record.callback &&
        s->filter.canonical() == filter.canonical()) {
      return Problem{duplicate_status, std::string(reason_phrase(duplicate_status)),
                     "a subscription with the same callback and filter already exists: " + s->record.id};
    }
  }
  if (current->size() >= max_) {
    return Problem{400, "Bad Request",
                   "the subscription limit (" + std::to_string(max_) + ") is reached; delete one first"};
  }
  record.family = family_;
  if (record.id.empty()) record.id = Uuid::v4().str();
  if (record.created_ms == 0) record.created_ms = now_ms();
  store_.insert_subscription(record);
  auto sub = make_subscription(std::move(record), std::move(filter));
  std::vector<SubscriptionPtr> next(current->begin(), current->end());
  next.push_back(sub);
  publish(std::move(next));
  spdlog::info("subscription {} created for {}", sub->record.id, sub->record.callback);
  return sub;
}

bool SubscriptionService::remove(const std::string& id) {
  std::vector<std::function<void(const std::string&)>> listeners;
  {
    std::lock_guard lock(mu_);
    if (!store_.delete_subscription(id)) return false;
    auto current = std::atomic_load(&snapshot_);
    std::vector<SubscriptionPtr> next;
    next.reserve(current->size());
    for (const auto& s : *current) {
      if (s->record.id != id) next.push_back(s);
    }
    publish(std::move(next));
    listeners = removed_listeners_;
  }
  spdlog::info("subscription {} deleted", id);
  for (const auto& l : listeners) l(id);
  return true;
}

Parsed<Filter> SubscriptionService::parse_filter(std::string_view text) const {
  if (parser_) return parser_(text);
  return Filter::parse(text, filter_schema_);
}

void SubscriptionService::on_removed(std::function<void(const std::string& id)> fn) {
  std::lock_guard lock(mu_);
  removed_listeners_.push_back(std::move(fn));
}

// ---------------------------------------------------------------------------

std::string inventory_object_path(const Change& c) {
  const InventoryObject* obj = c.post ? c.post.get() : c.prior.get();
  std::string id = http::percent_encode(c.id);
  switch (c.kind) {
    case Kind::resource_pool:
      return "/resourcePools/" + id;
    case Kind::resource:
      return "/resourcePools/" + http::percent_encode(obj != nullptr ? obj->parent_id : std::string()) + "/resources/" + id;
    case Kind::resource_type:
      return "/resourceTypes/" + id;
    case Kind::deployment_manager:
      return "/deploymentManagers/" + id;
    case Kind::location:
      return "/locations/" + id;
    case Kind::ocloud_site:
      return "/oCloudSites/" + id;
    case Kind::alarm_dictionary:
      break;
  }
  return {};
}

std::string render_inventory_notification(const std::string& notification_id, const std::string& consumer_id,
                                          const EventRecord& event) {
  // Assembled from the stored, already serialised states: no re-serialisation per subscriber.
  std::string out;
  out.reserve(160 + event.object_ref.size() + event.prior_json.size() + event.post_json.size());
  out += R"({"notificationId":")";
  out += notification_id;
  out += '"';
  if (!consumer_id.empty()) {
    out += R"(,"consumerSubscriptionId":)";
    out += nlohmann::json(consumer_id).dump();
  }
  out += R"(,"notificationEventType":)";
  out += std::to_string(event.event_type);
  out += R"(,"objectRef":)";
  out += nlohmann::json(event.object_ref).dump();
  if (!event.prior_json.empty()) {
    out += R"(,"priorObjectState":)";
    out += event.prior_json;
  }
  if (!event.post_json.empty()) {
    out += R"(,"postObjectState":)";
    out += event.post_json;
  }
  out += '}';
  return out;
}

InventoryNotifier::InventoryNotifier(Store& store, SubscriptionService& subscriptions, WebhookDeliverer& deliverer,
                                     SubscriptionsConfig::FilterMode mode, std::string object_ref_base,
                                     Metrics* metrics, const InventoryCache* cache)
    : store_(store),
      subs_(subscriptions),
      deliverer_(deliverer),
      mode_(mode),
      base_(std::move(object_ref_base)),
      metrics_(metrics),
      cache_(cache) {
  for (auto& d : store_.object_digests()) {
    for (Kind k : kNotifiedKinds) {
      std::string prefix = std::string(kind_name(k)) + "/";
      if (d.key.starts_with(prefix)) {
        known_[d.key] = Known{k, d.key.substr(prefix.size()), std::move(d.source), d.digest, std::move(d.object_ref)};
        break;
      }
    }
  }
}

namespace {

std::int64_t digest_of(std::string_view text) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a: fast, and collisions only cost a missed no-op
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(h);
}

// One notification-worthy event before matching.
struct Candidate {
  int type = 0;
  const InventoryObject* state = nullptr;  // what the filter sees; null when unknown
  std::string object_ref;
  std::string prior_json, post_json;
};

}  // namespace

void InventoryNotifier::on_changes(std::span<const Change> changes) {
  const std::int64_t now = now_ms();
  // One writer at a time: the digests below and the outbox hand-over stay in order
  // even when two adapters write at once.
  std::lock_guard lock(mu_);
  DigestChanges digests;
  std::vector<Candidate> candidates;
  std::vector<std::string> first_sources;
  for (const auto& c : changes) {
    if (!notified(c.kind)) continue;
    const InventoryObject* obj = c.post ? c.post.get() : c.prior.get();
    if (obj == nullptr) continue;
    if (!seen_sources_.contains(obj->source) &&
        std::find(first_sources.begin(), first_sources.end(), obj->source) == first_sources.end()) {
      first_sources.push_back(obj->source);
    }
    std::string key = std::string(kind_name(c.kind)) + "/" + c.id;
    Candidate cand;
    cand.object_ref = base_ + inventory_object_path(c);
    if (c.type == ChangeType::remove) {
      known_.erase(key);
      digests.removals.push_back(std::move(key));
      cand.type = 2;
      cand.state = c.prior.get();
      cand.prior_json = notifiable_json(c.kind, c.prior->json);
    } else {
      const std::int64_t d = digest_of(c.post->json);
      auto it = known_.find(key);
      cand.type = c.type == ChangeType::create ? 0 : 1;
      if (c.type == ChangeType::create && it != known_.end()) {
        // The adapters re-read an inventory o2gw knew before a restart: unchanged is no
        // event; changed is a modify whose prior state was not kept.
        if (it->second.digest == d) continue;
        cand.type = 1;
      }
      if (c.prior) cand.prior_json = notifiable_json(c.kind, c.prior->json);
      cand.post_json = notifiable_json(c.kind, c.post->json);
      cand.state = c.post.get();
      known_[key] = Known{c.kind, c.id, obj->source, d, cand.object_ref};
      digests.upserts.push_back({std::move(key), obj->source, d, cand.object_ref});
    }
    candidates.push_back(std::move(cand));
  }
  // A source's first write after a restart: what it owned before and no longer has was
  // deleted while o2gw was down. The prior state is unknown; the objectRef is kept.
  for (const auto& source : first_sources) {
    seen_sources_.insert(source);
    if (cache_ == nullptr) continue;
    for (auto it = known_.begin(); it != known_.end();) {
      const Known& k = it->second;
      if (k.source == source && !cache_->get(k.kind, k.id)) {
        Candidate cand;
        cand.type = 2;
        cand.object_ref = k.object_ref;
        candidates.push_back(std::move(cand));
        digests.removals.push_back(it->first);
        it = known_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (candidates.empty() && digests.empty()) return;

  auto subs = subs_.snapshot();
  std::vector<PendingEvent> pending;
  for (auto& cand : candidates) {
    PendingEvent pe;
    for (const auto& s : *subs) {
      if (s->filter_broken) continue;
      bool report = true;
      if (!s->filter.empty()) {
        bool match = cand.state != nullptr && s->filter.matches(cand.state->doc);
        report = mode_ == SubscriptionsConfig::FilterMode::exclude ? !match : match;
      }
      if (!report) continue;
      OutboxEntry e;
      e.notification_id = Uuid::v7().str();
      e.subscription_id = s->record.id;
      e.next_attempt_ms = now;
      e.enqueued_ms = now;
      pe.entries.push_back(std::move(e));
    }
    if (pe.entries.empty()) continue;
    pe.event.family = SubscriptionFamily::inventory;
    pe.event.event_type = cand.type;
    pe.event.object_ref = std::move(cand.object_ref);
    pe.event.prior_json = std::move(cand.prior_json);
    pe.event.post_json = std::move(cand.post_json);
    pe.event.created_ms = now;
    pending.push_back(std::move(pe));
  }
  // Durable before this returns: the cache's writer (the adapter) waits for the outbox.
  // A failing disk gets a few tries before the loss is reported loudly.
  for (int attempt = 1;; ++attempt) {
    try {
      store_.enqueue(pending, digests);
      break;
    } catch (const std::exception& e) {
      if (attempt == 4) {
        spdlog::critical("notifications for {} change(s) could not be written to the outbox and are lost: {}",
                         pending.size(), e.what());
        if (metrics_ != nullptr) metrics_->count_notifications("lost", static_cast<double>(pending.size()));
        return;
      }
      spdlog::error("writing {} change(s) to the outbox failed (attempt {}): {}", pending.size(), attempt, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt * attempt));
      // A subscription deleted since the match fails the batch (its foreign key): drop its entries.
      for (auto& pe : pending) {
        std::erase_if(pe.entries, [&](const OutboxEntry& oe) { return !subs_.find(oe.subscription_id); });
      }
      std::erase_if(pending, [](const PendingEvent& pe) { return pe.entries.empty(); });
    }
  }
  if (pending.empty()) return;
  std::vector<OutboxEntry> entries;
  std::vector<std::shared_ptr<const EventRecord>> events;
  for (auto& pe : pending) {
    events.push_back(std::make_shared<const EventRecord>(std::move(pe.event)));
    for (auto& e : pe.entries) entries.push_back(std::move(e));
  }
  if (metrics_ != nullptr) metrics_->count_notifications("enqueued", static_cast<double>(entries.size()));
  deliverer_.submit(std::move(entries), std::move(events));
}

// ---------------------------------------------------------------------------

DeliveryOptions DeliveryOptions::from(const WebhooksConfig& c) {
  DeliveryOptions o;
  o.timeout = c.timeout;
  o.max_in_flight = c.max_in_flight;
  o.initial_delay = c.retry_initial_delay;
  o.max_delay = c.retry_max_delay;
  o.max_attempts = c.retry_max_attempts;
  o.max_age = c.retry_max_age;
  o.breaker_threshold = c.breaker_failure_threshold;
  o.breaker_open = c.breaker_open;
  o.hosts = c.hosts;
  return o;
}

std::chrono::milliseconds retry_delay(const DeliveryOptions& o, int attempt,
                                      std::optional<std::chrono::seconds> retry_after, double random_unit) {
  double ceiling = static_cast<double>(o.initial_delay.count()) * std::ldexp(1.0, std::clamp(attempt - 1, 0, 40));
  ceiling = std::min(ceiling, static_cast<double>(o.max_delay.count()));
  auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(ceiling * std::clamp(random_unit, 0.0, 1.0)));
  if (retry_after) delay = std::max<std::chrono::milliseconds>(delay, *retry_after);
  return delay;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  std::int64_t at = timegm(&tm);
  return std::chrono::seconds(std::max<std::int64_t>(0, at - now_unix));
}

}  // namespace o2gw
