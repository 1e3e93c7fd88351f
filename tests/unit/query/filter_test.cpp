#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"

namespace o2gw {
namespace {

using nlohmann::json;

const json& resource_doc() {
  static const json doc = json::parse(R"({
    "resourceId": "7B5E3C4A-0F52-4F4B-9A0E-2F1D6C1C3A01",
    "resourcePoolId": "1b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "resourceTypeId": "2b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "globalAssetId": "SN-001",
    "description": "compute node, rack (a); it's fast",
    "elements": [{"resourceId": "3b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01", "description": "nic 1",
                  "elements": [], "tags": ["sriov"], "groups": [], "extensions": {"speed": 25}}],
    "tags": ["gpu", "edge"],
    "groups": ["g1"],
    "extensions": {"cpu": {"arch": "x86_64", "cores": 64}, "ready": true, "labels": ["a", "b"],
                   "weight": 2.5, "empty": "", "big": 18446744073709551615}
  })");
  return doc;
}

const json& location_doc() {
  static const json doc = json::parse(R"({
    "globalLocationId": "loc-1", "name": "Toronto", "description": "", "oCloudSiteIds": [],
    "coordinate": {"type": "Point", "coordinates": [-79.38, 43.65, 76.5]},
    "civicAddress": [{"caType": 1, "caValue": "CA"}, {"caType": 6, "caValue": "Toronto"}],
    "extensions": {}
  })");
  return doc;
}

// A schema of the kind later lists will add (alarms), with the types inventory lacks.
const AttributeSchema& alarm_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("AlarmEventRecord", "alarmEventRecordId");
    s.add("alarmEventRecordId", AttrType::uuid)
        .add("alarmRaisedTime", AttrType::datetime)
        .add("alarmAcknowledged", AttrType::boolean)
        .add("perceivedSeverity", AttrType::integer)
        .add("extensions", AttrType::object)
        .exclude_by_default({"extensions"});
    return s;
  }();
  return schema;
}

const json& alarm_doc() {
  static const json doc = json::parse(R"({
    "alarmEventRecordId": "5b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
    "alarmRaisedTime": "2024-01-01T01:30:00.250+02:00",
    "alarmAcknowledged": false,
    "perceivedSeverity": 3,
    "extensions": {}
  })");
  return doc;
}

const AttributeSchema& resources() {
  return schema_for(Kind::resource);
}

bool match(std::string_view text, const json& doc = resource_doc(), const AttributeSchema& schema = resources()) {
  auto f = Filter::parse(text, schema);
  EXPECT_TRUE(f.ok()) << text << ": " << (f.ok() ? "" : f.problem().detail);
  return f.ok() && f->matches(doc);
}

std::string error(std::string_view text, const AttributeSchema& schema = resources()) {
  auto f = Filter::parse(text, schema);
  EXPECT_FALSE(f.ok()) << text;
  if (f.ok()) return {};
  EXPECT_EQ(f.problem().status, 400);
  return f.problem().detail;
}

TEST(FilterQuery, EmptyFilterMatchesEverything) {
  auto f = Filter::parse("", resources());
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->empty());
  EXPECT_TRUE(f->matches(resource_doc()));
  EXPECT_TRUE(Filter().matches(json::object()));
}

TEST(FilterQuery, EqualityOperatorsOnStrings) {
  EXPECT_TRUE(match("(eq,globalAssetId,SN-001)"));
  EXPECT_FALSE(match("(eq,globalAssetId,SN-002)"));
  EXPECT_FALSE(match("(eq,globalAssetId,sn-001)"));  // strings are case-sensitive
  EXPECT_TRUE(match("(neq,globalAssetId,SN-002)"));
  EXPECT_FALSE(match("(neq,globalAssetId,SN-001)"));
  EXPECT_TRUE(match("(in,globalAssetId,SN-000,SN-001,SN-002)"));
  EXPECT_FALSE(match("(in,globalAssetId,SN-000,SN-002)"));
  EXPECT_TRUE(match("(nin,globalAssetId,SN-000,SN-002)"));
  EXPECT_FALSE(match("(nin,globalAssetId,SN-000,SN-001)"));
}

