// The column path (attribute columns and rendered objects cached per cache snapshot)
// must give exactly the results of evaluating on the objects' JSON: same pages, same
// order, same markers.
#include <gtest/gtest.h>

#include <random>

#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"

namespace o2gw {
namespace {

InventoryObject make_resource(int i, std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  InventoryObject o;
  o.kind = Kind::resource;
  char id[37];
  std::snprintf(id, sizeof id, "%08x-0000-4000-8000-%012x", static_cast<unsigned>(pick(1 << 30)), i);
  o.id = id;
  o.parent_id = "pool";
  nlohmann::json ext = nlohmann::json::object();
  switch (pick(5)) {
    case 0: break;  // no telemetry at all
    case 1: ext["telemetry"] = {{"cpu", pick(100)}}; break;
    case 2: ext["telemetry"] = {{"cpu", pick(100) + 0.5}}; break;
    case 3: ext["telemetry"] = {{"cpu", "high"}}; break;      // wrong type below an open object
    case 4: ext["telemetry"] = nlohmann::json::array({{{"cpu", pick(100)}}, {{"cpu", 7}}}); break;  // array in the way
  }
  if (pick(3) != 0) ext["enabled"] = pick(2) == 1;
  if (pick(4) == 0) ext["vendor"] = nullptr;
  else ext["vendor"] = std::string(pick(2) ? "acme" : "Globex, Inc.") + std::to_string(pick(3));
  o.doc = {{"resourceId", o.id},
           {"resourcePoolId", "0c7f2e1a-0000-4000-8000-000000000001"},
           {"resourceTypeId", "0c7f2e1a-0000-4000-8000-000000000002"},
           {"globalAssetId", "asset-" + std::to_string(pick(50))},
           {"description", "server " + std::to_string(pick(40)) + (pick(2) ? " rack" : "")},
           {"tags", nlohmann::json::array({pick(2) ? "gpu" : "cpu", "edge"})},
           {"groups", nlohmann::json::array()},
           {"elements", nlohmann::json::array()},
           {"extensions", ext}};
  return o;
}

struct Pages {
  std::vector<std::string> bodies;
};

Pages walk(const InventoryCache& cache, const Pager& pager, const std::string& query, bool with_memo) {
  Pages pages;
  std::string marker;
  for (int guard = 0; guard < 1000; ++guard) {
    http::Request req;
    req.path = "/list";
    req.query = query + (marker.empty() ? "" : "&nextpage_opaque_marker=" + marker);
    auto q = ListQuery::from_request(req, schema_for(Kind::resource), pager);
    EXPECT_TRUE(q.ok()) << query << ": " << (q.ok() ? "" : q.problem().detail);
    if (!q) return pages;
    ListResult r;
    std::string parent = "pool";
    cache.with_objects(Kind::resource, &parent, [&](std::span<const InventoryObject* const> objs, const SnapshotMemo& m) {
      r = with_memo ? q->run(objs, ListQuery::InputOrder::by_id, &m) : q->run(objs, ListQuery::InputOrder::by_id);
    });
    pages.bodies.push_back(r.body);
    if (r.next_marker.empty()) break;
    marker = r.next_marker;
  }
  return pages;
}

TEST(QueryColumns, SameResultsAsEvaluatingTheJson) {
  std::mt19937 rng(7);
  std::vector<InventoryObject> objs;
  for (int i = 0; i < 600; ++i) objs.push_back(make_resource(i, rng));
  InventoryCache cache;
  cache.replace_source("t", std::move(objs));
  Pager pager({25, 1000, std::string(32, 'k')});
  const std::vector<std::string> queries = {
      "filter=(gt,extensions/telemetry/cpu,40)",
      "filter=(lte,extensions/telemetry/cpu,40.5);(eq,extensions/enabled,true)",
      "filter=(neq,extensions/telemetry/cpu,7)",
      "filter=(cont,description,rack)&sort=-description",
      "filter=(ncont,description,rack)&sort=globalAssetId,-description",
      "filter=(in,extensions/vendor,acme1,'Globex, Inc.2')&sort=extensions/vendor",
      "filter=(nin,tags,gpu)&sort=-extensions/telemetry/cpu",
      "filter=(eq,tags,gpu);(gte,extensions/telemetry/cpu,10)&sort=extensions/enabled,-globalAssetId",
      "sort=-extensions/telemetry/cpu",
      "sort=description&limit=7",
      "filter=(eq,extensions/telemetry/cpu,high)",
      "filter=(cont,resourceId,0000-4000)&sort=-resourceId",
      // Selectors other than the default: each gets its own rendered column.
      "all_fields&filter=(eq,extensions/enabled,false)",
      "fields=extensions/vendor&sort=-globalAssetId",
      "exclude_fields=tags,extensions/telemetry&limit=40",
  };
  for (const auto& query : queries) {
    // Twice with the memo: the second run uses the columns the first one built.
    auto plain = walk(cache, pager, query, false);
    auto first = walk(cache, pager, query, true);
    auto again = walk(cache, pager, query, true);
    EXPECT_EQ(plain.bodies, first.bodies) << query;
    EXPECT_EQ(plain.bodies, again.bodies) << query;
    EXPECT_FALSE(plain.bodies.empty()) << query;
  }
}

TEST(QueryColumns, ColumnsAreDroppedWhenTheListChanges) {
  std::mt19937 rng(11);
  std::vector<InventoryObject> objs;
  for (int i = 0; i < 50; ++i) objs.push_back(make_resource(i, rng));
  InventoryCache cache;
  cache.replace_source("t", objs);
  Pager pager({100, 1000, std::string(32, 'k')});
  auto before = walk(cache, pager, "sort=-description", true);
  // Change one description: a stale column would keep the old order.
  objs[3].doc["description"] = "zzzz top";
  objs[3].json.clear();
  cache.replace_source("t", objs);
  auto after = walk(cache, pager, "sort=-description", true);
  auto plain = walk(cache, pager, "sort=-description", false);
  EXPECT_EQ(after.bodies, plain.bodies);
  EXPECT_NE(before.bodies, after.bodies);
  ASSERT_FALSE(after.bodies.empty());
  EXPECT_NE(after.bodies[0].find("zzzz top"), std::string::npos);
}

}  // namespace
}  // namespace o2gw
