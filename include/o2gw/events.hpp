// The subscription and event pipeline:
//
//   InventoryCache change ─► InventoryNotifier (match filters) ─► Store outbox (durable)
//                                                               ─► WebhookDeliverer ─► signed POST
//
// A change counts as accepted once its notifications are in the outbox; they
// leave it only after a 2xx (or to the dead-letter list).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <variant>
#include <vector>

#include "o2gw/config.hpp"
#include "o2gw/query.hpp"
#include "o2gw/store.hpp"
#include "o2gw/webhook.hpp"

namespace o2gw {

class InventoryCache;
class Metrics;
struct Change;
namespace net {
class EventLoop;
class HttpClient;
}  // namespace net

// A subscription as served by the API: the stored record, its compiled filter,
// and its JSON representation (kept serialised, like inventory objects).
struct Subscription {
  SubscriptionRecord record;
  Filter filter;
  nlohmann::json doc;
  std::string json;
  bool filter_broken = false;  // a stored filter that no longer compiles: matches nothing
};
using SubscriptionPtr = std::shared_ptr<const Subscription>;

// The attribute schema a subscription filter is checked against: the union of the
// inventory objects a notification can carry (a term naming an attribute an
// object lacks simply does not match it).
const AttributeSchema& inventory_event_schema();
// The schema of the Subscription object itself (for GET subscriptions queries).
const AttributeSchema& subscription_schema();

// Owns the subscriptions of one family: the store is the truth, an immutable
// snapshot in memory serves matching and reads without a lock.
class SubscriptionService {
 public:
  SubscriptionService(Store& store, SubscriptionFamily family, const AttributeSchema& filter_schema,
                      std::size_t max_subscriptions);

  // Loads the stored subscriptions (a stored filter that no longer compiles is logged and matches nothing).
  void load();

  using Snapshot = std::shared_ptr<const std::vector<SubscriptionPtr>>;  // ordered by id
  [[nodiscard]] Snapshot snapshot() const;
  [[nodiscard]] SubscriptionPtr find(const std::string& id) const;

  // Either the created subscription, or a Problem (duplicate: `duplicate_status`
  // naming the existing subscription; too many: 400). Writes to the store.
  using CreateResult = std::variant<SubscriptionPtr, Problem>;
  CreateResult create(SubscriptionRecord record, Filter filter, int duplicate_status);
  // Removes from the store and the snapshot; false when unknown.
  bool remove(const std::string& id);

  // Called after a subscription is removed (the deliverer drops its queue).
  void on_removed(std::function<void(const std::string& id)> fn);

  // How a filter text is compiled (default: Filter::parse against the filter schema).
  // A family with its own filter forms (alarm subscriptions also take an event type
  // name) sets this before load().
  using FilterParser = std::function<Parsed<Filter>(std::string_view text)>;
  void set_filter_parser(FilterParser parser) { parser_ = std::move(parser); }
  [[nodiscard]] Parsed<Filter> parse_filter(std::string_view text) const;
  [[nodiscard]] SubscriptionFamily family() const { return family_; }

