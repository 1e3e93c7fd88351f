// The pure parts of webhook delivery: the retry schedule, Retry-After parsing,
// the notification body, object paths and the subscription filter schema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "o2gw/events.hpp"
#include "o2gw/inventory.hpp"

namespace o2gw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

DeliveryOptions options() {
  DeliveryOptions o;
  o.initial_delay = milliseconds(100);
  o.max_delay = milliseconds(1000);
  return o;
}

TEST(RetryDelay, FullJitterUnderAnExponentialCeilingCappedAtTheMaximum) {
  const auto o = options();
  // random_unit 1 gives the ceiling: 100, 200, 400, 800, then capped at 1000.
  EXPECT_EQ(retry_delay(o, 1, std::nullopt, 1.0), milliseconds(100));
  EXPECT_EQ(retry_delay(o, 2, std::nullopt, 1.0), milliseconds(200));
  EXPECT_EQ(retry_delay(o, 4, std::nullopt, 1.0), milliseconds(800));
  EXPECT_EQ(retry_delay(o, 5, std::nullopt, 1.0), milliseconds(1000));
  EXPECT_EQ(retry_delay(o, 500, std::nullopt, 1.0), milliseconds(1000)) << "no overflow for large attempts";
  // Full jitter: anywhere from 0 to the ceiling.
  EXPECT_EQ(retry_delay(o, 3, std::nullopt, 0.0), milliseconds(0));
  EXPECT_EQ(retry_delay(o, 3, std::nullopt, 0.5), milliseconds(200));
}

TEST(RetryDelay, NeverSoonerThanRetryAfter) {
  const auto o = options();
  EXPECT_EQ(retry_delay(o, 1, seconds(3), 0.5), milliseconds(3000)) << "Retry-After wins over a shorter backoff";
  EXPECT_EQ(retry_delay(o, 5, seconds(0), 1.0), milliseconds(1000));
}

TEST(RetryAfter, DeltaSecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("120", 0), seconds(120));
  EXPECT_EQ(parse_retry_after(" 7 ", 0), seconds(7));
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), seconds(30));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), seconds(0)) << "a past date: now";
  EXPECT_FALSE(parse_retry_after("", 0));
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_FALSE(parse_retry_after("-5", 0));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT trailing", 0));
}

TEST(InventoryNotification, BodyCarriesTheSpecFieldsAndOmitsAbsentStates) {
  EventRecord ev;
  ev.event_type = 1;
  ev.object_ref = "http://o2gw.example/o2ims-infrastructureInventory/v1/resourcePools/p";
  ev.prior_json = R"({"name":"a"})";
  ev.post_json = R"({"name":"b \"quoted\""})";
  auto body = nlohmann::json::parse(render_inventory_notification("n-1", "c-1", ev));
  EXPECT_EQ(body.at("notificationId"), "n-1");
  EXPECT_EQ(body.at("consumerSubscriptionId"), "c-1");
  EXPECT_EQ(body.at("notificationEventType"), 1);
  EXPECT_EQ(body.at("objectRef"), ev.object_ref);
  EXPECT_EQ(body.at("priorObjectState").at("name"), "a");
  EXPECT_EQ(body.at("postObjectState").at("name"), "b \"quoted\"");

  ev.event_type = 0;
  ev.prior_json.clear();
  body = nlohmann::json::parse(render_inventory_notification("n-2", "", ev));
  EXPECT_FALSE(body.contains("consumerSubscriptionId")) << "absent, not empty, when the subscriber gave none";
  EXPECT_FALSE(body.contains("priorObjectState"));
}

TEST(InventoryNotification, ObjectPathsPerKindEscapeSmoAssignedIds) {
  auto change = [](Kind kind, std::string id, std::string parent = {}) {
    auto obj = std::make_shared<InventoryObject>();
    obj->kind = kind;
    obj->id = id;
    obj->parent_id = std::move(parent);
    Change c;
    c.kind = kind;
    c.id = std::move(id);
    c.post = obj;
    return c;
  };
  EXPECT_EQ(inventory_object_path(change(Kind::resource_pool, "p")), "/resourcePools/p");
  EXPECT_EQ(inventory_object_path(change(Kind::resource, "r", "p")), "/resourcePools/p/resources/r");
  EXPECT_EQ(inventory_object_path(change(Kind::resource_type, "t")), "/resourceTypes/t");
  EXPECT_EQ(inventory_object_path(change(Kind::deployment_manager, "d")), "/deploymentManagers/d");
  EXPECT_EQ(inventory_object_path(change(Kind::ocloud_site, "s")), "/oCloudSites/s");
  EXPECT_EQ(inventory_object_path(change(Kind::location, "kista dc/1")), "/locations/kista%20dc%2F1");
  EXPECT_EQ(inventory_object_path(change(Kind::alarm_dictionary, "a")), "") << "not notified";
}

TEST(SubscriptionFilter, SchemaIsTheUnionOfTheNotifiedObjects) {
  const auto& schema = inventory_event_schema();
  for (const char* name : {"resourceId", "resourcePoolId", "resourceTypeId", "deploymentManagerId",
                           "globalLocationId", "oCloudSiteId", "name", "description", "extensions"}) {
    EXPECT_NE(schema.find(name), nullptr) << name;
  }
  EXPECT_TRUE(Filter::parse("(eq,resourceClass,COMPUTE);(cont,description,edge)", schema).ok());
  EXPECT_TRUE(Filter::parse("(eq,extensions/rack,7)", schema).ok());
  EXPECT_FALSE(Filter::parse("(eq,colour,red)", schema).ok());
  // A term naming an attribute an object lacks does not match it.
  auto f = Filter::parse("(eq,resourceClass,COMPUTE)", schema);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->matches(nlohmann::json{{"name", "a pool"}}));
  EXPECT_TRUE(f->matches(nlohmann::json{{"resourceClass", "COMPUTE"}}));
}

}  // namespace
}  // namespace o2gw
