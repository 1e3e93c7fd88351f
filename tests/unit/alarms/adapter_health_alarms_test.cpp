// Alarms about unhealthy IMS adapter instances, raised on what they serve.
#include "o2gw/health_alarms.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "o2gw/alarms.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"
#include "unit/alarms/alarm_call_recorder.hpp"

namespace o2gw {
namespace {

using nlohmann::json;
using Op = test::AlarmCallRecorder::Call::Op;

constexpr std::string_view kOCloud = "0e4c5bd2-6a0f-4b7e-9f43-2d8a1c3e5f70";

InventoryObject object(Kind kind, const std::string& id, const std::string& source) {
  InventoryObject o;
  o.kind = kind;
  o.id = id;
  o.source = source;
  o.doc = json{{"id", id}};
  o.finalize();
  return o;
}

AdapterState state(const std::string& name, AdapterStatus status, std::string detail = "",
                   Category category = Category::ims) {
  AdapterState s;
  s.name = name;
  s.category = category;
  s.type = "kubernetes";
  s.status = status;
  s.detail = std::move(detail);
  return s;
}

struct Fixture {
  InventoryCache cache;
  test::AlarmCallRecorder sink;
  AdapterHealthAlarms alarms{cache, sink, *Uuid::parse(kOCloud)};
};

TEST(AdapterHealthAlarms, PublishesTheManagedServiceTypeWithItsDictionary) {
  Fixture f;
  ObjectPtr type = f.cache.get(Kind::resource_type, f.alarms.resource_type_id());
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->source, "o2gw");
  EXPECT_EQ(type->doc["name"], "O-Cloud management service");
  EXPECT_EQ(type->doc["resourceKind"], "LOGICAL");
  EXPECT_EQ(type->doc["resourceClass"], "UNDEFINED");
  const json& dict = type->doc["alarmDictionary"];
  ASSERT_EQ(dict["alarmDefinition"].size(), 1u);
  const json& def = dict["alarmDefinition"][0];
  EXPECT_EQ(def["alarmDefinitionId"], f.alarms.alarm_definition_id());
  EXPECT_EQ(def["clearingType"], "AUTOMATIC");
  EXPECT_EQ(def["alarmAdditionalFields"]["severity"], "MAJOR");
  ObjectPtr served = f.cache.get(Kind::alarm_dictionary, type->doc["alarmDictionaryId"]);
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->parent_id, type->id);
  // Ids are derived from the O-Cloud id like every adapter's.
  AdapterContext ctx;
  ctx.spec.name = "o2gw";
  ctx.ocloud_id = *Uuid::parse(kOCloud);
  EXPECT_EQ(f.alarms.resource_type_id(), ctx.derive_id("resourceType", "o2gw-managed-service"));
  EXPECT_EQ(f.alarms.alarm_definition_id(), ctx.derive_id("alarmDefinition", "o2gw-managed-service/adapter-unhealthy"));
}

TEST(AdapterHealthAlarms, UnhealthyRaisesOnTheDeploymentManagerAndRecoveryClears) {
  Fixture f;
  f.cache.apply(
      "cluster-a",
      {object(Kind::deployment_manager, "dm-a", "cluster-a"), object(Kind::resource_pool, "pool-a", "cluster-a")}, {});
  f.cache.apply("cluster-b", {object(Kind::deployment_manager, "dm-b", "cluster-b")}, {});
  f.alarms.update({state("cluster-a", AdapterStatus::active), state("cluster-b", AdapterStatus::active)});
  EXPECT_TRUE(f.sink.calls_of(Op::raise).empty());

  f.alarms.update({state("cluster-a", AdapterStatus::unhealthy, "cluster-a: cannot reach https://x: refused"),
                   state("cluster-b", AdapterStatus::active)});
  auto raised = f.sink.calls_of(Op::raise);
  ASSERT_EQ(raised.size(), 1u);
  const AlarmReport& r = *raised[0].report;
  EXPECT_EQ(r.source, "registry");
  EXPECT_EQ(r.key, "cluster-a/dm-a");
  EXPECT_EQ(r.resource_id, "dm-a");
  EXPECT_EQ(r.resource_type_id, f.alarms.resource_type_id());
  EXPECT_EQ(r.definition, f.alarms.alarm_definition_id());
  EXPECT_EQ(r.severity, Severity::major);
  EXPECT_EQ(r.extensions["adapter"], "cluster-a");
  EXPECT_EQ(r.extensions["status"], "unhealthy");
  EXPECT_EQ(r.extensions["detail"], "cluster-a: cannot reach https://x: refused");
  EXPECT_EQ(r.extensions["objectKind"], "deploymentManager");

  // Still unhealthy, with another detail: not raised again.
  f.sink.forget_calls();
  f.alarms.update({state("cluster-a", AdapterStatus::unhealthy, "cluster-a: timed out"),
                   state("cluster-b", AdapterStatus::active)});
  EXPECT_TRUE(f.sink.calls().empty());

  f.alarms.update({state("cluster-a", AdapterStatus::active), state("cluster-b", AdapterStatus::active)});
  auto calls = f.sink.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].op, Op::clear);
  EXPECT_EQ(calls[0].source, "registry");
  EXPECT_EQ(calls[0].key, "cluster-a/dm-a");
  EXPECT_TRUE(f.sink.active().empty());
}

