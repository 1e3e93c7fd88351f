#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "o2gw/store.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {
namespace {

using Family = SubscriptionFamily;

SubscriptionRecord make_subscription(const std::string& id, Family family = Family::inventory) {
  SubscriptionRecord s;
  s.id = id;
  s.family = family;
  s.callback = "https://consumer.example/notify/" + id;
  s.consumer_subscription_id = Uuid::v4().str();
  s.filter = "(eq,resourceTypeId,abc)";
  s.tenant = "tenant-a";
  s.created_ms = 1'700'000'000'000;
  return s;
}

// One event with one outbox entry per listed subscription.
PendingEvent make_event(const std::vector<std::string>& subscription_ids, std::int64_t created_ms = 1'000) {
  PendingEvent p;
  p.event.family = Family::inventory;
  p.event.event_type = 1;
  p.event.object_ref = "/o2ims-infrastructureInventory/v1/resourcePools/" + Uuid::v4().str();
  p.event.prior_json = R"({"name":"before"})";
  p.event.post_json = R"({"name":"after"})";
  p.event.created_ms = created_ms;
  for (const auto& sub : subscription_ids) {
    OutboxEntry e;
    e.notification_id = Uuid::v4().str();
    e.subscription_id = sub;
    e.next_attempt_ms = created_ms;
    e.enqueued_ms = created_ms;
    p.entries.push_back(std::move(e));
  }
  return p;
}

std::vector<std::string> ids_of(const std::vector<OutboxEntry>& entries) {
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back(e.notification_id);
  return ids;
}

// Runs one statement on the database file behind the store's back.
void raw_exec(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "o2gw-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ / "o2gw.db";
    store_ = open_sqlite_store(file_);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void reopen() {
    store_.reset();
    store_ = open_sqlite_store(file_);
  }
  void add_subscriptions(std::initializer_list<std::string> ids) {
    for (const auto& id : ids) store_->insert_subscription(make_subscription(id));
  }
  // Enqueues one event per call of make_event and returns the entries, seqs filled in.
  std::vector<OutboxEntry> enqueue(std::vector<PendingEvent> events) {
    store_->enqueue(events);
    std::vector<OutboxEntry> entries;
    for (const auto& p : events) entries.insert(entries.end(), p.entries.begin(), p.entries.end());
    return entries;
  }
  DeadLetter dead(const OutboxEntry& e, std::int64_t dead_ms = 5'000) {
    DeadLetter d;
    d.entry = e;
    d.entry.attempts = 3;
    d.reason = "HTTP 400";
    d.last_status = 400;
    d.dead_ms = dead_ms;
    return d;
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, FreshDatabaseIsMigrated) {
  EXPECT_GE(store_->schema_version(), 1);
  EXPECT_EQ(store_->outbox_depth(), 0u);
  EXPECT_TRUE(store_->subscriptions(Family::inventory).empty());
  EXPECT_TRUE(store_->dead_letters(0).empty());
  const int version = store_->schema_version();
  reopen();  // migrations already applied: nothing to do, same version
  EXPECT_EQ(store_->schema_version(), version);
}

TEST_F(SqliteStoreTest, ReopenKeepsSubscriptions) {
  const auto inv = make_subscription("sub-inv", Family::inventory);
  const auto alarm = make_subscription("sub-alarm", Family::alarm);
  store_->insert_subscription(inv);
  store_->insert_subscription(alarm);
  reopen();
  const auto inventory = store_->subscriptions(Family::inventory);
  ASSERT_EQ(inventory.size(), 1u);
  EXPECT_EQ(inventory[0].id, inv.id);
  EXPECT_EQ(inventory[0].family, Family::inventory);
  EXPECT_EQ(inventory[0].callback, inv.callback);
  EXPECT_EQ(inventory[0].consumer_subscription_id, inv.consumer_subscription_id);
  EXPECT_EQ(inventory[0].filter, inv.filter);
  EXPECT_EQ(inventory[0].tenant, inv.tenant);
  EXPECT_EQ(inventory[0].created_ms, inv.created_ms);
  const auto alarms = store_->subscriptions(Family::alarm);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].id, alarm.id);
  EXPECT_EQ(alarms[0].family, Family::alarm);
}