TEST(FilterQuery, OrderingOperatorsOnStringsUseCodePoints) {
  EXPECT_TRUE(match("(gt,globalAssetId,SN-000)"));
  EXPECT_FALSE(match("(gt,globalAssetId,SN-001)"));
  EXPECT_TRUE(match("(gte,globalAssetId,SN-001)"));
  EXPECT_TRUE(match("(lt,globalAssetId,SN-01)"));
  EXPECT_TRUE(match("(lte,globalAssetId,SN-001)"));
  EXPECT_FALSE(match("(lt,globalAssetId,SN-001)"));
  EXPECT_TRUE(match("(lt,globalAssetId,sn)"));        // 'S' < 's'
  EXPECT_TRUE(match("(lt,globalAssetId,\xC3\xA9)"));  // ASCII < U+00E9
}

TEST(FilterQuery, ContainsOperators) {
  EXPECT_TRUE(match("(cont,description,node)"));
  EXPECT_TRUE(match("(cont,description,xyz,node)"));
  EXPECT_FALSE(match("(cont,description,xyz)"));
  EXPECT_TRUE(match("(ncont,description,xyz,abc)"));
  EXPECT_FALSE(match("(ncont,description,xyz,node)"));
  EXPECT_TRUE(match("(cont,tags,dg)"));  // any element of an array
}

TEST(FilterQuery, OperatorsAreCaseInsensitive) {
  EXPECT_TRUE(match("(EQ,globalAssetId,SN-001)"));
  EXPECT_TRUE(match("(Cont,description,node)"));
  EXPECT_TRUE(match("(NIN,globalAssetId,x)"));
}

TEST(FilterQuery, UuidsCompareCaseInsensitively) {
  EXPECT_TRUE(match("(eq,resourceId,7b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01)"));
  EXPECT_TRUE(match("(eq,resourcePoolId,1B5E3C4A-0F52-4F4B-9A0E-2F1D6C1C3A01)"));
  EXPECT_TRUE(match("(in,resourceTypeId,3b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01,2B5E3C4A-0F52-4F4B-9A0E-2F1D6C1C3A01)"));
  EXPECT_TRUE(match("(cont,resourceId,0F52-4f4b)"));  // cont takes part of a UUID
  EXPECT_TRUE(match("(neq,resourceId,8b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01)"));
}

TEST(FilterQuery, NumbersCompareNumerically) {
  const auto& loc = schema_for(Kind::location);
  EXPECT_TRUE(match("(eq,civicAddress/caType,6)", location_doc(), loc));
  EXPECT_TRUE(match("(eq,civicAddress/caType,6.0)", location_doc(), loc));
  EXPECT_TRUE(match("(eq,civicAddress/caType,6e0)", location_doc(), loc));
  EXPECT_TRUE(match("(gt,civicAddress/caType,5.5)", location_doc(), loc));
  EXPECT_FALSE(match("(gt,civicAddress/caType,6)", location_doc(), loc));
  EXPECT_TRUE(match("(lt,civicAddress/caType,2)", location_doc(), loc));  // 1 < 2
  EXPECT_TRUE(match("(gt,coordinate/coordinates,43.6)", location_doc(), loc));
  EXPECT_TRUE(match("(lt,coordinate/coordinates,-79)", location_doc(), loc));
  EXPECT_FALSE(match("(lt,coordinate/coordinates,-80)", location_doc(), loc));
  EXPECT_TRUE(match("(eq,coordinate/type,Point)", location_doc(), loc));
  EXPECT_TRUE(match("(in,civicAddress/caValue,US,CA)", location_doc(), loc));
  // 2 < 10 numerically (as strings "10" < "2").
  EXPECT_TRUE(match("(lt,civicAddress/caType,10)", location_doc(), loc));
}

TEST(FilterQuery, BooleansAndDateTimes) {
  const auto& s = alarm_schema();
  EXPECT_TRUE(match("(eq,alarmAcknowledged,false)", alarm_doc(), s));
  EXPECT_TRUE(match("(eq,alarmAcknowledged,FALSE)", alarm_doc(), s));
  EXPECT_TRUE(match("(neq,alarmAcknowledged,true)", alarm_doc(), s));
  EXPECT_TRUE(match("(in,alarmAcknowledged,true,false)", alarm_doc(), s));
  // 01:30+02:00 is 23:30Z the day before.
  EXPECT_TRUE(match("(lt,alarmRaisedTime,2024-01-01T00:00:00Z)", alarm_doc(), s));
  EXPECT_TRUE(match("(gt,alarmRaisedTime,2023-12-31T23:30:00Z)", alarm_doc(), s));
  EXPECT_TRUE(match("(eq,alarmRaisedTime,2023-12-31T23:30:00.25Z)", alarm_doc(), s));
  EXPECT_TRUE(match("(eq,alarmRaisedTime,2023-12-31t18:30:00.250000000-05:00)", alarm_doc(), s));
  EXPECT_TRUE(match("(gte,alarmRaisedTime,2024-01-01T01:30:00.25+02:00)", alarm_doc(), s));
  // A '+' that a form decoder turned into a space still reads as an offset.
  EXPECT_TRUE(match("(lte,alarmRaisedTime,2024-01-01T01:30:00.25 02:00)", alarm_doc(), s));
  EXPECT_TRUE(match("(gte,perceivedSeverity,3);(lt,perceivedSeverity,4)", alarm_doc(), s));
}