TEST(AdapterHealthAlarms, FailedAlsoRaises) {
  Fixture f;
  f.cache.apply("lab", {object(Kind::deployment_manager, "dm-lab", "lab")}, {});
  f.alarms.update({state("lab", AdapterStatus::failed, "cannot read /etc/lab.yaml")});
  auto raised = f.sink.calls_of(Op::raise);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].report->extensions["status"], "failed");
  // failed -> unhealthy is a change worth telling.
  f.alarms.update({state("lab", AdapterStatus::unhealthy, "x")});
  EXPECT_EQ(f.sink.calls_of(Op::raise).size(), 2u);
}

TEST(AdapterHealthAlarms, WithoutDeploymentManagerThePoolsCarryIt) {
  Fixture f;
  f.cache.apply("lab", {object(Kind::resource_pool, "pool-1", "lab"), object(Kind::resource_pool, "pool-2", "lab")},
                {});
  f.alarms.update({state("lab", AdapterStatus::unhealthy, "x")});
  auto raised = f.sink.calls_of(Op::raise);
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].report->resource_id, "pool-1");
  EXPECT_EQ(raised[1].report->resource_id, "pool-2");
  EXPECT_EQ(raised[0].report->resource_type_id, f.alarms.resource_type_id());
  EXPECT_EQ(raised[0].report->extensions["objectKind"], "resourcePool");
  f.alarms.update({state("lab", AdapterStatus::active)});
  EXPECT_EQ(f.sink.calls_of(Op::clear).size(), 2u);
  EXPECT_TRUE(f.sink.active().empty());
}

TEST(AdapterHealthAlarms, NothingToAlarmOnRaisesNothing) {
  Fixture f;
  f.cache.apply("other", {object(Kind::deployment_manager, "dm-other", "other")}, {});
  f.alarms.update({state("empty", AdapterStatus::unhealthy, "x"), state("other", AdapterStatus::active)});
  f.alarms.update({state("empty", AdapterStatus::unhealthy, "x"), state("other", AdapterStatus::active)});
  EXPECT_TRUE(f.sink.calls_of(Op::raise).empty());
  EXPECT_TRUE(f.sink.calls_of(Op::clear).empty());
}

TEST(AdapterHealthAlarms, OnlyImsAdaptersAndStartingIsNotDown) {
  Fixture f;
  f.cache.apply("dms-x", {object(Kind::deployment_manager, "dm-x", "dms-x")}, {});
  f.alarms.update({state("dms-x", AdapterStatus::unhealthy, "x", Category::dms)});
  f.alarms.update({state("dms-x", AdapterStatus::starting)});
  EXPECT_TRUE(f.sink.calls_of(Op::raise).empty());
}

TEST(AdapterHealthAlarms, FirstRoundDropsAlarmsLeftFromBefore) {
  Fixture f;
  AlarmReport stale;
  stale.source = "registry";
  stale.key = "gone/dm-gone";
  (void)f.sink.raise(stale);
  f.cache.apply("a", {object(Kind::deployment_manager, "dm-a", "a")}, {});
  f.alarms.update({state("a", AdapterStatus::unhealthy, "x")});
  auto retain = f.sink.calls_of(Op::retain_only);
  ASSERT_EQ(retain.size(), 1u);
  EXPECT_EQ(retain[0].source, "registry");
  EXPECT_EQ(retain[0].keys, std::vector<std::string>{"a/dm-a"});
  EXPECT_EQ(f.sink.active().size(), 1u);
  f.alarms.update({state("a", AdapterStatus::unhealthy, "x")});
  EXPECT_EQ(f.sink.calls_of(Op::retain_only).size(), 1u);  // only once
}

TEST(AdapterHealthAlarms, RejectedRaiseIsRetriedNextRound) {
  Fixture f;
  f.cache.apply("a", {object(Kind::deployment_manager, "dm-a", "a")}, {});
  f.sink.reject_with("store busy");
  f.alarms.update({state("a", AdapterStatus::unhealthy, "x")});
  f.sink.reject_with(std::nullopt);
  f.alarms.update({state("a", AdapterStatus::unhealthy, "x")});
  EXPECT_EQ(f.sink.calls_of(Op::raise).size(), 2u);
  EXPECT_EQ(f.sink.active().size(), 1u);
}

TEST(AdapterHealthAlarms, FollowsTheRegistrysHealthRounds) {
  InventoryCache cache;
  test::AlarmCallRecorder sink;
  Registry registry(FactoryTable::global(), Registry::Services{*Uuid::parse(kOCloud), &cache, {}, &sink});
  int metrics_rounds = 0;
  registry.on_states([&](const std::vector<AdapterState>&) { ++metrics_rounds; });
  int other_rounds = 0;
  registry.add_states_listener([&](const std::vector<AdapterState>&) { ++other_rounds; });
  AdapterHealthAlarms alarms(registry, cache, sink, *Uuid::parse(kOCloud));
  // An instance whose type does not exist fails at start.
  AdapterSpec spec;
  spec.name = "broken";
  spec.category = Category::ims;
  spec.type = "no-such-type";
  cache.apply("broken", {object(Kind::deployment_manager, "dm-broken", "broken")}, {});
  registry.start({spec});
  registry.check_all(std::chrono::milliseconds(100));
  EXPECT_EQ(metrics_rounds, 1);  // on_states still works
  EXPECT_EQ(other_rounds, 1);
  auto raised = sink.calls_of(Op::raise);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].report->resource_id, "dm-broken");
  EXPECT_EQ(raised[0].report->extensions["status"], "failed");
  registry.stop();
}

}  // namespace
}  // namespace o2gw