TEST_F(SqliteStoreTest, RefusesDatabaseNewerThanCode) {
  const int known = store_->schema_version();
  store_.reset();
  raw_exec(file_, "INSERT INTO schema_version (version, applied_ms) VALUES (" + std::to_string(known + 41) + ", 0)");
  try {
    (void)open_sqlite_store(file_);
    FAIL() << "a newer schema was accepted";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(std::to_string(known + 41)), std::string::npos) << what;
    EXPECT_NE(what.find("version " + std::to_string(known)), std::string::npos) << what;
    EXPECT_NE(what.find(file_.string()), std::string::npos) << what;
  }
}

TEST_F(SqliteStoreTest, OpenErrorsNameTheFile) {
  const auto missing_dir = dir_ / "no-such-dir" / "o2gw.db";
  try {
    (void)open_sqlite_store(missing_dir);
    FAIL() << "opened a file in a missing directory";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(missing_dir.string()), std::string::npos) << e.what();
  }
  const auto not_a_database = dir_ / "garbage.db";
  {
    std::FILE* f = std::fopen(not_a_database.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  try {
    (void)open_sqlite_store(not_a_database);
    FAIL() << "opened a file that is not a database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(not_a_database.string()), std::string::npos) << e.what();
  }
}

TEST_F(SqliteStoreTest, SubscriptionCrudAndDuplicateId) {
  const auto s = make_subscription("sub-1");
  store_->insert_subscription(s);
  const auto read = store_->subscription("sub-1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->callback, s.callback);
  EXPECT_FALSE(store_->subscription("sub-2").has_value());

  auto duplicate = make_subscription("sub-1", Family::alarm);
  EXPECT_THROW(store_->insert_subscription(duplicate), StoreError);
  EXPECT_EQ(store_->subscription("sub-1")->family, Family::inventory);  // the original is untouched

  // Optional fields may be empty.
  SubscriptionRecord bare;
  bare.id = "sub-bare";
  bare.callback = "https://c.example/";
  store_->insert_subscription(bare);
  EXPECT_EQ(store_->subscription("sub-bare")->consumer_subscription_id, "");

  EXPECT_TRUE(store_->delete_subscription("sub-1"));
  EXPECT_FALSE(store_->delete_subscription("sub-1"));
  EXPECT_FALSE(store_->subscription("sub-1").has_value());
  EXPECT_EQ(store_->subscriptions(Family::inventory).size(), 1u);
}

TEST_F(SqliteStoreTest, EventRoundTrip) {
  add_subscriptions({"a"});
  std::vector<PendingEvent> events{make_event({"a"}, 4242)};
  events[0].event.family = Family::alarm;
  events[0].event.event_type = 2;
  events[0].event.prior_json.clear();
  store_->enqueue(events);
  const auto read = store_->event(events[0].event.seq);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->seq, events[0].event.seq);
  EXPECT_EQ(read->family, Family::alarm);
  EXPECT_EQ(read->event_type, 2);
  EXPECT_EQ(read->object_ref, events[0].event.object_ref);
  EXPECT_EQ(read->prior_json, "");
  EXPECT_EQ(read->post_json, events[0].event.post_json);
  EXPECT_EQ(read->created_ms, 4242);
  EXPECT_FALSE(store_->event(events[0].event.seq + 1).has_value());
}

TEST_F(SqliteStoreTest, EnqueueAssignsIncreasingSeqsAcrossCallsAndReopen) {
  add_subscriptions({"a", "b"});
  std::vector<PendingEvent> first{make_event({"a", "b"}), make_event({"a"})};
  store_->enqueue(first);
  EXPECT_GT(first[0].event.seq, 0);
  EXPECT_EQ(first[1].event.seq, first[0].event.seq + 1);
  for (const auto& p : first) {
    for (const auto& e : p.entries) EXPECT_EQ(e.event_seq, p.event.seq);
  }

  std::vector<PendingEvent> second{make_event({"b"})};
  store_->enqueue(second);
  EXPECT_GT(second[0].event.seq, first[1].event.seq);

  reopen();
  std::vector<PendingEvent> third{make_event({"a"})};
  store_->enqueue(third);
  EXPECT_GT(third[0].event.seq, second[0].event.seq);

  // Seqs are never reused, even when the newest events were delivered and collected.
  const auto all = store_->pending(0);
  store_->complete(ids_of(all));
  EXPECT_EQ(store_->collect_garbage(), 4u);
  reopen();
  std::vector<PendingEvent> fourth{make_event({"a"})};
  store_->enqueue(fourth);
  EXPECT_GT(fourth[0].event.seq, third[0].event.seq);
  EXPECT_EQ(store_->outbox_depth(), 1u);
}

TEST_F(SqliteStoreTest, EnqueueIntoUnknownSubscriptionRollsBackTheBatch) {
  add_subscriptions({"a"});
  std::vector<PendingEvent> events{make_event({"a"}), make_event({"ghost"})};
  EXPECT_THROW(store_->enqueue(events), StoreError);
  EXPECT_EQ(store_->outbox_depth(), 0u);
  EXPECT_EQ(events[0].event.seq, 0);  // untouched by the failed call
  EXPECT_EQ(store_->collect_garbage(), 0u);  // no event rows were left behind
}

TEST_F(SqliteStoreTest, PendingOrderAndPerSubscriptionLimit) {
  add_subscriptions({"b", "a", "c"});
  for (int i = 0; i < 4; ++i) {
    std::vector<PendingEvent> events{make_event({"b", "a"}), make_event({"a"})};
    store_->enqueue(events);
  }
  std::vector<PendingEvent> c_events{make_event({"c"})};
  store_->enqueue(c_events);

  const auto all = store_->pending(0);
  ASSERT_EQ(all.size(), 13u);
  for (std::size_t i = 1; i < all.size(); ++i) {
    const auto& prev = all[i - 1];
    const auto& cur = all[i];
    EXPECT_TRUE(prev.subscription_id < cur.subscription_id ||
                (prev.subscription_id == cur.subscription_id && prev.event_seq < cur.event_seq))
        << i;
  }

  const auto limited = store_->pending(2);
  ASSERT_EQ(limited.size(), 5u);  // 2 of a, 2 of b, 1 of c
  EXPECT_EQ(limited[0].subscription_id, "a");
  EXPECT_EQ(limited[1].subscription_id, "a");
  EXPECT_EQ(limited[2].subscription_id, "b");
  EXPECT_EQ(limited[3].subscription_id, "b");
  EXPECT_EQ(limited[4].subscription_id, "c");
  // The limit keeps the oldest entries of each subscription.
  EXPECT_EQ(limited[0].event_seq, all[0].event_seq);
  EXPECT_EQ(limited[1].event_seq, all[1].event_seq);
  EXPECT_LT(limited[0].event_seq, limited[1].event_seq);
  EXPECT_EQ(limited[4].event_seq, c_events[0].event.seq);
}

TEST_F(SqliteStoreTest, PendingForAfterSeq) {
  add_subscriptions({"a", "b"});
  std::vector<PendingEvent> events;
  for (int i = 0; i < 6; ++i) events.push_back(make_event({"a", "b"}));
  store_->enqueue(events);

  const auto first_three = store_->pending_for("a", 0, 3);
  ASSERT_EQ(first_three.size(), 3u);
  EXPECT_EQ(first_three[0].event_seq, events[0].event.seq);
  EXPECT_EQ(first_three[2].event_seq, events[2].event.seq);
  for (const auto& e : first_three) EXPECT_EQ(e.subscription_id, "a");

  const auto rest = store_->pending_for("a", first_three.back().event_seq, 100);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].event_seq, events[3].event.seq);
  EXPECT_EQ(rest[2].event_seq, events[5].event.seq);
  EXPECT_EQ(rest[0].notification_id, events[3].entries[0].notification_id);

  EXPECT_TRUE(store_->pending_for("a", events[5].event.seq, 10).empty());
  EXPECT_TRUE(store_->pending_for("nobody", 0, 10).empty());
}