 private:
  void publish(std::vector<SubscriptionPtr> subs);
  Store& store_;
  SubscriptionFamily family_;
  const AttributeSchema& filter_schema_;
  std::size_t max_;
  mutable std::mutex mu_;  // guards writers and snapshot_
  Snapshot snapshot_;
  std::vector<std::function<void(const std::string&)>> removed_listeners_;
  FilterParser parser_;
};

// The subscription's representation names its id "subscriptionId" (inventory) or
// "alarmSubscriptionId" (alarm), after record.family.
SubscriptionPtr make_subscription(SubscriptionRecord record, Filter filter);

// Options of the delivery engine (from WebhooksConfig).
struct DeliveryOptions {
  std::chrono::milliseconds timeout{10000};
  std::size_t max_in_flight = 256;
  std::chrono::milliseconds initial_delay{1000};
  std::chrono::milliseconds max_delay{300000};
  int max_attempts = 20;
  std::chrono::seconds max_age{86400};
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_open{30000};
  std::size_t queue_memory_limit = 1000;  // notifications per subscription kept in memory
  std::chrono::milliseconds ack_flush{10};  // delivered entries are removed in batches
  std::vector<WebhookHostConfig> hosts;
  static DeliveryOptions from(const WebhooksConfig& c);
};

// The delay before retry `attempt` (1-based): full jitter over an exponential
// ceiling, min(max, initial * 2^(attempt-1)), and never less than Retry-After.
std::chrono::milliseconds retry_delay(const DeliveryOptions& o, int attempt, std::optional<std::chrono::seconds> retry_after,
                                      double random_unit);
// Retry-After as delta-seconds or an HTTP-date (relative to now); nullopt when absent or unparsable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix);

// Builds the InventoryChangeNotification body (fields in the spec's order).
std::string render_inventory_notification(const std::string& notification_id, const std::string& consumer_id,
                                          const EventRecord& event);

// Delivers outbox entries as signed webhook POSTs: many subscriptions in parallel,
// each one's notifications strictly in order with one in flight. All state lives
// on the event loop's thread.
class WebhookDeliverer {
 public:
  struct Deps {
    Store* store = nullptr;
    net::EventLoop* loop = nullptr;  // must run exactly one thread
    net::HttpClient* client = nullptr;
    Metrics* metrics = nullptr;  // may be null
    SubscriptionService* subscriptions = nullptr;
    std::shared_ptr<const SigningKeyRing> keys;
    // Renders the body for an entry (family specific).
    std::function<std::string(const OutboxEntry&, const Subscription&, const EventRecord&)> render;
    // Alarm subscriptions share the outbox, the queues, the breakers and the dead-letter
    // list; an entry whose event is of the alarm family is looked up here and rendered
    // by render_alarm. Both null: alarm entries are not delivered.
    SubscriptionService* alarm_subscriptions = nullptr;
    std::function<std::string(const OutboxEntry&, const Subscription&, const EventRecord&)> render_alarm;
  };
  WebhookDeliverer(Deps deps, DeliveryOptions options);
  ~WebhookDeliverer();
  WebhookDeliverer(const WebhookDeliverer&) = delete;
  WebhookDeliverer& operator=(const WebhookDeliverer&) = delete;

  // Loads what the outbox holds (after a restart) and starts delivering.
  void start();
  // Stops starting new deliveries and flushes acknowledgements (blocks until done).
  void stop();
  // New durable entries, with their events (the notifier calls this after enqueue).
  void submit(std::vector<OutboxEntry> entries, std::vector<std::shared_ptr<const EventRecord>> events);
  // Drops the in-memory queue of a removed subscription.
  void forget(const std::string& subscription_id);
  // Moves dead letters back to the outbox (all when ids is empty) and queues them in
  // event order; done(count), or done(nullopt) when the store failed. Runs on the loop.
  void replay_async(std::vector<std::string> notification_ids, std::function<void(std::optional<std::size_t>)> done);
  // Same, waiting for the result (not from the loop's own thread).
  std::size_t replay(std::span<const std::string> notification_ids);

  struct Stats {
    std::uint64_t delivered = 0, retried = 0, failed = 0, dead_lettered = 0;
    std::size_t queued = 0, in_flight = 0;
  };
  [[nodiscard]] Stats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

enum class Kind;
// Listens to the inventory cache: every change of a subscribable kind is matched
// against the inventory subscriptions and written to the outbox in one transaction
// (before the cache's writer returns), then handed to the deliverer.
class InventoryNotifier {
 public:
  InventoryNotifier(Store& store, SubscriptionService& subscriptions, WebhookDeliverer& deliverer,
                    SubscriptionsConfig::FilterMode mode, std::string object_ref_base, Metrics* metrics,
                    const InventoryCache* cache);
  void on_changes(std::span<const Change> changes);

 private:
  Store& store_;
  SubscriptionService& subs_;
  WebhookDeliverer& deliverer_;
  SubscriptionsConfig::FilterMode mode_;
  std::string base_;  // prefix of objectRef: "<serviceUri>/o2ims-infrastructureInventory/v1"
  Metrics* metrics_;
  const InventoryCache* cache_;
  std::mutex mu_;  // one batch at a time; guards the maps below
  // Digest of every notified object as last seen (persisted with the outbox), so the
  // first sync after a restart notifies only what really changed while o2gw was down.
  struct Known {
    Kind kind;
    std::string id;
    std::string source;
    std::int64_t digest = 0;
    std::string object_ref;
  };
  std::unordered_map<std::string, Known> known_;
  std::unordered_set<std::string> seen_sources_;
};

// The object's URL path below the inventory API root ("/resourcePools/<id>"); empty
// for kinds that are not notified.
std::string inventory_object_path(const Change& c);

}  // namespace o2gw
