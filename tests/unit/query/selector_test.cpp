#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "o2gw/http.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"

namespace o2gw {
namespace {

using nlohmann::json;

InventoryObject resource_object() {
  InventoryObject o;
  o.kind = Kind::resource;
  o.doc = json::parse(R"({
    "resourceId": "7b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "resourcePoolId": "1b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "resourceTypeId": "2b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "globalAssetId": "SN-001",
    "description": "node \"a\"",
    "elements": [{"resourceId": "3b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01", "description": "nic 1",
                  "elements": [], "tags": ["sriov"], "groups": [], "extensions": {"speed": 25}}],
    "tags": ["gpu", "edge"],
    "groups": ["g1"],
    "extensions": {"cpu": {"arch": "x86_64", "cores": 64}, "country": "ES"}
  })");
  o.id = o.doc["resourceId"].get<std::string>();
  o.finalize();
  return o;
}

const AttributeSchema& resources() {
  return schema_for(Kind::resource);
}

Parsed<Selector> selector(SelectorParams p, Selector::Default d = Selector::Default::exclude_default) {
  return Selector::parse(p, resources(), d);
}

SelectorParams fields(std::string f) {
  SelectorParams p;
  p.fields = std::move(f);
  return p;
}

SelectorParams exclude(std::string f) {
  SelectorParams p;
  p.exclude_fields = std::move(f);
  return p;
}

// Renders with and without the pre-serialised text; both must agree and be valid JSON.
json render(const Selector& s, const InventoryObject& o) {
  std::string spliced = "prefix:";
  s.append_selected(o, spliced);
  std::string fresh;
  s.append_selected(o.doc, "", fresh);
  EXPECT_EQ(spliced.substr(7), fresh);
  return json::parse(fresh);
}

json without(json j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) j.erase(k);
  return j;
}

TEST(SelectorQuery, DefaultLeavesOutTheDefaultExclusions) {
  auto o = resource_object();
  auto s = selector({});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->passthrough());
  EXPECT_EQ(render(*s, o), without(o.doc, {"elements", "extensions"}));

  SelectorParams explicit_default;
  explicit_default.exclude_default = true;
  auto d = selector(explicit_default);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(render(*d, o), without(o.doc, {"elements", "extensions"}));
}

TEST(SelectorQuery, AllFieldsPassesThrough) {
  auto o = resource_object();
  SelectorParams p;
  p.all_fields = true;
  auto s = selector(p);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->passthrough());
  std::string out;
  s->append_selected(o, out);
  EXPECT_EQ(out, o.json);
}

TEST(SelectorQuery, SingleObjectsDefaultToEverything) {
  auto s = selector({}, Selector::Default::all_fields);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->passthrough());
  EXPECT_TRUE(Selector().passthrough());
}