TEST_F(SqliteStoreTest, CompleteRemovesEntries) {
  add_subscriptions({"a"});
  const auto entries = enqueue({make_event({"a"}), make_event({"a"}), make_event({"a"})});
  const std::vector<std::string> done{entries[0].notification_id, entries[2].notification_id, "unknown-id"};
  store_->complete(done);
  const auto left = store_->pending(0);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].notification_id, entries[1].notification_id);
  store_->complete({});
  EXPECT_EQ(store_->outbox_depth(), 1u);
}

TEST_F(SqliteStoreTest, ReschedulePersists) {
  add_subscriptions({"a"});
  const auto entries = enqueue({make_event({"a"})});
  store_->reschedule(entries[0].notification_id, 4, 99'000);
  store_->reschedule("unknown-id", 1, 1);  // e.g. completed meanwhile: nothing to do
  reopen();
  const auto left = store_->pending(0);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].attempts, 4);
  EXPECT_EQ(left[0].next_attempt_ms, 99'000);
  EXPECT_EQ(left[0].enqueued_ms, entries[0].enqueued_ms);
}

TEST_F(SqliteStoreTest, DeadLetterMovesEntry) {
  add_subscriptions({"a"});
  const auto entries = enqueue({make_event({"a"}), make_event({"a"})});
  store_->dead_letter(dead(entries[0]));
  EXPECT_EQ(store_->outbox_depth(), 1u);
  EXPECT_EQ(store_->pending(0)[0].notification_id, entries[1].notification_id);
  const auto letters = store_->dead_letters(0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].entry.notification_id, entries[0].notification_id);
  EXPECT_EQ(letters[0].entry.subscription_id, "a");
  EXPECT_EQ(letters[0].entry.event_seq, entries[0].event_seq);
  EXPECT_EQ(letters[0].entry.attempts, 3);
  EXPECT_EQ(letters[0].reason, "HTTP 400");
  EXPECT_EQ(letters[0].last_status, 400);
  EXPECT_EQ(letters[0].dead_ms, 5'000);
}

