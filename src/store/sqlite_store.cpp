// The SQLite implementation of Store: one connection behind a mutex, cached
// prepared statements, WAL with synchronous=NORMAL, versioned migrations.
//
// Portability: table and query SQL sticks to what PostgreSQL also accepts, so a
// PostgreSQL store can reuse it. The SQLite-only parts are the PRAGMAs, BEGIN
// IMMEDIATE and `events.seq INTEGER PRIMARY KEY` (SQLite's rowid alias, which keeps
// inserts cheap; PostgreSQL would declare BIGINT PRIMARY KEY). Event seqs never come
// from the rowid: they are taken from the `sequences` table (PostgreSQL: a SEQUENCE),
// so a seq is never reused after garbage collection removed the newest events.
#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "o2gw/store.hpp"

namespace o2gw {
namespace {

constexpr int kBusyTimeoutMs = 5000;

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Applied in order at open, one transaction each. A released step is never edited:
// schema changes are new steps appended here.
constexpr Migration kMigrations[] = {
    {1, "subscriptions, events, outbox and dead letters", R"sql(
CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  family TEXT NOT NULL CHECK (family IN ('inventory', 'alarm')),
  callback TEXT NOT NULL,
  consumer_subscription_id TEXT NOT NULL,
  filter TEXT NOT NULL,
  tenant TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE sequences (
  name TEXT PRIMARY KEY,
  next_value BIGINT NOT NULL
);
INSERT INTO sequences (name, next_value) VALUES ('event_seq', 1);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
  family TEXT NOT NULL CHECK (family IN ('inventory', 'alarm')),
  event_type INTEGER NOT NULL,
  object_ref TEXT NOT NULL,
  prior_json TEXT NOT NULL,
  post_json TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE outbox (
  notification_id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  event_seq BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  enqueued_ms BIGINT NOT NULL
);
CREATE INDEX outbox_by_subscription ON outbox (subscription_id, event_seq);
CREATE TABLE dead_letters (
  notification_id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  event_seq BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  enqueued_ms BIGINT NOT NULL,
  reason TEXT NOT NULL,
  last_status INTEGER NOT NULL,
  dead_ms BIGINT NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (dead_ms);
)sql"},
    {2, "object digests (restart without spurious notifications)", R"sql(
CREATE TABLE object_digests (
  key TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  digest BIGINT NOT NULL,
  object_ref TEXT NOT NULL
);
)sql"},
    {3, "alarms, alarm history and the alarm service configuration", R"sql(
CREATE TABLE alarms (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  alarm_key TEXT NOT NULL,
  active INTEGER NOT NULL,
  clearing_type TEXT NOT NULL,
  record_json TEXT NOT NULL,
  raised_ms BIGINT NOT NULL,
  changed_ms BIGINT NOT NULL,
  cleared_ms BIGINT NOT NULL
);
CREATE INDEX alarms_by_source ON alarms (source, alarm_key, active);
CREATE INDEX alarms_by_cleared ON alarms (active, cleared_ms);
CREATE TABLE alarm_history (
  alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  event_type INTEGER NOT NULL,
  record_json TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  PRIMARY KEY (alarm_id, seq)
);
CREATE TABLE alarm_service_configuration (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  config_json TEXT NOT NULL
);
)sql"},
};

constexpr int kLatestVersion = static_cast<int>(std::size(kMigrations));

constexpr bool migrations_are_contiguous() {
  for (std::size_t i = 0; i < std::size(kMigrations); ++i) {
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(migrations_are_contiguous(), "migration versions must be 1, 2, 3, ... in order");

std::string_view family_text(SubscriptionFamily family) {
  switch (family) {
    case SubscriptionFamily::inventory: return "inventory";
    case SubscriptionFamily::alarm: return "alarm";
  }
  throw StoreError("store: invalid subscription family " + std::to_string(static_cast<int>(family)));
}

SubscriptionFamily family_from_text(std::string_view text) {
  if (text == "inventory") return SubscriptionFamily::inventory;
  if (text == "alarm") return SubscriptionFamily::alarm;
  throw StoreError("store: unknown subscription family in database: '" + std::string(text) + "'");
}

// SQLite treats negative limits as "no limit" but PostgreSQL does not, so "all" is
// the largest BIGINT, which both read the same way.
std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return limit == 0 ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(std::min(limit, kMax));
}

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using ConnectionHandle = std::unique_ptr<sqlite3, ConnectionCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

[[noreturn]] void fail(sqlite3* db, std::string_view operation) {
  throw StoreError("store: " + std::string(operation) + ": " + sqlite3_errmsg(db));
}

// One use of a prepared statement. Resets it on destruction so a cached statement
// never keeps a read snapshot open or carries bindings into its next use.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt, std::string_view operation) noexcept
      : db_(db), stmt_(stmt), operation_(operation) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Bound without a copy (SQLITE_STATIC): the text must outlive this Query.
  Query& bind(int index, std::string_view text) {
    // An empty view may have a null data(), which SQLite would bind as NULL.
    const char* data = text.empty() ? "" : text.data();
    check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Query& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }

  // True while a row is available.
  bool next_row() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, operation_);
  }
  void run() {
    while (next_row()) {
    }
  }
  // For callers that turn particular codes into their own errors.
  int step_code() { return sqlite3_step(stmt_); }