TEST(FilterQuery, QuotedValues) {
  EXPECT_TRUE(match("(eq,description,'compute node, rack (a); it''s fast')"));
  EXPECT_TRUE(match("(cont,description,', rack (a);')"));
  EXPECT_TRUE(match("(cont,description,'it''s')"));
  EXPECT_TRUE(match("(eq,extensions/empty,'')"));
  EXPECT_TRUE(match("(in,globalAssetId,'x,y','SN-001')"));
  EXPECT_TRUE(match("(eq,globalAssetId,'SN-001');(cont,description,'(a)')"));
}

TEST(FilterQuery, NestedAndOpenObjectPaths) {
  EXPECT_TRUE(match("(eq,extensions/cpu/arch,x86_64)"));
  EXPECT_TRUE(match("(gt,extensions/cpu/cores,10)"));  // number by the JSON value
  EXPECT_TRUE(match("(eq,extensions/cpu/cores,64.0)"));
  EXPECT_FALSE(match("(eq,extensions/cpu/cores,sixty)"));  // string vs number: no match
  EXPECT_TRUE(match("(neq,extensions/cpu/cores,sixty)"));
  EXPECT_TRUE(match("(eq,extensions/ready,true)"));
  EXPECT_FALSE(match("(eq,extensions/ready,false)"));
  EXPECT_TRUE(match("(lt,extensions/weight,3)"));
  EXPECT_TRUE(match("(gt,extensions/big,18446744073709551614)"));
  EXPECT_TRUE(match("(gt,extensions/big,-1)"));
  EXPECT_TRUE(match("(eq,elements/description,'nic 1')"));  // recursive Resource elements
  EXPECT_TRUE(match("(gt,elements/extensions/speed,10)"));
  EXPECT_TRUE(match("(eq,elements/tags,sriov)"));
  EXPECT_FALSE(match("(eq,extensions/cpu/arch/deeper,x)"));  // below a string: nothing there
}

TEST(FilterQuery, ArraysMatchWhenAnyElementMatches) {
  EXPECT_TRUE(match("(eq,tags,edge)"));
  EXPECT_TRUE(match("(eq,tags,gpu)"));
  EXPECT_FALSE(match("(eq,tags,cpu)"));
  EXPECT_TRUE(match("(in,tags,cpu,edge)"));
  EXPECT_TRUE(match("(eq,extensions/labels,b)"));
  // Negative operators are the negation: true when no element matches.
  EXPECT_FALSE(match("(neq,tags,gpu)"));
  EXPECT_TRUE(match("(neq,tags,cpu)"));
  EXPECT_FALSE(match("(nin,tags,cpu,edge)"));
  EXPECT_TRUE(match("(ncont,tags,zz)"));
  EXPECT_FALSE(match("(eq,groups,x)"));
}

TEST(FilterQuery, AbsentAttributes) {
  EXPECT_FALSE(match("(eq,extensions/missing,x)"));
  EXPECT_FALSE(match("(gt,extensions/missing,1)"));
  EXPECT_TRUE(match("(neq,extensions/missing,x)"));
  EXPECT_TRUE(match("(nin,extensions/missing,x,y)"));
  EXPECT_TRUE(match("(ncont,extensions/missing,x)"));
}

TEST(FilterQuery, TermsAreJoinedWithAnd) {
  EXPECT_TRUE(match("(eq,tags,gpu);(eq,extensions/cpu/arch,x86_64);(cont,description,rack)"));
  EXPECT_FALSE(match("(eq,tags,gpu);(eq,extensions/cpu/arch,arm64)"));
}

