#include "o2gw/inventory.hpp"

#include <gtest/gtest.h>

namespace o2gw {
namespace {

InventoryObject resource(const std::string& id, const std::string& pool, const std::string& desc) {
  InventoryObject o;
  o.kind = Kind::resource;
  o.id = id;
  o.parent_id = pool;
  o.doc = {{"resourceId", id}, {"resourcePoolId", pool}, {"description", desc}};
  return o;
}

InventoryObject pool(const std::string& id) {
  InventoryObject o;
  o.kind = Kind::resource_pool;
  o.id = id;
  o.doc = {{"resourcePoolId", id}};
  return o;
}

std::vector<std::string> ids_in(const InventoryCache& c, const std::string& parent) {
  std::vector<std::string> out;
  c.visit_children(Kind::resource, parent, [&](const InventoryObject& o) { out.push_back(o.id); });
  return out;
}

TEST(InventoryCache, SnapshotThenDiffYieldsCreateModifyDelete) {
  InventoryCache cache;
  std::vector<Change> seen;
  cache.add_listener([&](const Change& c) { seen.push_back(c); });

  auto first = cache.replace_source("a", {pool("p1"), resource("r1", "p1", "x"), resource("r2", "p1", "y")});
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(cache.count(Kind::resource), 2u);

  auto second = cache.replace_source("a", {pool("p1"), resource("r1", "p1", "changed"), resource("r3", "p1", "z")});
  int creates = 0, modifies = 0, removes = 0;
  for (const auto& c : second) {
    creates += c.type == ChangeType::create;
    modifies += c.type == ChangeType::modify;
    removes += c.type == ChangeType::remove;
  }
  EXPECT_EQ(creates, 1);
  EXPECT_EQ(modifies, 1);
  EXPECT_EQ(removes, 1);
  EXPECT_EQ(cache.get(Kind::resource, "r1")->doc["description"], "changed");
  EXPECT_EQ(cache.get(Kind::resource, "r2"), nullptr);
  EXPECT_EQ(ids_in(cache, "p1"), (std::vector<std::string>{"r1", "r3"}));
  EXPECT_EQ(seen.size(), 6u);
}

TEST(InventoryCache, ModifyCarriesPriorAndPostState) {
  InventoryCache cache;
  cache.replace_source("a", {resource("r1", "p1", "old")});
  auto changes = cache.replace_source("a", {resource("r1", "p1", "new")});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].prior->doc["description"], "old");
  EXPECT_EQ(changes[0].post->doc["description"], "new");
}

TEST(InventoryCache, UnchangedSnapshotProducesNoEvents) {
  InventoryCache cache;
  cache.replace_source("a", {resource("r1", "p1", "x")});
  EXPECT_TRUE(cache.replace_source("a", {resource("r1", "p1", "x")}).empty());
}

TEST(InventoryCache, MovingAResourceUpdatesThePoolIndex) {
  InventoryCache cache;
  cache.replace_source("a", {resource("r1", "p1", "x")});
  cache.replace_source("a", {resource("r1", "p2", "x")});
  EXPECT_TRUE(ids_in(cache, "p1").empty());
  EXPECT_EQ(ids_in(cache, "p2"), std::vector<std::string>{"r1"});
}

TEST(InventoryCache, SourcesAreIndependentAndConflictsCounted) {
  InventoryCache cache;
  cache.replace_source("a", {resource("r1", "p1", "x")});
  cache.replace_source("b", {resource("r2", "p1", "y"), resource("r1", "p1", "stolen")});
  EXPECT_EQ(cache.count(Kind::resource), 2u);
  EXPECT_EQ(cache.get(Kind::resource, "r1")->doc["description"], "x");
  EXPECT_EQ(cache.conflicts(), 1u);
  // Emptying source b removes only its own objects.
  cache.replace_source("b", {});
  EXPECT_EQ(cache.count(Kind::resource), 1u);
  EXPECT_NE(cache.get(Kind::resource, "r1"), nullptr);
}

TEST(InventoryCache, IncrementalApplyTouchesOnlyGivenKeys) {
  InventoryCache cache;
  std::vector<InventoryObject> many;
  for (int i = 0; i < 1000; ++i) many.push_back(resource("r" + std::to_string(i), "p1", "x"));
  cache.replace_source("sim", std::move(many));
  auto changes = cache.apply("sim", {resource("r5", "p1", "hot"), resource("new", "p1", "n")},
                             {{Kind::resource, "r7"}, {Kind::resource, "absent"}});
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(cache.count(Kind::resource), 1000u);
  EXPECT_EQ(cache.get(Kind::resource, "r5")->doc["description"], "hot");
  EXPECT_EQ(cache.get(Kind::resource, "r7"), nullptr);
  // A later full snapshot sees the incremental state as its baseline.
  auto again = cache.replace_source("sim", {});
  EXPECT_EQ(again.size(), 1000u);
}

TEST(DiffObjects, IsAMergeOfOrderedMaps) {
  auto make = [](const std::string& id, const std::string& d) {
    auto o = resource(id, "p", d);
    o.finalize();
    return std::make_shared<const InventoryObject>(std::move(o));
  };
  ObjectMap before{{{Kind::resource, "a"}, make("a", "1")}, {{Kind::resource, "b"}, make("b", "1")}};
  ObjectMap after{{{Kind::resource, "b"}, make("b", "2")}, {{Kind::resource, "c"}, make("c", "1")}};
  auto d = diff_objects(before, after);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].type, ChangeType::remove);
  EXPECT_EQ(d[0].id, "a");
  EXPECT_EQ(d[1].type, ChangeType::modify);
  EXPECT_EQ(d[2].type, ChangeType::create);
}

}  // namespace
}  // namespace o2gw