TEST_F(SqliteStoreTest, DeadLettersListOldestFirstWithLimit) {
  add_subscriptions({"a"});
  const auto entries = enqueue({make_event({"a"}), make_event({"a"}), make_event({"a"})});
  store_->dead_letter(dead(entries[0], 300));
  store_->dead_letter(dead(entries[1], 100));
  store_->dead_letter(dead(entries[2], 200));
  const auto two = store_->dead_letters(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].entry.notification_id, entries[1].notification_id);
  EXPECT_EQ(two[1].entry.notification_id, entries[2].notification_id);
  EXPECT_EQ(store_->dead_letters(0).size(), 3u);
}

TEST_F(SqliteStoreTest, ReplaySpecificIds) {
  add_subscriptions({"a"});
  const auto entries = enqueue({make_event({"a"}), make_event({"a"}), make_event({"a"})});
  for (const auto& e : entries) store_->dead_letter(dead(e));
  EXPECT_EQ(store_->outbox_depth(), 0u);

  // Listed out of order, one twice, one unknown.
  const std::vector<std::string> ids{entries[2].notification_id, entries[0].notification_id,
                                     entries[2].notification_id, "unknown-id"};
  const auto moved = store_->replay(ids, 77'000);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].notification_id, entries[0].notification_id);  // in delivery order
  EXPECT_EQ(moved[1].notification_id, entries[2].notification_id);
  for (const auto& e : moved) {
    EXPECT_EQ(e.attempts, 0);
    EXPECT_EQ(e.next_attempt_ms, 77'000);
  }
  const auto pending = store_->pending(0);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].notification_id, entries[0].notification_id);
  EXPECT_EQ(pending[0].attempts, 0);
  EXPECT_EQ(pending[0].next_attempt_ms, 77'000);
  EXPECT_EQ(pending[0].enqueued_ms, 77'000) << "the age limit counts from the replay";
  EXPECT_EQ(pending[0].event_seq, entries[0].event_seq);
  const auto still_dead = store_->dead_letters(0);
  ASSERT_EQ(still_dead.size(), 1u);
  EXPECT_EQ(still_dead[0].entry.notification_id, entries[1].notification_id);
}

TEST_F(SqliteStoreTest, ReplayAll) {
  add_subscriptions({"a", "b"});
  const auto entries = enqueue({make_event({"a", "b"}), make_event({"b"})});
  for (const auto& e : entries) store_->dead_letter(dead(e));
  const auto moved = store_->replay({}, 1);
  ASSERT_EQ(moved.size(), 3u);
  EXPECT_EQ(moved[0].subscription_id, "a");
  EXPECT_EQ(moved[1].subscription_id, "b");
  EXPECT_LT(moved[1].event_seq, moved[2].event_seq);
  EXPECT_TRUE(store_->dead_letters(0).empty());
  EXPECT_EQ(store_->outbox_depth(), 3u);
  EXPECT_TRUE(store_->replay({}, 1).empty());
}

TEST_F(SqliteStoreTest, ReplaySkipsDeletedSubscription) {
  add_subscriptions({"a", "b"});
  const auto entries = enqueue({make_event({"a", "b"})});
  for (const auto& e : entries) store_->dead_letter(dead(e));
  ASSERT_TRUE(store_->delete_subscription("b"));

  const std::vector<std::string> only_b{entries[1].notification_id};
  EXPECT_TRUE(store_->replay(only_b, 1).empty());
  const auto moved = store_->replay({}, 1);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].subscription_id, "a");
  const auto left = store_->dead_letters(0);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].entry.subscription_id, "b");
}