TEST(FilterQuery, CanonicalTextIgnoresSpelling) {
  auto a = Filter::parse("(EQ,globalAssetId,SN-001);(in,tags,a,'b')", resources());
  auto b = Filter::parse("(eq,globalAssetId,'SN-001');(IN,tags,'a',b)", resources());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->canonical(), b->canonical());
  EXPECT_EQ(a->canonical(), "(eq,globalAssetId,'SN-001');(in,tags,'a','b')");
}

// ---- errors: each names the term and the 1-based position ----

TEST(FilterQuery, UnknownAttribute) {
  EXPECT_EQ(error("(eq,foo,1)"), "filter term '(eq,foo,1)' at position 5: unknown attribute 'foo'");
  EXPECT_EQ(error("(eq,tags,a);(eq,elements/foo,1)"),
            "filter term '(eq,elements/foo,1)' at position 26: unknown attribute 'elements/foo'");
  EXPECT_EQ(error("(eq,coordinate/height,1)", schema_for(Kind::location)),
            "filter term '(eq,coordinate/height,1)' at position 16: unknown attribute 'coordinate/height'");
  EXPECT_EQ(error("(eq,description/x,1)"),
            "filter term '(eq,description/x,1)' at position 17: attribute 'description' has no sub-attributes");
  EXPECT_EQ(error("(eq,extensions//a,1)"),
            "filter term '(eq,extensions//a,1)' at position 16: empty segment in attribute 'extensions//a'");
  EXPECT_EQ(error("(eq,name,x)"), "filter term '(eq,name,x)' at position 5: unknown attribute 'name'");
}

TEST(FilterQuery, ComplexAttributeIsNotAValue) {
  EXPECT_EQ(error("(eq,extensions,1)"),
            "filter term '(eq,extensions,1)' at position 5: attribute 'extensions' is an object; filter on one "
            "of its sub-attributes");
  EXPECT_NE(error("(eq,elements,1)").find("position 5"), std::string::npos);
}

TEST(FilterQuery, UnknownOperator) {
  EXPECT_EQ(error("(like,description,a)"),
            "filter term '(like,description,a)' at position 2: unknown operator 'like'; expected eq, neq, gt, lt, "
            "gte, lte, in, nin, cont or ncont");
  EXPECT_EQ(error("(,description,a)"), "filter term '(,description,a)' at position 2: missing operator");
}

TEST(FilterQuery, WrongArity) {
  EXPECT_EQ(error("(eq,description,a,b)"),
            "filter term '(eq,description,a,b)' at position 2: operator 'eq' takes exactly one value, got 2");
  EXPECT_EQ(error("(gte,description)"),
            "filter term '(gte,description)' at position 2: operator 'gte' takes exactly one value, got none");
  EXPECT_EQ(error("(in,tags)"),
            "filter term '(in,tags)' at position 2: operator 'in' takes one or more values, got none");
  EXPECT_EQ(error("(eq)"), "filter term '(eq)' at position 4: missing attribute");
}

TEST(FilterQuery, WrongValueTypes) {
  const auto& loc = schema_for(Kind::location);
  EXPECT_EQ(error("(eq,civicAddress/caType,six)", loc),
            "filter term '(eq,civicAddress/caType,six)' at position 25: value 'six' is not an integer, as attribute "
            "'civicAddress/caType' requires");
  EXPECT_NE(error("(gt,coordinate/coordinates,1,5)", loc).find("exactly one value"), std::string::npos);
  EXPECT_EQ(error("(eq,resourceId,not-a-uuid)"),
            "filter term '(eq,resourceId,not-a-uuid)' at position 16: value 'not-a-uuid' is not a UUID, as attribute "
            "'resourceId' requires");
  EXPECT_EQ(error("(gt,resourceId,7b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01)"),
            "filter term '(gt,resourceId,7b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01)' at position 2: operator 'gt' does "
            "not apply to attribute 'resourceId', a UUID; use eq, neq, in or nin");
  const auto& s = alarm_schema();
  EXPECT_NE(error("(lt,alarmAcknowledged,true)", s).find("position 2: operator 'lt' does not apply"),
            std::string::npos);
  EXPECT_NE(error("(eq,alarmAcknowledged,yes)", s).find("position 23: value 'yes' is not a boolean"),
            std::string::npos);
  EXPECT_NE(error("(gt,alarmRaisedTime,2024-01-01)", s).find("is not an RFC 3339 date-time"), std::string::npos);
  EXPECT_NE(error("(gt,alarmRaisedTime,2024-02-30T00:00:00Z)", s).find("position 21"), std::string::npos);
  EXPECT_NE(error("(cont,perceivedSeverity,3)", s).find("operator 'cont' applies to strings only"), std::string::npos);
  EXPECT_NE(error("(eq,perceivedSeverity,0x10)", s).find("not an integer"), std::string::npos);
  EXPECT_NE(error("(eq,perceivedSeverity,1e999)", s).find("not an integer"), std::string::npos);
}

