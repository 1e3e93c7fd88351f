#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "o2gw/alarms.hpp"
#include "o2gw/events.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"
#include "o2gw/store.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kType = "11111111-1111-4111-8111-111111111111";
constexpr const char* kDict = "22222222-2222-4222-8222-222222222222";
constexpr const char* kFanDef = "33333333-3333-4333-8333-333333333333";
constexpr const char* kThermalDef = "44444444-4444-4444-8444-444444444444";
constexpr const char* kNode = "55555555-5555-4555-8555-555555555555";
constexpr const char* kPool = "66666666-6666-4666-8666-666666666666";

InventoryObject object(Kind kind, std::string id, json doc, std::string parent = {}) {
  InventoryObject o;
  o.kind = kind;
  o.id = std::move(id);
  o.parent_id = std::move(parent);
  o.source = "test";
  o.doc = std::move(doc);
  o.finalize();
  return o;
}

void seed(InventoryCache& cache) {
  std::vector<InventoryObject> objects;
  objects.push_back(object(Kind::alarm_dictionary, kDict,
                           {{"alarmDictionaryId", kDict},
                            {"alarmDefinition", json::array({{{"alarmDefinitionId", kFanDef},
                                                              {"alarmName", "Fan failure"},
                                                              {"alarmDescription", "A fan stopped."},
                                                              {"clearingType", "MANUAL"}},
                                                             {{"alarmDefinitionId", kThermalDef},
                                                              {"alarmName", "CPU thermal throttling"},
                                                              {"alarmDescription", "The CPU is throttled."},
                                                              {"clearingType", "AUTOMATIC"}}})}}));
  objects.push_back(object(Kind::resource_type, kType, {{"resourceTypeId", kType}, {"alarmDictionaryId", kDict}}));
  objects.push_back(object(Kind::resource_pool, kPool, {{"resourcePoolId", kPool}}));
  objects.push_back(object(Kind::resource, kNode, {{"resourceId", kNode}, {"resourceTypeId", kType}}, kPool));
  cache.replace_source("test", std::move(objects));
}

AlarmReport report(std::string key = "fan-1", std::string definition = "fan-failure",
                   Severity severity = Severity::major) {
  AlarmReport r;
  r.source = "file/lab";
  r.key = std::move(key);
  r.resource_id = kNode;
  r.definition = std::move(definition);
  r.severity = severity;
  return r;
}

class AlarmServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("o2gw-alarms-" + Uuid::v4().str());
    std::filesystem::create_directories(dir_);
    seed(cache_);
    open();
  }
  void TearDown() override {
    service_.reset();
    subs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    service_.reset();
    subs_.reset();
    store_.reset();
    store_ = open_sqlite_store(dir_ / "o2gw.db");
    subs_ = std::make_unique<SubscriptionService>(*store_, SubscriptionFamily::alarm, alarm_event_schema(), 100);
    subs_->set_filter_parser(parse_alarm_subscription_filter);
    subs_->load();
    AlarmServiceOptions o;
    o.default_retention_days = 7;
    service_ = std::make_unique<AlarmService>(*store_, cache_, o);
    service_->set_clock([this] { return now_; });
    service_->load();
    service_->connect(subs_.get(), nullptr, "http://o2gw.test/o2ims-infrastructureMonitoring/v1/alarms");
  }
  std::string subscribe(const std::string& filter = "") {
    SubscriptionRecord r;
    r.callback = "http://consumer.test/alarms";
    r.consumer_subscription_id = "77777777-7777-4777-8777-777777777777";
    r.filter = filter;
    auto f = subs_->parse_filter(filter);
    EXPECT_TRUE(f.ok());
    auto created = subs_->create(r, std::move(*f), 409);
    return std::get<SubscriptionPtr>(created)->record.id;
  }
  // The event types notified so far, in order.
  std::vector<int> notified() {
    std::vector<int> out;
    for (const auto& e : store_->pending(0)) out.push_back(store_->event(e.event_seq)->event_type);
    return out;
  }
  AlarmPtr only_alarm() {
    auto all = service_->alarms();
    EXPECT_EQ(all.size(), 1U);
    return all.empty() ? nullptr : all.front();
  }

  std::filesystem::path dir_;
  InventoryCache cache_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SubscriptionService> subs_;
  std::unique_ptr<AlarmService> service_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::from_time_t(2'000'000'000);
};