TEST_F(SqliteStoreTest, DeleteSubscriptionCascadesOutboxButKeepsDeadLetters) {
  add_subscriptions({"a", "b"});
  const auto entries = enqueue({make_event({"a", "b"}), make_event({"a", "b"}), make_event({"b"})});
  store_->dead_letter(dead(entries[1]));  // b's entry of the first event
  ASSERT_EQ(store_->outbox_depth(), 4u);

  ASSERT_TRUE(store_->delete_subscription("b"));
  const auto left = store_->pending(0);
  ASSERT_EQ(left.size(), 2u);
  for (const auto& e : left) EXPECT_EQ(e.subscription_id, "a");
  EXPECT_TRUE(store_->pending_for("b", 0, 10).empty());
  const auto letters = store_->dead_letters(0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].entry.subscription_id, "b");
}

TEST_F(SqliteStoreTest, CollectGarbageKeepsReferencedEvents) {
  add_subscriptions({"a"});
  std::vector<PendingEvent> events{make_event({"a"}), make_event({"a"}), make_event({"a"}), make_event({})};
  store_->enqueue(events);
  store_->complete(std::vector<std::string>{events[0].entries[0].notification_id});
  store_->dead_letter(dead(events[1].entries[0]));
  // events[0] is delivered and events[3] matched nobody; [1] has a dead letter, [2] an outbox entry.
  EXPECT_EQ(store_->collect_garbage(), 2u);
  EXPECT_FALSE(store_->event(events[0].event.seq).has_value());
  EXPECT_TRUE(store_->event(events[1].event.seq).has_value());
  EXPECT_TRUE(store_->event(events[2].event.seq).has_value());
  EXPECT_FALSE(store_->event(events[3].event.seq).has_value());
  EXPECT_EQ(store_->collect_garbage(), 0u);

  // A replayed dead letter still finds its event.
  const auto moved = store_->replay({}, 1);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_TRUE(store_->event(moved[0].event_seq).has_value());
}

TEST_F(SqliteStoreTest, OutboxDepth) {
  add_subscriptions({"a", "b", "c"});
  EXPECT_EQ(store_->outbox_depth(), 0u);
  const auto entries = enqueue({make_event({"a", "b", "c"}), make_event({"a"})});
  EXPECT_EQ(store_->outbox_depth(), 4u);
  store_->complete(std::vector<std::string>{entries[0].notification_id});
  EXPECT_EQ(store_->outbox_depth(), 3u);
  store_->dead_letter(dead(entries[1]));
  EXPECT_EQ(store_->outbox_depth(), 2u);
  ASSERT_TRUE(store_->delete_subscription("a"));
  EXPECT_EQ(store_->outbox_depth(), 1u);
}