  [[nodiscard]] std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  [[nodiscard]] int integer(int column) const { return sqlite3_column_int(stmt_, column); }
  [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  [[nodiscard]] std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, operation_);
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string_view operation_;
};

// Outbox columns in this order, starting at `first`:
// notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms.
OutboxEntry read_entry(const Query& q, int first = 0) {
  OutboxEntry e;
  e.notification_id = q.text(first);
  e.subscription_id = q.text(first + 1);
  e.event_seq = q.int64(first + 2);
  e.attempts = q.integer(first + 3);
  e.next_attempt_ms = q.int64(first + 4);
  e.enqueued_ms = q.int64(first + 5);
  return e;
}

SubscriptionRecord read_subscription(const Query& q) {
  SubscriptionRecord s;
  s.id = q.text(0);
  s.family = family_from_text(q.text(1));
  s.callback = q.text(2);
  s.consumer_subscription_id = q.text(3);
  s.filter = q.text(4);
  s.tenant = q.text(5);
  s.created_ms = q.int64(6);
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::filesystem::path& path) : path_(path.string()) {
    sqlite3* raw = nullptr;
    // NOMUTEX: mu_ already serialises every use of the connection.
    const int rc = sqlite3_open_v2(path_.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // the handle exists even when opening failed, and must be closed
    if (rc != SQLITE_OK) {
      throw StoreError("store: cannot open SQLite database '" + path_ +
                       "': " + (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    try {
      configure();
      migrate();
    } catch (const StoreError& e) {
      throw StoreError("store: SQLite database '" + path_ + "': " + e.what());
    }
  }

  int schema_version() override {
    std::lock_guard lock(mu_);
    return read_schema_version();
  }

  void insert_subscription(const SubscriptionRecord& s) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "INSERT INTO subscriptions (id, family, callback, consumer_subscription_id, filter, tenant, created_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        "insert subscription");
    q.bind(1, s.id).bind(2, family_text(s.family)).bind(3, s.callback).bind(4, s.consumer_subscription_id);
    q.bind(5, s.filter).bind(6, s.tenant).bind(7, s.created_ms);
    const int rc = q.step_code();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) throw StoreError("store: subscription id already exists: " + s.id);
    if (rc != SQLITE_DONE) fail(db(), "insert subscription");
  }

  bool delete_subscription(const std::string& id) override {
    std::lock_guard lock(mu_);
    // foreign_keys=ON makes this cascade to the subscription's outbox rows.
    Query q = query("DELETE FROM subscriptions WHERE id = ?1", "delete subscription");
    q.bind(1, id).run();
    return sqlite3_changes64(db()) > 0;
  }

  std::vector<SubscriptionRecord> subscriptions(SubscriptionFamily family) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "SELECT id, family, callback, consumer_subscription_id, filter, tenant, created_ms "
        "FROM subscriptions WHERE family = ?1 ORDER BY created_ms, id",
        "list subscriptions");
    q.bind(1, family_text(family));
    std::vector<SubscriptionRecord> out;
    while (q.next_row()) out.push_back(read_subscription(q));
    return out;
  }