TEST_F(AlarmServiceTest, RaiseResolvesTypeDefinitionAndProbableCause) {
  ASSERT_FALSE(service_->raise(report()));
  auto a = only_alarm();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->doc["alarmDefinitionID"], kFanDef);
  EXPECT_EQ(a->doc["resourceTypeID"], kType);
  EXPECT_EQ(a->doc["resourceID"], kNode);
  EXPECT_EQ(a->doc["probableCauseID"], probable_cause_id(kFanDef));
  EXPECT_EQ(a->doc["perceivedSeverity"], 1);
  EXPECT_EQ(a->doc["alarmAcknowledged"], false);
  EXPECT_EQ(a->doc["alarmRaisedTime"], "2033-05-18T03:33:20Z");
  EXPECT_EQ(a->doc["extensions"], json::object());
  EXPECT_TRUE(is_uuid(a->doc["alarmEventRecordId"].get<std::string>()));
  // By name (any case) and by id as well.
  EXPECT_FALSE(service_->raise(report("t1", "cpu THERMAL throttling")));
  EXPECT_FALSE(service_->raise(report("t2", kThermalDef)));
  EXPECT_EQ(service_->active_count(), 3U);
}

TEST_F(AlarmServiceTest, RejectsWhatCannotBeTiedToTheInventory) {
  auto r = report();
  r.resource_id = "99999999-9999-4999-8999-999999999999";
  auto why = service_->raise(r);
  ASSERT_TRUE(why);
  EXPECT_NE(why->reason.find("no resource"), std::string::npos) << why->reason;
  why = service_->raise(report("k", "no-such-alarm"));
  ASSERT_TRUE(why);
  EXPECT_NE(why->reason.find("no alarm definition"), std::string::npos) << why->reason;
  r = report();
  r.resource_type_id = "99999999-9999-4999-8999-999999999999";
  why = service_->raise(r);
  ASSERT_TRUE(why);
  EXPECT_NE(why->reason.find("no resource type"), std::string::npos) << why->reason;
  why = service_->raise(report("k", "fan-failure", Severity::cleared));
  ASSERT_TRUE(why);
  EXPECT_TRUE(service_->alarms().empty());
}

TEST_F(AlarmServiceTest, UpdateNoOpClearRetainOnlyAndReRaise) {
  subscribe();
  ASSERT_FALSE(service_->raise(report()));
  std::string first = only_alarm()->id;
  ASSERT_FALSE(service_->raise(report()));  // identical: nothing
  EXPECT_EQ(notified(), (std::vector<int>{0}));
  now_ += 60s;
  ASSERT_FALSE(service_->raise(report("fan-1", "fan-failure", Severity::critical)));
  auto a = only_alarm();
  EXPECT_EQ(a->id, first);
  EXPECT_EQ(a->doc["perceivedSeverity"], 0);
  EXPECT_EQ(a->doc["alarmChangedTime"], "2033-05-18T03:34:20Z");
  EXPECT_EQ(notified(), (std::vector<int>{0, 1}));

  ASSERT_FALSE(service_->raise(report("fan-2")));
  service_->retain_only("file/lab", {"fan-2"});
  EXPECT_EQ(service_->active_count(), 1U);
  EXPECT_FALSE(service_->find(first)->active);
  EXPECT_EQ(service_->find(first)->doc["perceivedSeverity"], 5);
  EXPECT_TRUE(service_->find(first)->doc.contains("alarmClearedTime"));
  EXPECT_EQ(notified(), (std::vector<int>{0, 1, 0, 2}));

  service_->clear("file/lab", "fan-2");
  service_->clear("file/lab", "fan-2");  // already clear: nothing
  EXPECT_EQ(service_->active_count(), 0U);
  EXPECT_EQ(notified(), (std::vector<int>{0, 1, 0, 2, 2}));

  // Raised again after the clear: a new record.
  ASSERT_FALSE(service_->raise(report()));
  EXPECT_EQ(service_->alarms().size(), 3U);
  EXPECT_EQ(service_->active_count(), 1U);
  EXPECT_EQ(store_->alarm_history(first).size(), 3U);  // NEW, CHANGE, CLEAR
}

