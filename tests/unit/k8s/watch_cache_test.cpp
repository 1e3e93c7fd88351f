#include <gtest/gtest.h>

#include "o2gw/k8s.hpp"

namespace o2gw::k8s {
namespace {

using nlohmann::json;
using T = WatchEvent::Type;
using C = InformerChange::Type;

std::string event_line(const std::string& type, const std::string& name, const std::string& rv) {
  return json{{"type", type}, {"object", {{"kind", "Node"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

json node(const std::string& name, const std::string& rv, const std::string& ns = "") {
  json m = {{"name", name}, {"resourceVersion", rv}};
  if (!ns.empty()) m["namespace"] = ns;
  return {{"kind", "Node"}, {"metadata", m}};
}

// --- watch framing -------------------------------------------------------------

TEST(WatchDecoder, SeveralEventsInOneChunk) {
  WatchDecoder d;
  std::vector<WatchEvent> out;
  std::string chunk = event_line("ADDED", "a", "1") + event_line("MODIFIED", "a", "2") +
                      event_line("DELETED", "a", "3") +
                      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"4"}}})"
                      "\n";
  ASSERT_TRUE(d.feed(chunk, out)) << d.error();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].type, T::added);
  EXPECT_EQ(out[1].type, T::modified);
  EXPECT_EQ(out[2].type, T::deleted);
  EXPECT_EQ(out[3].type, T::bookmark);
  EXPECT_EQ(out[1].object["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(watch_event_type_name(T::bookmark), "BOOKMARK");
  EXPECT_EQ(watch_event_type_name(T::error), "ERROR");
}

TEST(WatchDecoder, EventsSplitAcrossChunksAtEveryOffset) {
  std::string stream =
      event_line("ADDED", "n1", "10") + "\r\n" + event_line("MODIFIED", "n2", "11") + event_line("ADDED", "n3", "12");
  for (std::size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= stream.size(); cut2 += 7) {
      WatchDecoder d;
      std::vector<WatchEvent> out;
      ASSERT_TRUE(d.feed(std::string_view(stream).substr(0, cut1), out));
      ASSERT_TRUE(d.feed(std::string_view(stream).substr(cut1, cut2 - cut1), out));
      ASSERT_TRUE(d.feed(std::string_view(stream).substr(cut2), out));
      ASSERT_TRUE(d.finish(out));
      ASSERT_EQ(out.size(), 3u) << cut1 << "/" << cut2;
      EXPECT_EQ(out[2].object["metadata"]["name"], "n3");
    }
  }
}

TEST(WatchDecoder, ByteAtATime) {
  std::string stream = event_line("ADDED", "x", "1") + event_line("DELETED", "x", "2");
  WatchDecoder d;
  std::vector<WatchEvent> out;
  for (char c : stream) ASSERT_TRUE(d.feed(std::string_view(&c, 1), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, T::deleted);
}

TEST(WatchDecoder, LastLineWithoutNewlineAndErrorEvents) {
  WatchDecoder d;
  std::vector<WatchEvent> out;
  ASSERT_TRUE(d.feed(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})", out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(d.finish(out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, T::error);
  EXPECT_TRUE(error_from_status(out[0].object).gone());
}

TEST(WatchDecoder, RejectsMalformedEvents) {
  for (std::string bad : {"not json\n", "[1,2]\n",
                          R"({"type":"ADDED"})"
                          "\n",
                          R"({"type":"ADDED","object":3})"
                          "\n",
                          R"({"type":"SYNC","object":{}})"
                          "\n",
                          R"({"type":1,"object":{}})"
                          "\n"}) {
    WatchDecoder d;
    std::vector<WatchEvent> out;
    std::string stream = event_line("ADDED", "ok", "1") + bad + event_line("ADDED", "never", "2");
    EXPECT_FALSE(d.feed(stream, out)) << bad;
    EXPECT_FALSE(d.error().empty());
    ASSERT_EQ(out.size(), 1u) << bad;                              // what came before the bad line
    EXPECT_FALSE(d.feed(event_line("ADDED", "after", "3"), out));  // not usable after a failure
  }
}

TEST(WatchDecoder, LimitsLineLength) {
  WatchDecoder d(100);
  std::vector<WatchEvent> out;
  EXPECT_TRUE(d.feed(std::string(60, ' '), out));
  EXPECT_FALSE(d.feed(std::string(60, ' '), out));
  EXPECT_NE(d.error().find("longer than"), std::string::npos);
  WatchDecoder whole(100);
  EXPECT_FALSE(whole.feed(std::string(200, ' ') + "\n", out));
  WatchDecoder blank;
  EXPECT_TRUE(blank.feed("\n\n  \n", out));
  EXPECT_TRUE(out.empty());
}

// --- informer cache ------------------------------------------------------------

std::vector<json> items(std::initializer_list<json> l) {
  return std::vector<json>(l);
}

TEST(Reconcile, InitialListIsAllAdded) {
  ObjectCache cache;
  auto changes = reconcile(cache, items({node("b", "2"), node("a", "1"), node("p", "3", "ns")}));
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, "a");
  EXPECT_EQ(changes[1].key, "b");
  EXPECT_EQ(changes[2].key, "ns/p");
  for (const auto& c : changes) {
    EXPECT_EQ(c.type, C::added);
    EXPECT_TRUE(c.old.is_null());
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.at("a")["metadata"]["resourceVersion"], "1");
}

TEST(Reconcile, RelistGivesExactlyTheDifference) {
  ObjectCache cache;
  reconcile(cache, items({node("keep", "1"), node("mod", "2"), node("gone", "3"), node("gone2", "4")}));
  auto changes = reconcile(cache, items({node("keep", "1"), node("mod", "9"), node("new", "10")}));
  ASSERT_EQ(changes.size(), 4u);
  std::map<std::string, InformerChange> by_key;
  for (auto& c : changes) by_key[c.key] = c;
  EXPECT_EQ(by_key.at("mod").type, C::modified);
  EXPECT_EQ(by_key.at("mod").object["metadata"]["resourceVersion"], "9");
  EXPECT_EQ(by_key.at("mod").old["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(by_key.at("new").type, C::added);
  EXPECT_EQ(by_key.at("gone").type, C::deleted);
  EXPECT_EQ(by_key.at("gone").object["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(by_key.at("gone").old, by_key.at("gone").object);
  EXPECT_EQ(by_key.at("gone2").type, C::deleted);
  EXPECT_EQ(by_key.count("keep"), 0u);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.count("gone"), 0u);
  // In key order.
  for (std::size_t i = 1; i < changes.size(); ++i) EXPECT_LT(changes[i - 1].key, changes[i].key);
  // The same list again: nothing.
  EXPECT_TRUE(reconcile(cache, items({node("keep", "1"), node("mod", "9"), node("new", "10")})).empty());
  // Everything gone.
  EXPECT_EQ(reconcile(cache, {}).size(), 3u);
  EXPECT_TRUE(cache.empty());
}

TEST(Reconcile, ObjectsWithoutNameAreSkippedAndWithoutVersionAlwaysDiffer) {
  ObjectCache cache;
  auto changes = reconcile(cache, items({json::object(), json{{"metadata", {{"name", "v"}}}}}));
  ASSERT_EQ(changes.size(), 1u);
  changes = reconcile(cache, items({json{{"metadata", {{"name", "v"}}}}}));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].type, C::modified);
}

WatchEvent ev(T type, json object) {
  WatchEvent e;
  e.type = type;
  e.object = std::move(object);
  return e;
}

std::vector<InformerChange> apply(ObjectCache& cache, WatchEvent e) {
  std::vector<InformerChange> out;
  apply_watch_event(cache, e, out);
  return out;
}

TEST(ApplyWatchEvent, AddModifyDeleteAndReplays) {
  ObjectCache cache;
  auto c = apply(cache, ev(T::added, node("a", "1")));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, C::added);
  EXPECT_EQ(c[0].key, "a");
  EXPECT_TRUE(c[0].old.is_null());
  // A replay of the version cached (a resumed watch overlapping) is no change.
  EXPECT_TRUE(apply(cache, ev(T::added, node("a", "1"))).empty());
  EXPECT_TRUE(apply(cache, ev(T::modified, node("a", "1"))).empty());

  c = apply(cache, ev(T::modified, node("a", "2")));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, C::modified);
  EXPECT_EQ(c[0].old["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(c[0].object["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(cache.at("a")["metadata"]["resourceVersion"], "2");

  // ADDED for a known key with a new version is a modification; MODIFIED for an unknown one an addition.
  EXPECT_EQ(apply(cache, ev(T::added, node("a", "3"))).at(0).type, C::modified);
  EXPECT_EQ(apply(cache, ev(T::modified, node("b", "4"))).at(0).type, C::added);

  c = apply(cache, ev(T::deleted, node("a", "5")));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, C::deleted);
  EXPECT_EQ(c[0].object["metadata"]["resourceVersion"], "5");
  EXPECT_EQ(c[0].old["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(cache.count("a"), 0u);
  EXPECT_TRUE(apply(cache, ev(T::deleted, node("a", "5"))).empty());  // unknown key

  EXPECT_TRUE(apply(cache, ev(T::bookmark, json{{"metadata", {{"resourceVersion", "9"}}}})).empty());
  EXPECT_TRUE(apply(cache, ev(T::error, json{{"kind", "Status"}, {"code", 410}})).empty());
  EXPECT_EQ(cache.size(), 1u);
}

// The property the informer promises: whatever mix of watch events and relists,
// applying the emitted changes to a copy of the old state reproduces the cache.
TEST(ApplyWatchEvent, ChangesReplayToTheCache) {
  ObjectCache cache;
  ObjectCache mirror;
  auto replay = [&](const std::vector<InformerChange>& changes) {
    for (const auto& c : changes) {
      if (c.type == C::deleted) {
        ASSERT_EQ(mirror.erase(c.key), 1u) << c.key;
      } else if (c.type == C::added) {
        ASSERT_TRUE(mirror.emplace(c.key, c.object).second) << c.key;
      } else {
        ASSERT_EQ(mirror.count(c.key), 1u) << c.key;
        mirror[c.key] = c.object;
      }
    }
  };
  int rv = 0;
  unsigned seed = 12345;
  auto rnd = [&seed] {
    seed = seed * 1103515245 + 12345;
    return (seed >> 16) & 0x7fff;
  };
  for (int round = 0; round < 2000; ++round) {
    std::string name = "n" + std::to_string(rnd() % 20);
    unsigned what = rnd() % 10;
    if (what < 4) {
      replay(apply(cache, ev(T::added, node(name, std::to_string(++rv)))));
    } else if (what < 7) {
      replay(apply(cache, ev(T::modified, node(name, std::to_string(++rv)))));
    } else if (what < 9) {
      replay(apply(cache, ev(T::deleted, node(name, std::to_string(++rv)))));
    } else {
      std::vector<json> list;
      for (int i = 0; i < 20; ++i) {
        if (rnd() % 2) list.push_back(node("n" + std::to_string(i), std::to_string(rnd() % 3 ? ++rv : rv)));
      }
      replay(reconcile(cache, std::move(list)));
    }
    ASSERT_EQ(mirror, cache) << "round " << round;
  }
}

}  // namespace
}  // namespace o2gw::k8s