  std::optional<SubscriptionRecord> subscription(const std::string& id) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "SELECT id, family, callback, consumer_subscription_id, filter, tenant, created_ms "
        "FROM subscriptions WHERE id = ?1",
        "read subscription");
    q.bind(1, id);
    if (!q.next_row()) return std::nullopt;
    return read_subscription(q);
  }

  void enqueue(std::span<PendingEvent> events, const DigestChanges& digests) override {
    if (events.empty() && digests.empty()) return;
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "enqueue");
    if (!digests.empty()) {
      sqlite3_stmt* upsert = statement(
          "INSERT INTO object_digests (key, source, digest, object_ref) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (key) DO UPDATE SET source = excluded.source, digest = excluded.digest, "
          "object_ref = excluded.object_ref");
      for (const ObjectDigest& d : digests.upserts) {
        Query q(db(), upsert, "enqueue: upsert object digest");
        q.bind(1, d.key).bind(2, d.source).bind(3, d.digest).bind(4, d.object_ref).run();
      }
      sqlite3_stmt* remove = statement("DELETE FROM object_digests WHERE key = ?1");
      for (const std::string& key : digests.removals) {
        Query q(db(), remove, "enqueue: delete object digest");
        q.bind(1, key).run();
      }
    }
    if (events.empty()) {
      tx.commit();
      return;
    }

    const std::int64_t first_seq = write_events(events);
    tx.commit();
    number_events(events, first_seq);
  }

  void save_alarm(const AlarmRow& a, const AlarmHistoryRow& event, std::span<PendingEvent> notifications) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "save alarm");
    {
      Query q = query(
          "INSERT INTO alarms (id, source, alarm_key, active, clearing_type, record_json, raised_ms, changed_ms, "
          "cleared_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
          "ON CONFLICT (id) DO UPDATE SET source = excluded.source, alarm_key = excluded.alarm_key, "
          "active = excluded.active, clearing_type = excluded.clearing_type, record_json = excluded.record_json, "
          "raised_ms = excluded.raised_ms, changed_ms = excluded.changed_ms, cleared_ms = excluded.cleared_ms",
          "save alarm: upsert alarm");
      q.bind(1, a.id).bind(2, a.source).bind(3, a.key).bind(4, std::int64_t{a.active ? 1 : 0}).bind(5, a.clearing_type);
      q.bind(6, a.record_json).bind(7, a.raised_ms).bind(8, a.changed_ms).bind(9, a.cleared_ms).run();
    }
    {
      Query q = query(
          "INSERT INTO alarm_history (alarm_id, seq, event_type, record_json, at_ms) "
          "SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM alarm_history WHERE alarm_id = ?1",
          "save alarm: append history");
      q.bind(1, a.id).bind(2, std::int64_t{event.event_type}).bind(3, event.record_json).bind(4, event.at_ms).run();
    }
    std::int64_t first_seq = 0;
    if (!notifications.empty()) first_seq = write_events(notifications);
    tx.commit();
    if (!notifications.empty()) number_events(notifications, first_seq);
  }

  std::vector<AlarmRow> alarms() override {
    std::lock_guard lock(mu_);
    Query q = query(
        "SELECT id, source, alarm_key, active, clearing_type, record_json, raised_ms, changed_ms, cleared_ms "
        "FROM alarms ORDER BY id",
        "list alarms");
    std::vector<AlarmRow> out;
    while (q.next_row()) {
      AlarmRow a;
      a.id = q.text(0);
      a.source = q.text(1);
      a.key = q.text(2);
      a.active = q.int64(3) != 0;
      a.clearing_type = q.text(4);
      a.record_json = q.text(5);
      a.raised_ms = q.int64(6);
      a.changed_ms = q.int64(7);
      a.cleared_ms = q.int64(8);
      out.push_back(std::move(a));
    }
    return out;
  }

  std::vector<AlarmHistoryRow> alarm_history(const std::string& alarm_id) override {
    std::lock_guard lock(mu_);
    Query q = query("SELECT alarm_id, event_type, record_json, at_ms FROM alarm_history WHERE alarm_id = ?1 ORDER BY seq",
                    "read alarm history");
    q.bind(1, alarm_id);
    std::vector<AlarmHistoryRow> out;
    while (q.next_row()) out.push_back({q.text(0), q.integer(1), q.text(2), q.int64(3)});
    return out;
  }

  std::vector<std::string> purge_alarms(std::int64_t cleared_before_ms) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "purge alarms");
    std::vector<std::string> ids;
    {
      Query q = query("SELECT id FROM alarms WHERE active = 0 AND cleared_ms < ?1 ORDER BY id", "purge alarms: select");
      q.bind(1, cleared_before_ms);
      while (q.next_row()) ids.push_back(q.text(0));
    }
    {
      // alarm_history rows go with them (ON DELETE CASCADE).
      Query q = query("DELETE FROM alarms WHERE active = 0 AND cleared_ms < ?1", "purge alarms: delete");
      q.bind(1, cleared_before_ms).run();
    }
    tx.commit();
    return ids;
  }

  std::optional<std::string> alarm_configuration() override {
    std::lock_guard lock(mu_);
    Query q = query("SELECT config_json FROM alarm_service_configuration WHERE id = 1", "read alarm configuration");
    if (!q.next_row()) return std::nullopt;
    return q.text(0);
  }

  void save_alarm_configuration(const std::string& json) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "INSERT INTO alarm_service_configuration (id, config_json) VALUES (1, ?1) "
        "ON CONFLICT (id) DO UPDATE SET config_json = excluded.config_json",
        "save alarm configuration");
    q.bind(1, json).run();
  }

  std::vector<OutboxEntry> pending(std::size_t limit_per_subscription) override {
    std::lock_guard lock(mu_);
    std::vector<OutboxEntry> out;
    if (limit_per_subscription == 0) {
      Query q = query(
          "SELECT notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms "
          "FROM outbox ORDER BY subscription_id, event_seq, notification_id",
          "list pending entries");
      while (q.next_row()) out.push_back(read_entry(q));
      return out;
    }
    // One indexed, limited query per subscription reads at most limit rows each, where
    // a window function over the whole outbox would scan a large backlog in full.
    // The read transaction gives all of them one snapshot.
    Transaction tx(*this, Transaction::Mode::read, "list pending entries");
    std::vector<std::string> ids;
    {
      Query q = query("SELECT id FROM subscriptions ORDER BY id", "list pending entries: subscriptions");
      while (q.next_row()) ids.push_back(q.text(0));
    }
    for (const std::string& id : ids) {
      append_pending(out, id, std::numeric_limits<std::int64_t>::min(), sql_limit(limit_per_subscription));
    }
    tx.commit();
    return out;
  }

  std::vector<OutboxEntry> pending_for(const std::string& subscription_id, std::int64_t after_seq,
                                       std::size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<OutboxEntry> out;
    append_pending(out, subscription_id, after_seq, sql_limit(limit));
    return out;
  }

  std::optional<EventRecord> event(std::int64_t seq) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "SELECT seq, family, event_type, object_ref, prior_json, post_json, created_ms FROM events WHERE seq = ?1",
        "read event");
    q.bind(1, seq);
    if (!q.next_row()) return std::nullopt;
    EventRecord e;
    e.seq = q.int64(0);
    e.family = family_from_text(q.text(1));
    e.event_type = q.integer(2);
    e.object_ref = q.text(3);
    e.prior_json = q.text(4);
    e.post_json = q.text(5);
    e.created_ms = q.int64(6);
    return e;
  }

  void complete(std::span<const std::string> notification_ids) override {
    if (notification_ids.empty()) return;
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "complete");
    sqlite3_stmt* remove = statement("DELETE FROM outbox WHERE notification_id = ?1");
    for (const std::string& id : notification_ids) {
      Query q(db(), remove, "complete: delete outbox entry");
      q.bind(1, id).run();
    }
    tx.commit();
  }

  void reschedule(const std::string& notification_id, int attempts, std::int64_t next_attempt_ms) override {
    std::lock_guard lock(mu_);
    Query q = query("UPDATE outbox SET attempts = ?1, next_attempt_ms = ?2 WHERE notification_id = ?3",
                    "reschedule outbox entry");
    q.bind(1, std::int64_t{attempts}).bind(2, next_attempt_ms).bind(3, notification_id).run();
  }

  void dead_letter(const DeadLetter& d) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "dead-letter");
    {
      Query q = query(
          "INSERT INTO dead_letters (notification_id, subscription_id, event_seq, attempts, next_attempt_ms, "
          "enqueued_ms, reason, last_status, dead_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
          "dead-letter: insert");
      const OutboxEntry& e = d.entry;
      q.bind(1, e.notification_id).bind(2, e.subscription_id).bind(3, e.event_seq).bind(4, std::int64_t{e.attempts});
      q.bind(5, e.next_attempt_ms).bind(6, e.enqueued_ms).bind(7, d.reason).bind(8, std::int64_t{d.last_status});
      q.bind(9, d.dead_ms).run();
    }
    {
      Query q = query("DELETE FROM outbox WHERE notification_id = ?1", "dead-letter: delete outbox entry");
      q.bind(1, d.entry.notification_id).run();
    }
    tx.commit();
  }

  std::vector<ObjectDigest> object_digests() override {
    std::lock_guard lock(mu_);
    std::vector<ObjectDigest> out;
    Query q = query("SELECT key, source, digest, object_ref FROM object_digests", "list object digests");
    while (q.next_row()) out.push_back({q.text(0), q.text(1), q.int64(2), q.text(3)});
    return out;
  }

  std::vector<std::pair<std::string, std::size_t>> outbox_depths() override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, std::size_t>> out;
    Query q = query("SELECT subscription_id, COUNT(*) FROM outbox GROUP BY subscription_id", "count outbox per subscription");
    while (q.next_row()) out.emplace_back(q.text(0), static_cast<std::size_t>(q.int64(1)));
    return out;
  }

  std::size_t outbox_depth() override {
    std::lock_guard lock(mu_);
    Query q = query("SELECT COUNT(*) FROM outbox", "count outbox entries");
    q.next_row();
    return static_cast<std::size_t>(q.int64(0));
  }

  std::size_t collect_garbage() override {
    std::lock_guard lock(mu_);
    // Uncorrelated NOT IN is evaluated once per subquery (SQLite builds a temporary
    // index, PostgreSQL a hashed subplan), so this needs no index on event_seq.
    Query q = query(
        "DELETE FROM events WHERE seq NOT IN (SELECT event_seq FROM outbox) "
        "AND seq NOT IN (SELECT event_seq FROM dead_letters)",
        "collect garbage events");
    q.run();
    return static_cast<std::size_t>(sqlite3_changes64(db()));
  }

  std::vector<DeadLetter> dead_letters(std::size_t limit) override {
    std::lock_guard lock(mu_);
    Query q = query(
        "SELECT notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms, "
        "reason, last_status, dead_ms FROM dead_letters ORDER BY dead_ms, notification_id LIMIT ?1",
        "list dead letters");
    q.bind(1, sql_limit(limit));
    std::vector<DeadLetter> out;
    while (q.next_row()) {
      DeadLetter d;
      d.entry = read_entry(q);
      d.reason = q.text(6);
      d.last_status = q.integer(7);
      d.dead_ms = q.int64(8);
      out.push_back(std::move(d));
    }
    return out;
  }

  std::vector<OutboxEntry> replay(std::span<const std::string> notification_ids, std::int64_t now) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, Transaction::Mode::write, "replay");
    std::vector<OutboxEntry> moved;
    if (notification_ids.empty()) {
      std::vector<OutboxEntry> candidates;
      {
        Query q = query(
            "SELECT d.notification_id, d.subscription_id, d.event_seq, d.attempts, d.next_attempt_ms, "
            "d.enqueued_ms FROM dead_letters d "
            "WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id)",
            "replay: list dead letters");
        while (q.next_row()) candidates.push_back(read_entry(q));
      }
      for (OutboxEntry& entry : candidates) move_to_outbox(entry, now);
      moved = std::move(candidates);
    } else {
      for (const std::string& id : notification_ids) {
        std::optional<OutboxEntry> entry;
        {
          Query q = query(
              "SELECT d.notification_id, d.subscription_id, d.event_seq, d.attempts, d.next_attempt_ms, "
              "d.enqueued_ms FROM dead_letters d WHERE d.notification_id = ?1 "
              "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id)",
              "replay: read dead letter");
          q.bind(1, id);
          if (q.next_row()) entry = read_entry(q);
        }
        // Moved at once, so an id listed twice is found only the first time.
        if (!entry) continue;
        move_to_outbox(*entry, now);
        moved.push_back(std::move(*entry));
      }
    }
    tx.commit();
    // In delivery order, ready to append to per-subscription queues.
    std::sort(moved.begin(), moved.end(), [](const OutboxEntry& a, const OutboxEntry& b) {
      return std::tie(a.subscription_id, a.event_seq, a.notification_id) <
             std::tie(b.subscription_id, b.event_seq, b.notification_id);
    });
    return moved;
  }

 private:
  // Inserts the events and their outbox entries (inside the caller's transaction) and
  // returns the first seq used; the caller numbers its records after the commit.
  std::int64_t write_events(std::span<PendingEvent> events) {
    std::int64_t first_seq = 0;
    {
      Query q = query("SELECT next_value FROM sequences WHERE name = 'event_seq'", "enqueue: read event seq");
      if (!q.next_row()) throw StoreError("store: enqueue: the event_seq counter is missing");
      first_seq = q.int64(0);
    }
    // Looked up once: the loop below runs thousands of times per call.
    sqlite3_stmt* insert_event = statement(
        "INSERT INTO events (seq, family, event_type, object_ref, prior_json, post_json, created_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_stmt* insert_entry = statement(
        "INSERT INTO outbox (notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

    std::int64_t seq = first_seq;
    for (const PendingEvent& pending_event : events) {
      const EventRecord& ev = pending_event.event;
      {
        Query q(db(), insert_event, "enqueue: insert event");
        q.bind(1, seq).bind(2, family_text(ev.family)).bind(3, std::int64_t{ev.event_type}).bind(4, ev.object_ref);
        q.bind(5, ev.prior_json).bind(6, ev.post_json).bind(7, ev.created_ms).run();
      }
      for (const OutboxEntry& entry : pending_event.entries) {
        Query q(db(), insert_entry, "enqueue: insert outbox entry");
        q.bind(1, entry.notification_id).bind(2, entry.subscription_id).bind(3, seq);
        q.bind(4, std::int64_t{entry.attempts}).bind(5, entry.next_attempt_ms).bind(6, entry.enqueued_ms).run();
      }
      ++seq;
    }
    {
      Query q = query("UPDATE sequences SET next_value = ?1 WHERE name = 'event_seq'", "enqueue: advance event seq");
      q.bind(1, seq).run();
    }
    return first_seq;
  }

  // Only after the commit, so a failed call leaves the caller's records untouched.
  static void number_events(std::span<PendingEvent> events, std::int64_t first_seq) {
    std::int64_t seq = first_seq;
    for (PendingEvent& pending_event : events) {
      pending_event.event.seq = seq;
      for (OutboxEntry& entry : pending_event.entries) entry.event_seq = seq;
      ++seq;
    }
  }

  // BEGIN ... COMMIT, rolled back on destruction unless committed.
  class Transaction {
   public:
    // write takes the write lock up front (BEGIN IMMEDIATE), so a write transaction
    // waits in busy_timeout at its start instead of failing half-way with SQLITE_BUSY.
    enum class Mode { read, write };
    Transaction(SqliteStore& store, Mode mode, std::string_view operation) : store_(store), operation_(operation) {
      Query q = store_.query(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN", operation_);
      q.run();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
      // Some errors already rolled back; only roll back a transaction that is still open.
      if (!committed_ && sqlite3_get_autocommit(store_.db()) == 0) {
        sqlite3_exec(store_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
    void commit() {
      Query q = store_.query("COMMIT", operation_);
      q.run();
      committed_ = true;
    }

   private:
    SqliteStore& store_;
    std::string_view operation_;
    bool committed_ = false;
  };

  sqlite3* db() const noexcept { return db_.get(); }

  // The cached statement for `sql`, prepared on first use. `sql` is always a string
  // literal, so the view used as the key stays valid.
  sqlite3_stmt* statement(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                           nullptr) != SQLITE_OK) {
      fail(db(), "prepare \"" + std::string(sql) + "\"");
    }
    statements_.emplace(sql, StatementHandle(raw));
    return raw;
  }

  Query query(std::string_view sql, std::string_view operation) { return Query(db(), statement(sql), operation); }

  // For one-off statements (PRAGMAs, DDL) that are not worth caching.
  void exec(const char* sql, std::string_view operation) {
    if (sqlite3_exec(db(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db(), operation);
  }
  std::string pragma_text(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db(), sql, -1, &raw, nullptr) != SQLITE_OK) fail(db(), sql);
    StatementHandle owned(raw);
    Query q(db(), raw, sql);
    return q.next_row() ? q.text(0) : std::string();
  }

  void configure() {
    sqlite3_extended_result_codes(db(), 1);
    sqlite3_busy_timeout(db(), kBusyTimeoutMs);
    const std::string journal_mode = pragma_text("PRAGMA journal_mode=WAL");
    // An in-memory database reports "memory"; it has no durability to lose.
    if (journal_mode != "wal" && journal_mode != "memory") {
      throw StoreError("store: cannot enable WAL journal mode (got '" + journal_mode + "')");
    }
    // In WAL mode NORMAL syncs at checkpoints only: a committed transaction survives
    // a process crash; a power loss may take the last few back.
    exec("PRAGMA synchronous=NORMAL", "set synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON", "enable foreign keys");
    // A build without foreign key support ignores the PRAGMA; the cascade relies on it.
    if (pragma_text("PRAGMA foreign_keys") != "1") throw StoreError("store: this SQLite has no foreign key support");
  }

  int read_schema_version() {
    Query q = query("SELECT MAX(version) FROM schema_version", "read schema version");
    if (!q.next_row() || q.is_null(0)) return 0;
    return q.integer(0);
  }

  void migrate() {
    for (;;) {
      Transaction tx(*this, Transaction::Mode::write, "migrate schema");
      // Created inside the transaction, so two processes opening a new file agree on it.
      exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
           "create schema_version");
      const int current = read_schema_version();
      if (current > kLatestVersion) {
        throw StoreError("database schema version " + std::to_string(current) +
                         " is newer than this o2gw supports (version " + std::to_string(kLatestVersion) + ")");
      }
      if (current == kLatestVersion) {
        tx.commit();
        return;
      }
      const Migration& step = kMigrations[current];
      exec(step.sql, "migrate schema to version " + std::to_string(step.version));
      {
        Query q = query("INSERT INTO schema_version (version, applied_ms) VALUES (?1, ?2)", "record schema version");
        q.bind(1, std::int64_t{step.version}).bind(2, now_ms()).run();
      }
      tx.commit();
      spdlog::info("store {}: schema migrated to version {} ({})", path_, step.version, step.description);
    }
  }

  void append_pending(std::vector<OutboxEntry>& out, const std::string& subscription_id, std::int64_t after_seq,
                      std::int64_t limit) {
    Query q = query(
        "SELECT notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms "
        "FROM outbox WHERE subscription_id = ?1 AND event_seq > ?2 "
        "ORDER BY event_seq, notification_id LIMIT ?3",
        "list pending entries of a subscription");
    q.bind(1, subscription_id).bind(2, after_seq).bind(3, limit);
    while (q.next_row()) out.push_back(read_entry(q));
  }

  // Replay of one dead letter: back in the outbox as a fresh delivery, same notification id.
  void move_to_outbox(OutboxEntry& entry, std::int64_t now) {
    // A replay is a fresh start: attempts and the age limit count from now.
    entry.attempts = 0;
    entry.next_attempt_ms = now;
    entry.enqueued_ms = now;
    {
      Query q = query(
          "INSERT INTO outbox (notification_id, subscription_id, event_seq, attempts, next_attempt_ms, enqueued_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
          "replay: insert outbox entry");
      q.bind(1, entry.notification_id).bind(2, entry.subscription_id).bind(3, entry.event_seq);
      q.bind(4, std::int64_t{entry.attempts}).bind(5, entry.next_attempt_ms).bind(6, entry.enqueued_ms).run();
    }
    Query q = query("DELETE FROM dead_letters WHERE notification_id = ?1", "replay: delete dead letter");
    q.bind(1, entry.notification_id).run();
  }

  std::string path_;
  std::mutex mu_;
  ConnectionHandle db_;
  // Declared after db_ so the statements are finalized before the connection closes.
  std::unordered_map<std::string_view, StatementHandle> statements_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace o2gw