TEST(SelectorQuery, FieldsAloneAddsComplexAttributesToTheSimpleOnes) {
  auto o = resource_object();
  auto s = selector(fields("extensions"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(render(*s, o), without(o.doc, {"elements", "tags", "groups"}));

  auto simple = selector(fields("description"));  // simple attributes are always there
  ASSERT_TRUE(simple.ok());
  EXPECT_EQ(render(*simple, o), without(o.doc, {"elements", "tags", "groups", "extensions"}));
}

TEST(SelectorQuery, FieldsWithSubPaths) {
  auto o = resource_object();
  auto s = selector(fields("extensions/cpu/arch,tags"));
  ASSERT_TRUE(s.ok());
  json expected = without(o.doc, {"elements", "groups"});
  expected["extensions"] = {{"cpu", {{"arch", "x86_64"}}}};
  EXPECT_EQ(render(*s, o), expected);

  auto missing = selector(fields("extensions/nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(render(*missing, o)["extensions"], json::object());

  auto through_array = selector(fields("elements/description,elements/extensions/speed"));
  ASSERT_TRUE(through_array.ok());
  EXPECT_EQ(render(*through_array, o)["elements"],
            json::parse(R"([{"description":"nic 1","extensions":{"speed":25}}])"));
}

TEST(SelectorQuery, ExcludeDefaultWithFieldsExtendsTheDefaultSet) {
  auto o = resource_object();
  SelectorParams p = fields("elements");
  p.exclude_default = true;
  auto s = selector(p);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(render(*s, o), without(o.doc, {"extensions"}));

  p.fields = "extensions/country";
  auto sub = selector(p);
  ASSERT_TRUE(sub.ok());
  json expected = without(o.doc, {"elements"});
  expected["extensions"] = {{"country", "ES"}};
  EXPECT_EQ(render(*sub, o), expected);
}

TEST(SelectorQuery, ExcludeFieldsRemovesFromEverything) {
  auto o = resource_object();
  auto s = selector(exclude("tags,extensions/cpu,elements/extensions"));
  ASSERT_TRUE(s.ok());
  json expected = without(o.doc, {"tags"});
  expected["extensions"].erase("cpu");
  expected["elements"][0].erase("extensions");
  EXPECT_EQ(render(*s, o), expected);

  auto simple = selector(exclude("description"));
  ASSERT_TRUE(simple.ok());
  EXPECT_EQ(render(*simple, o), without(o.doc, {"description"}));
}

TEST(SelectorQuery, IdentifierIsAlwaysKept) {
  auto o = resource_object();
  auto s = selector(exclude("resourceId"));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->passthrough());
  EXPECT_EQ(render(*s, o), o.doc);
  auto f = selector(fields("extensions"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(render(*f, o)["resourceId"], o.doc["resourceId"]);
}

TEST(SelectorQuery, ConflictingSelectorsAreRejected) {
  SelectorParams all_and_fields = fields("tags");
  all_and_fields.all_fields = true;
  SelectorParams all_and_default;
  all_and_default.all_fields = true;
  all_and_default.exclude_default = true;
  SelectorParams all_and_exclude = exclude("tags");
  all_and_exclude.all_fields = true;
  SelectorParams exclude_and_fields = exclude("tags");
  exclude_and_fields.fields = "extensions";
  SelectorParams exclude_and_default = exclude("tags");
  exclude_and_default.exclude_default = true;
  for (const auto& p : {all_and_fields, all_and_default, all_and_exclude, exclude_and_fields, exclude_and_default}) {
    auto s = selector(p);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.problem().status, 400);
    EXPECT_NE(s.problem().detail.find("cannot be combined"), std::string::npos) << s.problem().detail;
  }
}

TEST(SelectorQuery, UnknownNamesAreRejectedWithTheirPosition) {
  auto a = selector(fields("foo"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.problem().detail, "fields at position 1: unknown attribute 'foo'");
  auto b = selector(fields("tags,extensions/x,elements/bar"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.problem().detail, "fields at position 28: unknown attribute 'elements/bar'");
  auto c = selector(exclude("tags,,groups"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.problem().detail, "exclude_fields at position 6: empty attribute name");
  auto d = selector(exclude("description/x"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.problem().detail, "exclude_fields at position 13: attribute 'description' has no sub-attributes");
}

TEST(SelectorQuery, EmptyListsCountAsAbsent) {
  auto s = selector(fields(""));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->canonical(), "exclude_default");
}

TEST(SelectorQuery, DocumentsWithoutSerialisedTextOrWithEscapedKeys) {
  InventoryObject o = resource_object();
  o.doc["extensions"]["we\"ird"] = 1;
  o.doc["unknown\nkey"] = {{"x", 1}};
  o.finalize();
  auto s = selector({});
  ASSERT_TRUE(s.ok());
  json out = render(*s, o);
  EXPECT_EQ(out["unknown\nkey"], o.doc["unknown\nkey"]);  // not in the schema: kept
  EXPECT_FALSE(out.contains("extensions"));
  auto f = selector(fields("extensions"));
  ASSERT_TRUE(f.ok());
  json only = render(*f, o);
  EXPECT_FALSE(only.contains("unknown\nkey"));  // unknown complex attributes follow `fields`
  EXPECT_EQ(only["extensions"]["we\"ird"], 1);
}

TEST(SelectorQuery, ParamsFromTheRequest) {
  http::Request req;
  req.query = "all_fields&fields=a";
  auto p = selector_params(req);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->all_fields);
  EXPECT_EQ(p->fields, "a");
  req.query = "all_fields=false&exclude_default=true&exclude_fields=";
  p = selector_params(req);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->all_fields);
  EXPECT_TRUE(p->exclude_default);
  EXPECT_FALSE(p->exclude_fields.has_value());
  req.query = "all_fields=yes";
  EXPECT_FALSE(selector_params(req).ok());
}

TEST(SelectorQuery, SingleQueryRendersTheWholeObjectUnlessAsked) {
  auto o = resource_object();
  http::Request req;
  auto whole = SingleQuery::from_request(req, resources());
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->render(o), o.json);
  req.query = "exclude_default";
  auto def = SingleQuery::from_request(req, resources());
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(json::parse(def->render(o)), without(o.doc, {"elements", "extensions"}));
  req.query = "fields=nope";
  auto bad = SingleQuery::from_request(req, resources());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problem().status, 400);
}

TEST(SelectorQuery, DefaultExclusionsPerKind) {
  auto excluded = [](Kind k) { return schema_for(k).default_exclusions(); };
  using V = std::vector<std::string>;
  EXPECT_EQ(excluded(Kind::resource_type), (V{"extensions", "alarmDictionary"}));
  EXPECT_EQ(excluded(Kind::alarm_dictionary), V{"alarmDefinition"});
  EXPECT_EQ(excluded(Kind::resource_pool), V{"extensions"});
  EXPECT_EQ(excluded(Kind::resource), (V{"elements", "extensions"}));
  EXPECT_EQ(excluded(Kind::deployment_manager), (V{"extensions"}));
  EXPECT_EQ(excluded(Kind::location), V{"extensions"});
  EXPECT_EQ(excluded(Kind::ocloud_site), V{"extensions"});
}

}  // namespace
}  // namespace o2gw