TEST_F(SqliteStoreTest, ConcurrentEnqueueLosesNothing) {
  add_subscriptions({"a", "b"});
  constexpr int kThreads = 4;
  constexpr int kCalls = 25;
  constexpr int kEventsPerCall = 20;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        std::vector<PendingEvent> events;
        for (int i = 0; i < kEventsPerCall; ++i) events.push_back(make_event({"a", "b"}));
        store_->enqueue(events);
        for (const auto& p : events) seqs[static_cast<std::size_t>(t)].push_back(p.event.seq);
      }
    });
  }
  for (auto& th : threads) th.join();

  constexpr std::size_t kEvents = kThreads * kCalls * kEventsPerCall;
  EXPECT_EQ(store_->outbox_depth(), 2 * kEvents);
  std::set<std::int64_t> distinct;
  for (const auto& per_thread : seqs) {
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    distinct.insert(per_thread.begin(), per_thread.end());
  }
  ASSERT_EQ(distinct.size(), kEvents);
  EXPECT_EQ(*distinct.rbegin() - *distinct.begin() + 1, static_cast<std::int64_t>(kEvents));  // no gaps
  EXPECT_EQ(store_->pending_for("a", 0, 0).size(), kEvents);
}

TEST_F(SqliteStoreTest, CommittedRowsSurviveACrash) {
  add_subscriptions({"a"});
  store_.reset();  // a connection must not cross fork()

  constexpr int kEvents = 50;
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // No destructors, no close: the process just dies after enqueue returned.
    try {
      auto store = open_sqlite_store(file_);
      for (int i = 0; i < kEvents; ++i) {
        std::vector<PendingEvent> events{make_event({"a"})};
        // The child inherits the parent's UUID generator state, so its ids would repeat the parent's next ones.
        events[0].entries[0].notification_id = "child-" + std::to_string(i);
        store->enqueue(events);
      }
      ::_exit(0);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // The rows are still only in the write-ahead log: nothing checkpointed them.
  const auto wal = std::filesystem::path(file_.string() + "-wal");
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_GT(std::filesystem::file_size(wal), 0u);

  store_ = open_sqlite_store(file_);
  const auto pending = store_->pending(0);
  ASSERT_EQ(pending.size(), static_cast<std::size_t>(kEvents));
  for (const auto& e : pending) EXPECT_TRUE(store_->event(e.event_seq).has_value());
  std::vector<PendingEvent> more{make_event({"a"})};
  store_->enqueue(more);
  EXPECT_GT(more[0].event.seq, pending.back().event_seq);
}

TEST_F(SqliteStoreTest, EnqueueThroughput) {
  const std::vector<std::string> subs{"s1", "s2", "s3", "s4", "s5"};
  for (const auto& id : subs) store_->insert_subscription(make_subscription(id));
  constexpr int kCalls = 10;
  constexpr int kEventsPerCall = 1'000;
  std::vector<std::vector<PendingEvent>> batches(kCalls);
  for (auto& batch : batches) {
    for (int i = 0; i < kEventsPerCall; ++i) batch.push_back(make_event(subs));
  }

  const auto start = std::chrono::steady_clock::now();
  for (auto& batch : batches) store_->enqueue(batch);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::size_t rows = static_cast<std::size_t>(kCalls) * kEventsPerCall * subs.size();
  std::printf("[ SqliteStore ] enqueue: %zu outbox rows + %d events in %.3f s = %.0f outbox rows/s\n", rows,
              kCalls * kEventsPerCall, elapsed, static_cast<double>(rows) / elapsed);
  EXPECT_EQ(store_->outbox_depth(), rows);
  EXPECT_EQ(batches.back().back().event.seq - batches.front().front().event.seq + 1, kCalls * kEventsPerCall);
  EXPECT_EQ(store_->pending(1).size(), subs.size());
}

}  // namespace
}  // namespace o2gw

