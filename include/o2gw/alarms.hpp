// O2-IMS infrastructure monitoring: alarm records, the sources that raise and
// clear them, and the service that keeps them (SQLite), answers the
// /o2ims-infrastructureMonitoring API and notifies alarm subscribers through
// the same outbox, signing, retry and dead-letter machinery as inventory
// notifications.
//
// Sources (the Kubernetes adapter's node conditions, the registry's adapter
// health, the Alertmanager receiver, the file adapter and the simulator) see
// only AlarmSink: they report conditions by (source, key) and never handle
// alarm ids, history or notifications.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/config.hpp"
#include "o2gw/problem.hpp"

namespace o2gw {

class InventoryCache;
class Metrics;
class Store;
class SubscriptionService;
class WebhookDeliverer;
class AttributeSchema;
class Filter;
template <typename T>
class Parsed;
struct QueryItem;
struct EventRecord;

// PerceivedSeverity, the spec's integer enum.
enum class Severity : int { critical = 0, major = 1, minor = 2, warning = 3, indeterminate = 4, cleared = 5 };
std::string_view severity_name(Severity s);                   // "CRITICAL", ...
std::optional<Severity> parse_severity_name(std::string_view);  // case-insensitive "critical", "MAJOR", ...

// AlarmEventNotification.notificationEventType.
enum class AlarmEventType : int { created = 0, changed = 1, cleared = 2, acknowledged = 3 };
std::string_view alarm_event_type_name(AlarmEventType t);  // "NEW", "CHANGE", "CLEAR", "ACKNOWLEDGE"

// One condition as a source sees it.
struct AlarmReport {
  // Who reports it: "kubernetes/cluster-a", "registry", "alertmanager", "file/lab", "simulator/sim".
  std::string source;
  // The condition's identity within the source ("node-uid/MemoryPressure", an
  // Alertmanager fingerprint, ...). Raising the same (source, key) again updates
  // the one active alarm; it never creates a second.
  std::string key;
  // The O2 object the alarm is about: normally a Resource id. For alarms about a
  // DeploymentManager or ResourcePool, give its id and set resource_type_id too.
  std::string resource_id;
  // Empty: the resource's own resourceTypeId from the inventory.
  std::string resource_type_id;
  // The alarm definition, by its alarmDefinitionId (UUID) or by its name or
  // key within the resource type's alarm dictionary (case-insensitive).
  std::string definition;
  Severity severity = Severity::major;  // never `cleared` here: call clear()
  nlohmann::json extensions = nlohmann::json::object();
  // When the condition began, if the source knows (Alertmanager startsAt,
  // a node condition's lastTransitionTime); default: now.
  std::optional<std::chrono::system_clock::time_point> since;
};

// Why a report was not turned into an alarm (unknown resource, no such
// definition in the type's dictionary, ...): one line, safe to log.
struct AlarmRejection {
  std::string reason;
};

class AlarmSink {
 public:
  virtual ~AlarmSink() = default;
  // Raises a new alarm (NEW), or updates the active one of (source, key): a
  // changed severity or extensions is a CHANGE, an identical report does nothing.
  // Thread-safe; may block briefly on the store. Returns the rejection when the
  // report cannot be tied to a resource, type and definition.
  virtual std::optional<AlarmRejection> raise(const AlarmReport& report) = 0;
  // Clears the active alarm of (source, key), if any (CLEAR, perceivedSeverity 5).
  virtual void clear(std::string_view source, std::string_view key) = 0;
  // For level-triggered sources after a full resync: clears every active alarm
  // of `source` whose key is not in `active_keys`.
  virtual void retain_only(std::string_view source, const std::vector<std::string>& active_keys) = 0;
};

inline constexpr std::string_view kMonitoringApiRoot = "/o2ims-infrastructureMonitoring";

// ProbableCause ids: UUIDv5 of the alarm definition id (one cause per definition).
std::string probable_cause_id(std::string_view alarm_definition_id);
// Every ProbableCause of the inventory's alarm dictionaries, ordered by probableCauseId.
nlohmann::json probable_causes(const InventoryCache& inventory);

// Query schemas: the AlarmEventRecord, ProbableCause, AlarmSubscriptionInfo, and
// what an alarm subscription filter sees (the AlarmEventNotification's fields).
const AttributeSchema& alarm_record_schema();
const AttributeSchema& probable_cause_schema();
const AttributeSchema& alarm_subscription_schema();
const AttributeSchema& alarm_event_schema();
// An alarm subscription filter: an event type name (NEW, CHANGE, CLEAR, ACKNOWLEDGE,
// the spec's enum) or a filter expression over the notification's fields.
Parsed<Filter> parse_alarm_subscription_filter(std::string_view text);

// RFC 3339 UTC with seconds ("2042-07-21T17:32:28Z"); parse accepts offsets and fractions.
std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// The AlarmEventNotification body: globalCloudID and consumerSubscriptionId put in
// front of the stored event (post_json holds the rest, rendered once per event).
std::string render_alarm_notification(std::string_view global_cloud_id, const std::string& consumer_id,
                                      const EventRecord& event);

struct AlarmServiceOptions {
  std::string object_ref_base;  // "<serviceUri>/o2ims-infrastructureMonitoring/v1/alarms"
  SubscriptionsConfig::FilterMode filter_mode = SubscriptionsConfig::FilterMode::exclude;
  int default_retention_days = 30;  // until the API stores a retentionPeriod
};

// One alarm as served: immutable, replaced on every change.
struct AlarmEntry {
  std::string id;
  std::string source, key;
  bool active = true;
  std::string clearing_type;
  std::int64_t raised_ms = 0, changed_ms = 0, cleared_ms = 0;
  nlohmann::json doc;  // AlarmEventRecord
  std::string json;
};
using AlarmPtr = std::shared_ptr<const AlarmEntry>;

// Keeps the alarms: in memory for reads, in the store for restarts, and notifies the
// alarm subscribers of each event through the shared outbox.
class AlarmService final : public AlarmSink {
 public:
  using Clock = std::chrono::system_clock;
  AlarmService(Store& store, const InventoryCache& inventory, AlarmServiceOptions options,
               Metrics* metrics = nullptr);
  // Loads the stored alarms and configuration.
  void load();
  // Where notifications go, and the objectRef prefix ("<serviceUri>/o2ims-infrastructureMonitoring/v1/alarms",
  // known once the listener is bound); without this, events are stored but not notified.
  void connect(SubscriptionService* subscriptions, WebhookDeliverer* deliverer, std::string object_ref_base);
  // For tests: the time source (default: the system clock).
  void set_clock(std::function<Clock::time_point()> clock);

