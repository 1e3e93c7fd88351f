// Persistent state behind one interface: subscriptions, the notification outbox
// and the dead-letter list. The embedded implementation is SQLite (WAL); its SQL
// is kept portable so a PostgreSQL implementation is a new class, not a rewrite.
// Every method is synchronous and thread-safe; callers keep it off I/O threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace o2gw {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which API a subscription belongs to; notifications of one family never reach
// subscriptions of another.
enum class SubscriptionFamily { inventory, alarm };

struct SubscriptionRecord {
  std::string id;                       // subscriptionId (UUID), allocated by o2gw
  SubscriptionFamily family = SubscriptionFamily::inventory;
  std::string callback;                 // absolute http(s) URL
  std::string consumer_subscription_id; // optional UUID; empty when absent
  std::string filter;                   // filter text as given; empty when absent
  std::string tenant;                   // empty: no tenant
  std::int64_t created_ms = 0;          // unix milliseconds
};

// One change event, stored once however many subscriptions it matched.
struct EventRecord {
  std::int64_t seq = 0;       // assigned by the store, increasing
  SubscriptionFamily family = SubscriptionFamily::inventory;
  int event_type = 0;         // notificationEventType (0 create, 1 modify, 2 delete for inventory)
  std::string object_ref;     // URL path of the object
  std::string prior_json;     // serialised prior state, empty when none
  std::string post_json;      // serialised post state, empty when none
  std::int64_t created_ms = 0;  // when the change happened (latency is measured from here)
};

// One notification waiting for delivery: (subscription, event).
struct OutboxEntry {
  std::string notification_id;  // UUID, stable across retries and restarts
  std::string subscription_id;
  std::int64_t event_seq = 0;
  int attempts = 0;                 // delivery attempts made so far
  std::int64_t next_attempt_ms = 0; // not before (unix ms)
  std::int64_t enqueued_ms = 0;
};

struct DeadLetter {
  OutboxEntry entry;
  std::string reason;   // why delivery stopped ("HTTP 400", "max attempts (20)", ...)
  int last_status = 0;  // last HTTP status, 0 when none
  std::int64_t dead_ms = 0;
};

// A change and the notifications it produced, written in one transaction.
struct PendingEvent {
  EventRecord event;                 // seq filled in by enqueue()
  std::vector<OutboxEntry> entries;  // event_seq filled in by enqueue()
};

// What the notifier last saw of one inventory object, so a restart can tell a real
// change from the adapters re-reading an unchanged inventory.
struct ObjectDigest {
  std::string key;         // "<kind>/<id>"
  std::string source;      // adapter instance that owned it
  std::int64_t digest = 0; // hash of its canonical JSON
  std::string object_ref;  // for a delete noticed after a restart
};
struct DigestChanges {
  std::vector<ObjectDigest> upserts;
  std::vector<std::string> removals;  // keys
  [[nodiscard]] bool empty() const { return upserts.empty() && removals.empty(); }
};

// One alarm (AlarmEventRecord) as stored: its identity within its source, whether
// it is still active, and the record as served.
struct AlarmRow {
  std::string id;               // alarmEventRecordId
  std::string source;           // AlarmReport::source
  std::string key;              // AlarmReport::key
  bool active = true;           // false once cleared
  std::string clearing_type;    // the definition's clearingType when raised ("MANUAL", "AUTOMATIC", "")
  std::string record_json;      // the AlarmEventRecord
  std::int64_t raised_ms = 0;
  std::int64_t changed_ms = 0;
  std::int64_t cleared_ms = 0;  // 0 while active
};

// One event in an alarm's life: the record as it was after the event.
struct AlarmHistoryRow {
  std::string alarm_id;
  int event_type = 0;  // AlarmEventType
  std::string record_json;
  std::int64_t at_ms = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Schema version after migrations (for logs and tests).
  [[nodiscard]] virtual int schema_version() = 0;