TEST(FilterQuery, SyntaxErrors) {
  EXPECT_EQ(error("(eq,description,'abc)"),
            "filter term '(eq,description,'abc)' at position 17: unbalanced quote: the value is not closed");
  EXPECT_EQ(error("(eq,description,abc"),
            "filter term '(eq,description,abc' at position 1: unbalanced parenthesis: the term is not closed with ')'");
  EXPECT_EQ(error("(eq,tags,a);(eq,tags,b"),
            "filter term '(eq,tags,b' at position 13: unbalanced parenthesis: the term is not closed with ')'");
  EXPECT_EQ(error("(eq,tags,a);;(eq,tags,b)"), "filter at position 13: empty term");
  EXPECT_EQ(error("(eq,tags,a);"), "filter at position 13: empty term");
  EXPECT_EQ(error(";(eq,tags,a)"), "filter at position 1: empty term");
  EXPECT_EQ(error("(eq,tags,a)x"), "filter term 'x' at position 12: unexpected 'x' after a term; join terms with ';'");
  EXPECT_EQ(error("(eq,tags,a))"), "filter term ')' at position 12: unexpected ')' after a term; join terms with ';'");
  EXPECT_EQ(error("eq,tags,a"), "filter term 'eq,tags,a' at position 1: expected '(' to start a term");
  EXPECT_EQ(error("(eq,tags,a(b)"),
            "filter term '(eq,tags,a(b)' at position 11: unexpected '(' in a value; quote values that contain , ( ) ; "
            "or ' (write '' for a quote)");
  EXPECT_NE(error("(eq,description,O'Brien)").find("position 18: unexpected quote in a value"), std::string::npos);
  EXPECT_EQ(error("(eq,tags,'a'b)"),
            "filter term '(eq,tags,'a'b)' at position 13: unexpected 'b' after a quoted value");
  EXPECT_EQ(error("(eq,tags,)"), "filter term '(eq,tags,)' at position 10: empty value; write '' for an empty string");
  EXPECT_EQ(error("(eq,tags;a)"), "filter term '(eq,tags' at position 9: unexpected ';'");
  EXPECT_EQ(error("(eq(,tags,a)"), "filter term '(eq(,tags,a)' at position 4: unexpected '('");
}

TEST(FilterQuery, PositionsCountCharactersNotBytes) {
  // "é" is two bytes; the stray 'x' is the 16th character (18th byte).
  EXPECT_EQ(error("(eq,tags,'\xC3\xA9t\xC3\xA9')x"),
            "filter term 'x' at position 16: unexpected 'x' after a term; join terms with ';'");
}

TEST(FilterQuery, LongTermsAreCutInDetails) {
  std::string value(500, 'v');
  std::string detail = error("(eq,nope," + value + ")");
  EXPECT_LT(detail.size(), 200u);
  EXPECT_NE(detail.find("..."), std::string::npos);
}

TEST(FilterQuery, EveryKindHasASchema) {
  for (Kind k : {Kind::resource_type, Kind::alarm_dictionary, Kind::resource_pool, Kind::resource,
                 Kind::deployment_manager, Kind::location, Kind::ocloud_site}) {
    const auto& s = schema_for(k);
    ASSERT_NE(s.find(s.id_attribute()), nullptr) << s.name();
  }
  EXPECT_TRUE(Filter::parse("(eq,alarmDefinition/alarmName,x)", schema_for(Kind::alarm_dictionary)).ok());
  EXPECT_TRUE(Filter::parse("(eq,capabilities/x/y,1)", schema_for(Kind::deployment_manager)).ok());
  EXPECT_TRUE(Filter::parse("(eq,globalLocationId,x);(eq,oCloudId,262c8f17-52b5-4614-9e56-812ae21fa8a7)",
                            schema_for(Kind::resource_pool))
                  .ok());
  EXPECT_THROW(AttributeSchema("X").add("a", AttrType::string).exclude_by_default({"a"}), std::logic_error);
}

}  // namespace
}  // namespace o2gw
