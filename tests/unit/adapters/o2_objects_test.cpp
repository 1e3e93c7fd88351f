#include "ims/common/o2_objects.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "o2gw/inventory.hpp"
#include "o2gw/uuid.hpp"
#include "unit/adapters/adapter_test_support.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;

OCloudModel two_sites_at_one_location() {
  OCloudModel m;
  LocationSpec loc;
  loc.global_location_id = "campus";
  loc.name = "Campus";
  loc.address = "1 Campus Road";
  m.locations.push_back(loc);
  for (const char* key : {"hall-1", "hall-2"}) {
    SiteSpec site;
    site.key = key;
    site.global_location_id = "campus";
    site.name = key;
    m.sites.push_back(site);
  }
  DeploymentManagerSpec dm;
  dm.key = "cluster";
  dm.name = "cluster";
  dm.service_uri = "https://cluster.example:6443";
  dm.site_keys = {"hall-1", "hall-2"};
  m.deployment_managers.push_back(dm);
  return m;
}

TEST(InventoryObjectsTest, SupportedLocationsAreDistinct) {
  AdapterContext ctx = test::make_adapter_context("objects", nullptr);
  const auto objects = build_inventory(two_sites_at_one_location(), ctx);
  std::size_t managers = 0;
  std::size_t locations = 0;
  for (const auto& o : objects) {
    if (o.kind == Kind::deployment_manager) {
      ++managers;
      EXPECT_EQ(o.doc["supportedLocations"], json::array({"campus"}));
      EXPECT_EQ(o.id, O2Ids(ctx).deployment_manager("cluster"));
      EXPECT_EQ(o.doc["capabilities"], json::object());
      EXPECT_EQ(o.doc["capacity"], json::object());
    }
    if (o.kind == Kind::location) {
      ++locations;
      EXPECT_EQ(o.doc["oCloudSiteIds"].size(), 2u);
      EXPECT_EQ(o.doc["address"], "1 Campus Road");
      EXPECT_FALSE(o.doc.contains("coordinate"));
      EXPECT_FALSE(o.doc.contains("civicAddress"));
    }
  }
  EXPECT_EQ(managers, 1u);
  EXPECT_EQ(locations, 1u);
}

TEST(InventoryObjectsTest, IdsComeFromTheContext) {
  AdapterContext ctx = test::make_adapter_context("objects", nullptr);
  const O2Ids ids(ctx);
  EXPECT_TRUE(is_uuid(ids.resource("r1")));
  EXPECT_EQ(ids.resource("r1"), ctx.derive_id("resource", "r1"));
  EXPECT_NE(ids.resource("r1"), ids.resource_pool("r1")) << "the kind is part of the name";
  EXPECT_NE(ids.alarm_definition("t", "a"), ids.alarm_definition("t", "b"));
}

TEST(InventoryObjectsTest, DanglingReferencesAreProgrammingErrors) {
  AdapterContext ctx = test::make_adapter_context("objects", nullptr);
  OCloudModel dangling_dm = two_sites_at_one_location();
  dangling_dm.deployment_managers[0].site_keys.push_back("hall-3");
  EXPECT_THROW(build_inventory(dangling_dm, ctx), std::invalid_argument);

  OCloudModel dangling_pool = two_sites_at_one_location();
  ResourceSpec r;
  r.key = "r";
  r.pool_key = "nowhere";
  r.type_key = "nothing";
  dangling_pool.resources.push_back(r);
  EXPECT_THROW(build_inventory(dangling_pool, ctx), std::invalid_argument);
}

TEST(InventoryObjectsTest, SingleResourceMatchesTheBulkBuild) {
  AdapterContext ctx = test::make_adapter_context("objects", nullptr);
  OCloudModel m = two_sites_at_one_location();
  ResourceTypeSpec type;
  type.key = "server";
  type.name = "Server";
  type.resource_kind = "PHYSICAL";
  type.resource_class = "COMPUTE";
  m.resource_types.push_back(type);
  ResourcePoolSpec pool;
  pool.key = "pool";
  pool.site_key = "hall-1";
  pool.name = "Pool";
  m.resource_pools.push_back(pool);
  ResourceSpec r;
  r.key = "r1";
  r.pool_key = "pool";
  r.type_key = "server";
  r.description = "one";
  r.extensions = json{{"rack", 3}};
  ResourceSpec element;
  element.key = "psu0";
  element.description = "power supply";
  r.elements.push_back(element);
  m.resources.push_back(r);

  const O2Ids ids(ctx);
  const InventoryObject single = make_resource(r, "r1", ids.resource_pool("pool"), ids, ctx);
  for (const auto& o : build_inventory(m, ctx)) {
    if (o.kind != Kind::resource) continue;
    EXPECT_EQ(o.json, single.json);
    EXPECT_EQ(o.parent_id, single.parent_id);
    EXPECT_EQ(single.doc["elements"][0]["resourceId"], ids.resource("r1/psu0"));
  }
}

}  // namespace
}  // namespace o2gw::ims