  // --- subscriptions
  virtual void insert_subscription(const SubscriptionRecord& s) = 0;
  // Removes the subscription with its outbox entries; dead letters are kept for the
  // operator. False when no such id.
  virtual bool delete_subscription(const std::string& id) = 0;
  [[nodiscard]] virtual std::vector<SubscriptionRecord> subscriptions(SubscriptionFamily family) = 0;
  [[nodiscard]] virtual std::optional<SubscriptionRecord> subscription(const std::string& id) = 0;

  // --- outbox
  // Writes the events and their entries in one transaction, assigning event seqs
  // (and copying them into the entries). Durable when it returns.
  // The digest changes are written in the same transaction.
  virtual void enqueue(std::span<PendingEvent> events, const DigestChanges& digests) = 0;
  void enqueue(std::span<PendingEvent> events) { enqueue(events, DigestChanges{}); }
  // Every stored object digest (loaded once at start-up).
  [[nodiscard]] virtual std::vector<ObjectDigest> object_digests() = 0;
  // Every pending entry, ordered by (subscription_id, event_seq); at most `limit`
  // per subscription (0: all). Used at start-up and when a queue was trimmed.
  [[nodiscard]] virtual std::vector<OutboxEntry> pending(std::size_t limit_per_subscription) = 0;
  // Pending entries of one subscription with event_seq > after_seq, in order, at most limit.
  [[nodiscard]] virtual std::vector<OutboxEntry> pending_for(const std::string& subscription_id,
                                                             std::int64_t after_seq, std::size_t limit) = 0;
  [[nodiscard]] virtual std::optional<EventRecord> event(std::int64_t seq) = 0;
  // Removes delivered entries (one transaction for the batch).
  virtual void complete(std::span<const std::string> notification_ids) = 0;
  // Records a failed attempt: attempts and next_attempt_ms as given.
  virtual void reschedule(const std::string& notification_id, int attempts, std::int64_t next_attempt_ms) = 0;
  // Moves an entry from the outbox to the dead-letter list.
  virtual void dead_letter(const DeadLetter& d) = 0;
  [[nodiscard]] virtual std::size_t outbox_depth() = 0;
  // Pending entries per subscription id (for the per-subscriber depth gauge).
  [[nodiscard]] virtual std::vector<std::pair<std::string, std::size_t>> outbox_depths() = 0;
  // Deletes events no outbox entry or dead letter refers to any more; returns how many.
  virtual std::size_t collect_garbage() = 0;

  // --- dead letters
  [[nodiscard]] virtual std::vector<DeadLetter> dead_letters(std::size_t limit) = 0;
  // Moves dead letters back to the outbox with attempts 0 and next_attempt_ms = enqueued_ms = now_ms
  // (so the age limit counts from the replay)
  // (all of them when ids is empty); entries whose subscription no longer exists stay
  // dead. Returns the entries moved.
  virtual std::vector<OutboxEntry> replay(std::span<const std::string> notification_ids, std::int64_t now_ms) = 0;

  // --- alarms
  // Inserts or replaces the alarm row and appends `event` to its history, with the
  // notifications it produced (may be empty), in one transaction.
  virtual void save_alarm(const AlarmRow& alarm, const AlarmHistoryRow& event, std::span<PendingEvent> notifications) = 0;
  // Every stored alarm, ordered by id.
  [[nodiscard]] virtual std::vector<AlarmRow> alarms() = 0;
  [[nodiscard]] virtual std::vector<AlarmHistoryRow> alarm_history(const std::string& alarm_id) = 0;
  // Deletes the cleared alarms cleared before `cleared_before_ms`, with their history; returns their ids.
  virtual std::vector<std::string> purge_alarms(std::int64_t cleared_before_ms) = 0;
  // The alarm service configuration (AlarmServiceConfiguration JSON); nullopt until first saved.
  [[nodiscard]] virtual std::optional<std::string> alarm_configuration() = 0;
  virtual void save_alarm_configuration(const std::string& json) = 0;
};

// Opens (creating if needed) the SQLite database at `path`, enables WAL and
// synchronous=NORMAL (a committed transaction survives a process crash), and runs
// the schema migrations. Throws StoreError with the file and the reason.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path);

}  // namespace o2gw