TEST_F(AlarmServiceTest, NotificationCarriesTheSpecFields) {
  subscribe();
  ASSERT_FALSE(service_->raise(report()));
  auto id = only_alarm()->id;
  ASSERT_TRUE(std::holds_alternative<json>(service_->patch(id, {{"alarmAcknowledged", true}})));
  auto pending = store_->pending(0);
  ASSERT_EQ(pending.size(), 2U);
  auto ev = store_->event(pending[1].event_seq);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->family, SubscriptionFamily::alarm);
  json body = json::parse(
      render_alarm_notification("88888888-8888-4888-8888-888888888888", "77777777-7777-4777-8777-777777777777", *ev));
  EXPECT_EQ(body["globalCloudID"], "88888888-8888-4888-8888-888888888888");
  EXPECT_EQ(body["consumerSubscriptionId"], "77777777-7777-4777-8777-777777777777");
  EXPECT_EQ(body["notificationEventType"], 3);
  EXPECT_EQ(body["objectRef"], "http://o2gw.test/o2ims-infrastructureMonitoring/v1/alarms/" + id);
  EXPECT_EQ(body["alarmEventRecordId"], id);
  EXPECT_EQ(body["alarmAcknowledged"], true);
  EXPECT_TRUE(body.contains("alarmAcknowledgeTime"));
  EXPECT_FALSE(body.contains("alarmAcknowledgedTime"));
  for (const char* f : {"resourceTypeID", "resourceID", "alarmDefinitionID", "probableCauseID", "alarmRaisedTime",
                        "alarmChangedTime", "perceivedSeverity", "extensions"}) {
    EXPECT_TRUE(body.contains(f)) << f;
  }
}

TEST_F(AlarmServiceTest, SubscriptionFilterNamesEventsNotToReport) {
  const std::string no_new = subscribe("NEW");
  const std::string no_clear = subscribe("(eq,perceivedSeverity,5)");
  EXPECT_FALSE(parse_alarm_subscription_filter("(eq,noSuchField,1)").ok());
  ASSERT_FALSE(service_->raise(report()));  // NEW: only the second subscription
  service_->clear("file/lab", "fan-1");     // CLEAR (severity 5): only the first
  auto pending = store_->pending(0);
  ASSERT_EQ(pending.size(), 2U);
  for (const auto& e : pending) {
    const int type = store_->event(e.event_seq)->event_type;
    EXPECT_EQ(e.subscription_id, type == 0 ? no_clear : no_new);
  }
}

TEST_F(AlarmServiceTest, AcknowledgeAndManualClearRules) {
  ASSERT_FALSE(service_->raise(report()));                               // fan: MANUAL
  ASSERT_FALSE(service_->raise(report("t", "cpu-thermal-throttling")));  // AUTOMATIC
  std::string fan, thermal;
  for (const auto& a : service_->alarms()) (a->key == "fan-1" ? fan : thermal) = a->id;

  auto status = [](const AlarmService::PatchResult& r) {
    return std::holds_alternative<Problem>(r) ? std::get<Problem>(r).status : 200;
  };
  EXPECT_EQ(status(service_->patch(fan, json::array())), 400);
  EXPECT_EQ(status(service_->patch(fan, json::object())), 400);
  EXPECT_EQ(status(service_->patch(fan, {{"alarmAcknowledged", false}})), 400);
  EXPECT_EQ(status(service_->patch(fan, {{"alarmAcknowledged", "yes"}})), 400);
  EXPECT_EQ(status(service_->patch(fan, {{"perceivedSeverity", 3}})), 400);
  EXPECT_EQ(status(service_->patch(fan, {{"alarmAcknowledged", true}, {"perceivedSeverity", 5}})), 400);
  EXPECT_EQ(status(service_->patch(fan, {{"extensions", json::object()}})), 400);
  EXPECT_EQ(status(service_->patch("99999999-9999-4999-8999-999999999999", {{"alarmAcknowledged", true}})), 404);

  auto ok = service_->patch(fan, {{"alarmAcknowledged", true}});
  ASSERT_EQ(status(ok), 200);
  EXPECT_EQ(std::get<json>(ok), (json{{"alarmAcknowledged", true}}));
  EXPECT_TRUE(service_->find(fan)->doc.contains("alarmAcknowledgedTime"));
  EXPECT_EQ(status(service_->patch(fan, {{"alarmAcknowledged", true}})), 409);

  auto refused = service_->patch(thermal, {{"perceivedSeverity", 5}});
  ASSERT_EQ(status(refused), 409);
  EXPECT_NE(std::get<Problem>(refused).detail.find("AUTOMATIC"), std::string::npos);
  auto cleared = service_->patch(fan, {{"perceivedSeverity", 5}});
  ASSERT_EQ(status(cleared), 200);
  EXPECT_EQ(std::get<json>(cleared), (json{{"perceivedSeverity", 5}}));
  EXPECT_FALSE(service_->find(fan)->active);
  EXPECT_EQ(status(service_->patch(fan, {{"perceivedSeverity", 5}})), 409);
}