namespace o2gw {
namespace {

class SqliteStoreDigestTest : public SqliteStoreTest {};

TEST_F(SqliteStoreDigestTest, DigestsAreWrittenWithTheBatchAndSurviveAReopen) {
  add_subscriptions({"sub-a"});
  DigestChanges digests;
  digests.upserts = {{"resource/r1", "file", 11, "http://x/r1"}, {"resource/r2", "file", 22, "http://x/r2"}};
  std::vector<PendingEvent> events{make_event({"sub-a"})};
  store_->enqueue(events, digests);
  // Digests alone (no subscriber matched) are written too; a later upsert replaces, a removal deletes.
  DigestChanges more;
  more.upserts = {{"resource/r1", "file", 12, "http://x/r1"}};
  more.removals = {"resource/r2"};
  std::vector<PendingEvent> none;
  store_->enqueue(none, more);
  reopen();
  auto all = store_->object_digests();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "resource/r1");
  EXPECT_EQ(all[0].source, "file");
  EXPECT_EQ(all[0].digest, 12);
  EXPECT_EQ(all[0].object_ref, "http://x/r1");
  EXPECT_EQ(store_->outbox_depth(), 1u);
}

TEST_F(SqliteStoreDigestTest, OutboxDepthsPerSubscription) {
  add_subscriptions({"sub-a", "sub-b"});
  enqueue({make_event({"sub-a", "sub-b"}), make_event({"sub-a"})});
  auto depths = store_->outbox_depths();
  std::map<std::string, std::size_t> by_id(depths.begin(), depths.end());
  EXPECT_EQ(by_id["sub-a"], 2u);
  EXPECT_EQ(by_id["sub-b"], 1u);
}


TEST(SqliteStoreAlarms, AlarmsHistoryConfigurationAndPurge) {
  const auto path = std::filesystem::temp_directory_path() / ("o2gw-store-alarms-" + Uuid::v4().str() + ".db");
  {
    auto store = open_sqlite_store(path);
    EXPECT_EQ(store->schema_version(), 3);
    EXPECT_FALSE(store->alarm_configuration());
    AlarmRow a{"a1", "src", "k1", true, "MANUAL", R"({"x":1})", 1000, 1000, 0};
    std::vector<PendingEvent> none;
    store->save_alarm(a, {"a1", 0, a.record_json, 1000}, none);
    a.active = false;
    a.cleared_ms = 2000;
    a.record_json = R"({"x":2})";
    // A notification written in the same transaction.
    store->insert_subscription(make_subscription("s1", Family::alarm));
    std::vector<PendingEvent> events{make_event({"s1"})};
    events[0].event.family = Family::alarm;
    store->save_alarm(a, {"a1", 2, a.record_json, 2000}, events);
    EXPECT_GT(events[0].event.seq, 0);
    EXPECT_EQ(store->event(events[0].event.seq)->family, Family::alarm);
    AlarmRow b{"a2", "src", "k2", true, "", "{}", 1500, 1500, 0};
    store->save_alarm(b, {"a2", 0, "{}", 1500}, none);
    store->save_alarm_configuration(R"({"retentionPeriod":2})");
  }
  auto store = open_sqlite_store(path);
  auto rows = store->alarms();
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].id, "a1");
  EXPECT_FALSE(rows[0].active);
  EXPECT_EQ(rows[0].clearing_type, "MANUAL");
  EXPECT_EQ(rows[0].record_json, R"({"x":2})");
  EXPECT_EQ(rows[0].cleared_ms, 2000);
  auto history = store->alarm_history("a1");
  ASSERT_EQ(history.size(), 2U);
  EXPECT_EQ(history[1].event_type, 2);
  EXPECT_EQ(store->alarm_configuration(), R"({"retentionPeriod":2})");
  EXPECT_TRUE(store->purge_alarms(2000).empty());  // cleared at 2000, not before
  EXPECT_EQ(store->purge_alarms(2001), std::vector<std::string>{"a1"});
  EXPECT_EQ(store->alarms().size(), 1U);  // the active one stays
  EXPECT_TRUE(store->alarm_history("a1").empty());
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace o2gw
