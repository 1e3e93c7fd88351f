#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "o2gw/http.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"

namespace o2gw {
namespace {

using nlohmann::json;

const AttributeSchema& resources() {
  return schema_for(Kind::resource);
}
constexpr std::string_view kPath = "/o2ims-infrastructureInventory/v1/resourcePools/p/resources";

std::string id_of(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-000000000000", static_cast<unsigned>(i) * 2654435761U);
  return buf;
}

InventoryObject resource(int i) {
  InventoryObject o;
  o.kind = Kind::resource;
  o.id = id_of(i);
  o.doc = {{"resourceId", o.id},
           {"resourcePoolId", "1b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01"},
           {"description", "node " + std::to_string(i % 5)},
           {"globalAssetId", "SN-" + std::to_string(1000 + i)},
           {"tags", i % 2 == 0 ? json{"even"} : json{"odd"}},
           {"extensions", i % 3 == 0 ? json{{"rank", i % 7}} : json::object()}};
  o.finalize();
  return o;
}

// An inventory keyed by id, whose contents tests change between pages.
struct Store {
  std::map<int, InventoryObject> objects;
  explicit Store(int n) {
    for (int i = 0; i < n; ++i) objects.emplace(i, resource(i));
  }
  [[nodiscard]] std::vector<const InventoryObject*> candidates() const {
    std::vector<const InventoryObject*> out;
    for (const auto& [k, o] : objects) out.push_back(&o);
    std::reverse(out.begin(), out.end());  // the engine must not rely on the input order
    return out;
  }
  [[nodiscard]] std::vector<std::shared_ptr<const InventoryObject>> by_id() const {
    std::vector<std::shared_ptr<const InventoryObject>> out;
    for (const auto& [k, o] : objects) out.push_back(std::make_shared<const InventoryObject>(o));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
    return out;
  }
  [[nodiscard]] ListResult run(const ListQuery& q, ListQuery::InputOrder order) const {
    return order == ListQuery::InputOrder::by_id ? q.run(by_id(), order) : q.run(candidates());
  }
};

ListParams params(std::string filter = {}, std::string sort = {}) {
  ListParams p;
  if (!filter.empty()) p.filter = std::move(filter);
  if (!sort.empty()) p.sort = std::move(sort);
  p.path = std::string(kPath);
  return p;
}

Parsed<ListQuery> query(ListParams p, const Pager& pager) {
  return ListQuery::parse(p, resources(), pager);
}

std::vector<std::string> ids_in(const ListResult& r) {
  std::vector<std::string> out;
  for (const auto& o : json::parse(r.body)) out.push_back(o["resourceId"].get<std::string>());
  return out;
}

// Follows the markers to the end; each page through a fresh query, as a client would.
std::vector<std::string> walk(const Store& store, ListParams p, const Pager& pager, int* pages = nullptr,
                              ListQuery::InputOrder order = ListQuery::InputOrder::any) {
  std::vector<std::string> seen;
  int n = 0;
  while (true) {
    auto q = query(p, pager);
    EXPECT_TRUE(q.ok()) << (q.ok() ? "" : q.problem().detail);
    if (!q.ok()) break;
    auto r = store.run(*q, order);
    ++n;
    for (auto& id : ids_in(r)) seen.push_back(id);
    if (r.link.empty()) break;
    EXPECT_FALSE(r.next_marker.empty());
    p.marker = r.next_marker;
    if (n > 1000) break;
  }
  if (pages != nullptr) *pages = n;
  return seen;
}

std::vector<std::string> sorted_ids(const Store& store) {
  std::vector<std::string> ids;
  for (const auto& [k, o] : store.objects) ids.push_back(o.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(PagingQuery, FullWalkReturnsEveryObjectOnceForEveryPageSize) {
  Store store(50);
  for (auto order : {ListQuery::InputOrder::any, ListQuery::InputOrder::by_id}) {
    for (std::size_t size = 1; size <= 7; ++size) {
      Pager pager({size, 100, "k"});
      int pages = 0;
      auto seen = walk(store, params(), pager, &pages, order);
      EXPECT_EQ(seen, sorted_ids(store)) << "page size " << size;  // id order by default
      EXPECT_EQ(pages, static_cast<int>((50 + size - 1) / size));
    }
  }
}

TEST(PagingQuery, IdOrderedInputGivesTheSamePages) {
  Store store(50);
  Pager pager({10, 100, "k"});
  for (std::string filter : {"", "(eq,tags,odd)", "(eq,description,'node 3')", "(eq,tags,none)"}) {
    for (int limit : {1, 3, 7, 50}) {
      ListParams p = params(filter);
      p.limit = std::to_string(limit);
      auto any = walk(store, p, pager, nullptr, ListQuery::InputOrder::any);
      auto by_id = walk(store, p, pager, nullptr, ListQuery::InputOrder::by_id);
      EXPECT_EQ(any, by_id) << filter << " limit " << limit;
    }
  }
  // Markers are interchangeable between the two paths (same query, same order).
  auto q = query(params(), pager);
  ASSERT_TRUE(q.ok());
  auto first = store.run(*q, ListQuery::InputOrder::by_id);
  ListParams next = params();
  next.marker = first.next_marker;
  auto q2 = query(next, pager);
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(store.run(*q2, ListQuery::InputOrder::any).body, store.run(*q2, ListQuery::InputOrder::by_id).body);
}

TEST(PagingQuery, FullWalkWithSortFilterAndLimit) {
  Store store(50);
  Pager pager({10, 100, "k"});
  for (std::string sort : {"description", "-description", "extensions/rank,-globalAssetId"}) {
    for (int limit = 1; limit <= 7; ++limit) {
      ListParams p = params("(cont,description,node)", sort);
      p.limit = std::to_string(limit);
      auto seen = walk(store, p, pager);
      // Reference order: one page holding everything.
      ListParams all = params("(cont,description,node)", sort);
      all.limit = "100";
      auto q = query(all, pager);
      ASSERT_TRUE(q.ok());
      auto everything = q->run(store.candidates());
      EXPECT_TRUE(everything.link.empty());
      EXPECT_EQ(seen, ids_in(everything)) << sort << " limit " << limit;
      EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 50u);
    }
  }
}

TEST(PagingQuery, FilteredWalk) {
  Store store(50);
  Pager pager({4, 100, "k"});
  auto seen = walk(store, params("(eq,tags,even);(neq,description,'node 0')"), pager);
  std::vector<std::string> expected;
  for (const auto& [i, o] : store.objects) {
    if (i % 2 == 0 && i % 5 != 0) expected.push_back(o.id);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

TEST(SortQuery, OrdersByKeysThenId) {
  Store store(20);
  Pager pager({100, 100, "k"});
  auto q = query(params({}, "description"), pager);
  ASSERT_TRUE(q.ok());
  auto page = json::parse(q->run(store.candidates()).body);
  ASSERT_EQ(page.size(), 20u);
  for (std::size_t i = 1; i < page.size(); ++i) {
    const auto& a = page[i - 1];
    const auto& b = page[i];
    ASSERT_LE(a["description"], b["description"]);
    if (a["description"] == b["description"]) {
      EXPECT_LT(a["resourceId"], b["resourceId"]);  // ties by id
    }
  }
  auto desc = query(params({}, "-description"), pager);
  ASSERT_TRUE(desc.ok());
  auto reversed = json::parse(desc->run(store.candidates()).body);
  EXPECT_EQ(reversed.front()["description"], "node 4");
  EXPECT_EQ(reversed.back()["description"], "node 0");
  // Ties still ascend by id under a descending key.
  EXPECT_LT(reversed[0]["resourceId"], reversed[1]["resourceId"]);
}

TEST(SortQuery, AbsentValuesFirstAndNumbersNumerically) {
  Store store(20);
  Pager pager({100, 100, "k"});
  auto q = query(params({}, "extensions/rank"), pager);
  ASSERT_TRUE(q.ok());
  ListParams p = params({}, "extensions/rank");
  p.all_fields = true;
  auto full = query(p, pager);
  ASSERT_TRUE(full.ok());
  auto page = json::parse(full->run(store.candidates()).body);
  std::vector<int> ranks;
  std::size_t absent = 0;
  for (const auto& o : page) {
    if (o["extensions"].contains("rank")) {
      ranks.push_back(o["extensions"]["rank"].get<int>());
    } else {
      EXPECT_TRUE(ranks.empty()) << "absent values sort first";
      ++absent;
    }
  }
  EXPECT_EQ(absent, 13u);
  EXPECT_TRUE(std::is_sorted(ranks.begin(), ranks.end()));
}

TEST(SortQuery, RejectsComplexAndUnknownAttributes) {
  auto err = [](std::string_view text) {
    auto s = SortOrder::parse(text, resources());
    EXPECT_FALSE(s.ok()) << text;
    return s.ok() ? std::string() : s.problem().detail;
  };
  EXPECT_EQ(err("tags"), "sort at position 1: attribute 'tags' is not a scalar; sort on simple attributes only");
  EXPECT_EQ(err("description,-extensions"),
            "sort at position 14: attribute 'extensions' is not a scalar; sort on simple attributes only");
  EXPECT_NE(err("elements/description").find("not a scalar"), std::string::npos);
  EXPECT_EQ(err("description,-nope"), "sort at position 14: unknown attribute 'nope'");
  EXPECT_EQ(err("description,"), "sort at position 13: empty attribute name");
  EXPECT_EQ(err("-"), "sort at position 2: empty attribute name");
  auto ok = SortOrder::parse("-description,extensions/a/b,+resourceId", resources());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->key_count(), 3u);
}

TEST(PagingQuery, LinkHeaderKeepsTheOtherParameters) {
  Store store(5);
  Pager pager({2, 10, "k"});
  http::Request req;
  req.path = std::string(kPath);
  req.query = "filter=(cont,description,node)&nextpage_opaque_marker=&limit=2&sort=%2Ddescription";
  req.target = req.path + "?" + req.query;
  auto q = ListQuery::from_request(req, resources(), pager);
  ASSERT_TRUE(q.ok()) << q.problem().detail;
  EXPECT_EQ(q->limit(), 2u);
  auto r = q->run(store.candidates());
  EXPECT_EQ(r.count, 2u);
  EXPECT_EQ(r.link, "<" + std::string(kPath) +
                        "?filter=(cont,description,node)&limit=2&sort=%2Ddescription&nextpage_opaque_marker=" +
                        r.next_marker + ">; rel=\"next\"");

  // The next request, as a client would send it from the Link header.
  req.query = "filter=(cont,description,node)&limit=2&sort=%2Ddescription&nextpage_opaque_marker=" + r.next_marker;
  req.target = req.path + "?" + req.query;
  auto next = ListQuery::from_request(req, resources(), pager);
  ASSERT_TRUE(next.ok()) << next.problem().detail;
  auto r2 = next->run(store.candidates());
  EXPECT_EQ(r2.count, 2u);
  EXPECT_NE(ids_in(r2), ids_in(r));
  EXPECT_EQ(r2.link.find("nextpage_opaque_marker=" + r.next_marker), std::string::npos);
}

TEST(PagingQuery, PercentDecodedOnce) {
  Store store(5);
  Pager pager({10, 10, "k"});
  http::Request req;
  req.path = std::string(kPath);
  // %2527 decodes once to %27, which must stay a literal "%27", not become a quote.
  req.query = "filter=%28eq%2CglobalAssetId%2C%27SN-1002%27%29";
  auto q = ListQuery::from_request(req, resources(), pager);
  ASSERT_TRUE(q.ok()) << q.problem().detail;
  EXPECT_EQ(q->run(store.candidates()).count, 1u);
  req.query = "filter=(eq,globalAssetId,%2527SN-1002%2527)";
  q = ListQuery::from_request(req, resources(), pager);
  ASSERT_TRUE(q.ok()) << q.problem().detail;
  EXPECT_EQ(q->run(store.candidates()).count, 0u);
}

TEST(PagingQuery, LimitBounds) {
  Pager pager({3, 20, "k"});
  for (std::string bad : {"0", "21", "-1", "abc", "1.5", "99999999999999999999", " 3"}) {
    ListParams p = params();
    p.limit = bad;
    auto q = query(p, pager);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.problem().status, 400);
    EXPECT_EQ(q.problem().detail, "limit must be an integer from 1 to 20");
  }
  for (std::string good : {"1", "20", "7"}) {
    ListParams p = params();
    p.limit = good;
    auto q = query(p, pager);
    ASSERT_TRUE(q.ok()) << good;
    EXPECT_EQ(q->limit(), std::stoul(good));
  }
  auto q = query(params(), pager);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit(), 3u);
  EXPECT_THROW(Pager({0, 10, ""}), std::invalid_argument);
  EXPECT_THROW(Pager({11, 10, ""}), std::invalid_argument);
}

std::string first_marker(const Store& store, ListParams p, const Pager& pager) {
  auto q = query(p, pager);
  EXPECT_TRUE(q.ok());
  auto r = q->run(store.candidates());
  EXPECT_FALSE(r.next_marker.empty());
  return r.next_marker;
}

std::string marker_problem(ListParams p, const Pager& pager, std::string marker) {
  p.marker = std::move(marker);
  auto q = query(p, pager);
  EXPECT_FALSE(q.ok());
  if (q.ok()) return {};
  EXPECT_EQ(q.problem().status, 400);
  return q.problem().detail;
}

TEST(PagingQuery, TamperedMarkersAreRejected) {
  Store store(10);
  Pager pager({3, 10, "k"});
  std::string marker = first_marker(store, params(), pager);
  for (std::size_t i = 0; i < marker.size(); ++i) {
    std::string forged = marker;
    forged[i] = forged[i] == 'A' ? 'B' : 'A';
    EXPECT_NE(marker_problem(params(), pager, forged).find("is not valid"), std::string::npos) << i;
  }
  EXPECT_NE(marker_problem(params(), pager, marker.substr(1)).find("is not valid"), std::string::npos);
  EXPECT_NE(marker_problem(params(), pager, marker + "A").find("is not valid"), std::string::npos);
  EXPECT_NE(marker_problem(params(), pager, "not a marker!").find("is not valid"), std::string::npos);
  EXPECT_NE(marker_problem(params(), pager, std::string(9000, 'A')).find("is not valid"), std::string::npos);
  // Signed with another key (another server, or before a restart without a configured key).
  Pager other({3, 10, "other"});
  EXPECT_NE(marker_problem(params(), other, marker).find("is not valid"), std::string::npos);
}

TEST(PagingQuery, MarkersAreBoundToTheirQuery) {
  Store store(10);
  Pager pager({3, 10, "k"});
  std::string marker = first_marker(store, params("(cont,description,node)"), pager);
  EXPECT_NE(marker_problem(params("(cont,description,nod)"), pager, marker).find("different query"), std::string::npos);
  EXPECT_NE(marker_problem(params("(cont,description,node)", "description"), pager, marker).find("different query"),
            std::string::npos);
  ListParams other_path = params("(cont,description,node)");
  other_path.path = "/o2ims-infrastructureInventory/v1/resourcePools/q/resources";
  EXPECT_NE(marker_problem(other_path, pager, marker).find("different query"), std::string::npos);
  ListParams other_fields = params("(cont,description,node)");
  other_fields.all_fields = true;
  EXPECT_NE(marker_problem(other_fields, pager, marker).find("different query"), std::string::npos);
  // Same query spelled differently, and another page size: still accepted.
  ListParams same = params("(CONT,description,'node')");
  same.marker = marker;
  same.limit = "5";
  EXPECT_TRUE(query(same, pager).ok());
}

TEST(PagingQuery, MarkersOfAnotherFormatAreStale) {
  Pager pager({3, 10, "k"});
  std::string bytes(1, '\x02');
  bytes += std::string(16, '\0') + "[]";
  EXPECT_NE(marker_problem(params(), pager, pager.seal(bytes)).find("format"), std::string::npos);
}

TEST(PagingQuery, ConcurrentInsertsAndDeletesNeitherDuplicateNorSkip) {
  for (std::string sort : {"", "description", "-globalAssetId", "by_id"}) {
    const auto order = sort == "by_id" ? ListQuery::InputOrder::by_id : ListQuery::InputOrder::any;
    if (sort == "by_id") sort.clear();
    Store store(60);
    Pager pager({5, 10, "k"});
    std::set<int> removed;
    ListParams p = params({}, sort);
    std::vector<std::string> seen;
    int next_new = 1000;
    for (int page = 0; page < 100; ++page) {
      auto q = query(p, pager);
      ASSERT_TRUE(q.ok());
      auto r = store.run(*q, order);
      for (auto& id : ids_in(r)) seen.push_back(id);
      if (r.link.empty()) break;
      p.marker = r.next_marker;
      // Between pages: delete a few (returned or not, including the page's last object),
      // and insert new ones that land anywhere in the order.
      for (int k : {page * 7 % 60, (page * 13 + 5) % 60}) {
        if (store.objects.erase(k) > 0) removed.insert(k);
      }
      auto last = ids_in(r).back();
      for (auto it = store.objects.begin(); it != store.objects.end(); ++it) {
        if (it->second.id == last && page % 3 == 0) {
          removed.insert(it->first);
          store.objects.erase(it);
          break;
        }
      }
      for (int k = 0; k < 3; ++k, ++next_new) store.objects.emplace(next_new, resource(next_new));
    }
    std::map<std::string, int> count;
    for (const auto& id : seen) ++count[id];
    for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << "returned twice: " << id << " sort " << sort;
    for (int i = 0; i < 60; ++i) {
      if (removed.contains(i)) continue;  // present throughout: exactly once
      EXPECT_EQ(count[id_of(i)], 1) << "skipped: " << i << " sort " << sort;
    }
  }
}

TEST(PagingQuery, BodyUsesSelectorsAndEmptyListHasNoLink) {
  Store store(3);
  Pager pager({10, 10, "k"});
  auto q = query(params(), pager);
  ASSERT_TRUE(q.ok());
  auto r = q->run(store.candidates());
  for (const auto& o : json::parse(r.body)) EXPECT_FALSE(o.contains("extensions"));  // default exclusion
  EXPECT_TRUE(r.link.empty());
  auto none = q->run(std::vector<const InventoryObject*>{});
  EXPECT_EQ(none.body, "[]");
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(none.link.empty());

  ListParams p = params();
  p.all_fields = true;
  auto all = query(p, pager);
  ASSERT_TRUE(all.ok());
  std::string expected = "[";
  std::vector<std::string> sorted;
  for (const auto& [i, o] : store.objects) sorted.push_back(o.id);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& id : sorted) {
    for (const auto& [i, o] : store.objects) {
      if (o.id == id) expected += (expected.size() > 1 ? "," : "") + o.json;
    }
  }
  expected += "]";
  EXPECT_EQ(all->run(store.candidates()).body, expected);  // pre-serialised JSON, byte for byte
}

TEST(PagingQuery, ParseErrorsComeFromEachPart) {
  Pager pager({10, 10, "k"});
  EXPECT_NE(query(params("(eq,nope,1)"), pager).problem().detail.find("unknown attribute 'nope'"), std::string::npos);
  EXPECT_NE(query(params({}, "nope"), pager).problem().detail.find("sort at position 1"), std::string::npos);
  ListParams p = params();
  p.fields = "nope";
  EXPECT_NE(query(p, pager).problem().detail.find("fields at position 1"), std::string::npos);
}

}  // namespace
}  // namespace o2gw