TEST_F(AlarmServiceTest, ConfigurationPutPatchAndPurge) {
  EXPECT_EQ(service_->configuration(), (json{{"retentionPeriod", 7}, {"extensions", json::object()}}));
  auto status = [](const AlarmService::PatchResult& r) {
    return std::holds_alternative<Problem>(r) ? std::get<Problem>(r).status : 200;
  };
  EXPECT_EQ(status(service_->update_configuration({{"retentionPeriod", 0}}, false)), 400);
  EXPECT_EQ(status(service_->update_configuration({{"extensions", json::object()}}, false)), 400);
  EXPECT_EQ(status(service_->update_configuration({{"retentionPeriod", "3"}}, true)), 400);
  EXPECT_EQ(status(service_->update_configuration({{"retentionPeriod", 3}, {"x", 1}}, false)), 400);
  EXPECT_EQ(status(service_->update_configuration({{"retentionPeriod", nullptr}}, true)), 400);
  EXPECT_EQ(status(service_->update_configuration(json::array(), true)), 400);
  ASSERT_EQ(status(service_->update_configuration({{"retentionPeriod", 2}, {"extensions", {{"a", 1}}}}, false)), 200);
  ASSERT_EQ(status(service_->update_configuration({{"extensions", {{"b", 2}}}}, true)), 200);
  EXPECT_EQ(service_->configuration(), (json{{"retentionPeriod", 2}, {"extensions", {{"a", 1}, {"b", 2}}}}));

  ASSERT_FALSE(service_->raise(report("old")));
  ASSERT_FALSE(service_->raise(report("live")));
  service_->clear("file/lab", "old");
  EXPECT_EQ(service_->purge(now_ + 47h), 0U);
  EXPECT_EQ(service_->purge(now_ + 49h), 1U);
  EXPECT_EQ(service_->alarms().size(), 1U);
  EXPECT_EQ(service_->alarms().front()->key, "live");
}

TEST_F(AlarmServiceTest, SurvivesReopen) {
  ASSERT_FALSE(service_->raise(report()));
  ASSERT_FALSE(service_->raise(report("gone")));
  service_->clear("file/lab", "gone");
  ASSERT_EQ(std::get<json>(service_->update_configuration({{"retentionPeriod", 9}}, true))["retentionPeriod"], 9);
  std::string id;
  for (const auto& a : service_->alarms()) {
    if (a->key == "fan-1") id = a->id;
  }
  EXPECT_EQ(store_->alarms().size(), 2U);
  open();
  EXPECT_EQ(store_->schema_version(), 3);
  EXPECT_EQ(service_->alarms().size(), 2U);
  EXPECT_EQ(service_->active_count(), 1U);
  EXPECT_EQ(service_->configuration()["retentionPeriod"], 9);
  // The same (source, key) still updates the one active alarm after the restart.
  ASSERT_FALSE(service_->raise(report("fan-1", "fan-failure", Severity::minor)));
  EXPECT_EQ(service_->find(id)->doc["perceivedSeverity"], 2);
  EXPECT_EQ(service_->alarms().size(), 2U);
}

TEST(AlarmNames, SeverityAndTimes) {
  EXPECT_EQ(severity_name(Severity::critical), "CRITICAL");
  EXPECT_EQ(parse_severity_name("major"), Severity::major);
  EXPECT_FALSE(parse_severity_name("bad"));
  EXPECT_EQ(alarm_event_type_name(AlarmEventType::acknowledged), "ACKNOWLEDGE");
  auto t = parse_rfc3339("2033-05-18T05:33:20+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2033-05-18T03:33:20Z");
  EXPECT_TRUE(parse_rfc3339("2033-05-18T03:33:20.123Z"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  EXPECT_FALSE(parse_rfc3339("2033-05-18T03:33:20"));
  EXPECT_EQ(probable_cause_id(kFanDef), probable_cause_id("33333333-3333-4333-8333-333333333333"));
  EXPECT_TRUE(is_uuid(probable_cause_id(kFanDef)));
}

}  // namespace
}  // namespace o2gw