  std::optional<AlarmRejection> raise(const AlarmReport& report) override;
  void clear(std::string_view source, std::string_view key) override;
  void retain_only(std::string_view source, const std::vector<std::string>& active_keys) override;

  // Reads.
  [[nodiscard]] std::vector<AlarmPtr> alarms() const;  // ordered by id
  [[nodiscard]] AlarmPtr find(const std::string& id) const;
  [[nodiscard]] std::size_t active_count() const;

  // PATCH v1/alarms/{id} (AlarmEventRecordModifications): the applied modifications,
  // or the Problem (400 bad body, 404 unknown, 409 not allowed now).
  using PatchResult = std::variant<nlohmann::json, Problem>;
  PatchResult patch(const std::string& id, const nlohmann::json& body);

  // AlarmServiceConfiguration: GET, PUT (merge = false) and PATCH (merge = true).
  [[nodiscard]] nlohmann::json configuration() const;
  PatchResult update_configuration(const nlohmann::json& body, bool merge);
  // Purges the cleared alarms older than the retention period, as if now were `now`;
  // returns how many.
  std::size_t purge(Clock::time_point now);
  std::size_t purge() { return purge(now()); }

 private:
  struct Resolved;
  Clock::time_point now() const;
  std::optional<AlarmRejection> resolve(const AlarmReport& report, Resolved& out) const;
  // Stores the new state, notifies, publishes; caller holds mu_.
  void commit(AlarmEntry next, int event_type, std::int64_t at_ms);
  void clear_locked(const AlarmPtr& alarm, std::int64_t at_ms);
  AlarmPtr active_locked(std::string_view source, std::string_view key) const;

  Store& store_;
  const InventoryCache& inventory_;
  AlarmServiceOptions opt_;
  Metrics* metrics_;
  SubscriptionService* subs_ = nullptr;
  WebhookDeliverer* deliverer_ = nullptr;
  std::function<Clock::time_point()> clock_;
  mutable std::mutex mu_;
  std::map<std::string, AlarmPtr> by_id_;
  std::map<std::pair<std::string, std::string>, std::string> active_;  // (source, key) -> id
  nlohmann::json config_;
};

}  // namespace o2gw
