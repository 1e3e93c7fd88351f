#include "ims/file/inventory_file.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "o2gw/inventory.hpp"
#include "o2gw/uuid.hpp"
#include "unit/adapters/adapter_test_support.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using test::line_containing;
using test::make_adapter_context;

// Small but complete: every kind, an element with its own type and one that
// inherits its parent's, a DM spanning two sites, typed extensions.
constexpr std::string_view kSmallInventory = R"(version: 1
locations:
  - globalLocationId: loc-a
    name: Location A
    coordinate: {type: Point, coordinates: [11.5, 48.1]}
  - globalLocationId: loc-b
    name: Location B
    address: 1 Main Street
sites:
  - key: site-a
    location: loc-a
    name: Site A
  - key: site-b
    location: loc-b
    name: Site B
resourceTypes:
  - key: server
    name: Server
    vendor: Acme
    model: S1
    version: "1"
    resourceKind: PHYSICAL
    resourceClass: COMPUTE
    alarmDictionary:
      alarmDictionaryVersion: "1.0"
      alarmDefinition:
        - key: fan
          alarmName: Fan failure
          alarmDescription: A fan failed
          clearingType: MANUAL
  - key: nic
    name: NIC
    vendor: Acme
    model: N1
    version: "2"
    resourceKind: PHYSICAL
    resourceClass: NETWORKING
resourcePools:
  - key: pool-a
    site: site-a
    name: Pool A
  - key: pool-b
    site: site-b
    name: Pool B
resources:
  - key: r1
    pool: pool-a
    type: server
    description: Server one
    extensions: {port: 8080, quoted: "8080", enabled: true, ratio: 1.5, release: 1.2.3, none: null}
    elements:
      - key: nic0
        type: nic
        description: NIC zero
      - key: disk0
        description: Disk zero
  - key: r2
    pool: pool-b
    type: server
    description: Server two
deploymentManagers:
  - key: dm-1
    name: Cluster 1
    serviceUri: https://k8s.example:6443
    sites: [site-a, site-b]
)";

class InventoryFileParserTest : public ::testing::Test {
 protected:
  std::vector<InventoryObject> parse(std::string_view text, const std::string& instance = "files") {
    AdapterContext ctx = make_adapter_context(instance, nullptr);
    return parse_inventory_file(std::string(text), "small.yaml", ctx);
  }
  static std::map<Kind, std::vector<const InventoryObject*>> by_kind(const std::vector<InventoryObject>& objects) {
    std::map<Kind, std::vector<const InventoryObject*>> out;
    for (const auto& o : objects) out[o.kind].push_back(&o);
    return out;
  }
  static const InventoryObject& find(const std::vector<InventoryObject>& objects, Kind kind, std::string_view field,
                                     std::string_view value) {
    for (const auto& o : objects) {
      if (o.kind == kind && o.doc.contains(field) && o.doc[field] == value) return o;
    }
    throw std::runtime_error("no " + std::string(kind_name(kind)) + " with " + std::string(field) + " = " +
                             std::string(value));
  }
};

TEST_F(InventoryFileParserTest, CountsEveryKind) {
  auto kinds = by_kind(parse(kSmallInventory));
  EXPECT_EQ(kinds[Kind::location].size(), 2u);
  EXPECT_EQ(kinds[Kind::ocloud_site].size(), 2u);
  EXPECT_EQ(kinds[Kind::resource_type].size(), 2u);
  EXPECT_EQ(kinds[Kind::alarm_dictionary].size(), 1u);
  EXPECT_EQ(kinds[Kind::resource_pool].size(), 2u);
  EXPECT_EQ(kinds[Kind::resource].size(), 2u);  // elements are nested, not objects of their own
  EXPECT_EQ(kinds[Kind::deployment_manager].size(), 1u);
}

TEST_F(InventoryFileParserTest, ExampleInventoryParsesWithOneObjectPerEntry) {
  const std::string path = std::string(O2GW_SOURCE_DIR) + "/deploy/inventory/example-inventory.yaml";
  const std::string text = test::read_text_file(path);
  AdapterContext ctx = make_adapter_context("example", nullptr);
  auto kinds = by_kind(parse_inventory_file(text, path, ctx));
  // Count the entries independently of the parser, straight from the YAML tree.
  YAML::Node raw = YAML::Load(text);
  std::size_t dictionaries = 0;
  for (const auto& t : raw["resourceTypes"]) dictionaries += t["alarmDictionary"] ? 1 : 0;
  EXPECT_EQ(kinds[Kind::location].size(), raw["locations"].size());
  EXPECT_EQ(kinds[Kind::ocloud_site].size(), raw["sites"].size());
  EXPECT_EQ(kinds[Kind::resource_type].size(), raw["resourceTypes"].size());
  EXPECT_EQ(kinds[Kind::alarm_dictionary].size(), dictionaries);
  EXPECT_EQ(kinds[Kind::resource_pool].size(), raw["resourcePools"].size());
  EXPECT_EQ(kinds[Kind::resource].size(), raw["resources"].size());
  EXPECT_EQ(kinds[Kind::deployment_manager].size(), raw["deploymentManagers"].size());
  // What the example promises in its own comments and docs.
  EXPECT_EQ(kinds[Kind::ocloud_site].size(), 2u);
  EXPECT_GE(kinds[Kind::resource].size(), 24u);
  EXPECT_GE(kinds[Kind::resource_type].size(), 3u);
  EXPECT_EQ(dictionaries, raw["resourceTypes"].size());
}

TEST_F(InventoryFileParserTest, DocumentsHaveTheRequiredO2Fields) {
  // Required fields per resources.openapi.yaml and common.openapi.yaml.
  const std::map<Kind, std::vector<std::string>> required = {
      {Kind::resource_type,
       {"resourceTypeId", "name", "description", "vendor", "model", "version", "resourceKind", "resourceClass",
        "extensions"}},
      {Kind::resource_pool, {"resourcePoolId", "name", "oCloudSiteId", "description", "globalLocationId", "oCloudId"}},
      {Kind::resource,
       {"resourceId", "resourcePoolId", "resourceTypeId", "globalAssetId", "description", "elements", "tags", "groups",
        "extensions"}},
      {Kind::deployment_manager,
       {"deploymentManagerId", "name", "description", "oCloudId", "serviceUri", "supportedLocations", "capabilities",
        "capacity"}},
      {Kind::location, {"globalLocationId", "name", "description", "oCloudSiteIds", "extensions"}},
      {Kind::ocloud_site, {"oCloudSiteId", "globalLocationId", "name", "description", "resourcePools", "extensions"}},
      {Kind::alarm_dictionary,
       {"alarmDictionaryId", "alarmDictionaryVersion", "alarmDictionarySchemaVersion", "entityType", "vendor",
        "managementInterfaceId", "pkNotificationField", "alarmDefinition"}},
  };
  const auto objects = parse(kSmallInventory);
  for (const auto& o : objects) {
    for (const auto& field : required.at(o.kind)) {
      EXPECT_TRUE(o.doc.contains(field)) << kind_name(o.kind) << " " << o.id << " lacks " << field;
    }
    EXPECT_EQ(o.json, o.doc.dump()) << "not finalized";
    EXPECT_EQ(o.source, "files");
    if (o.kind != Kind::location) {
      EXPECT_TRUE(is_uuid(o.id)) << o.id;
    }
  }
  for (const auto& def : find(objects, Kind::alarm_dictionary, "vendor", "Acme").doc["alarmDefinition"]) {
    for (const char* field :
         {"alarmDefinitionId", "alarmName", "alarmLastChange", "alarmChangeType", "alarmDescription",
          "proposedRepairActions", "clearingType", "managementInterfaceId", "pkNotificationField"}) {
      EXPECT_TRUE(def.contains(field)) << "alarm definition lacks " << field;
    }
  }
}

TEST_F(InventoryFileParserTest, CrossReferencesAreComputed) {
  const auto objects = parse(kSmallInventory);
  const auto& site_a = find(objects, Kind::ocloud_site, "name", "Site A");
  const auto& site_b = find(objects, Kind::ocloud_site, "name", "Site B");
  const auto& loc_a = find(objects, Kind::location, "globalLocationId", "loc-a");
  const auto& pool_a = find(objects, Kind::resource_pool, "name", "Pool A");
  const auto& server = find(objects, Kind::resource_type, "name", "Server");
  const auto& nic = find(objects, Kind::resource_type, "name", "NIC");
  const auto& r1 = find(objects, Kind::resource, "description", "Server one");
  const auto& dm = find(objects, Kind::deployment_manager, "name", "Cluster 1");
  const auto& dict = find(objects, Kind::alarm_dictionary, "vendor", "Acme");

  EXPECT_EQ(loc_a.id, "loc-a");
  EXPECT_EQ(loc_a.doc["oCloudSiteIds"], json::array({site_a.id}));
  EXPECT_EQ(loc_a.doc["coordinate"]["type"], "Point");
  EXPECT_EQ(site_a.doc["resourcePools"], json::array({pool_a.id}));
  EXPECT_EQ(site_a.doc["globalLocationId"], "loc-a");
  EXPECT_EQ(pool_a.doc["oCloudSiteId"], site_a.id);
  EXPECT_EQ(pool_a.doc["globalLocationId"], "loc-a");
  EXPECT_EQ(pool_a.doc["oCloudId"], std::string(test::kTestOCloudId));
  EXPECT_EQ(r1.parent_id, pool_a.id);
  EXPECT_EQ(r1.doc["resourcePoolId"], pool_a.id);
  EXPECT_EQ(r1.doc["resourceTypeId"], server.id);
  EXPECT_EQ(dm.doc["supportedLocations"], json::array({"loc-a", "loc-b"}));
  EXPECT_EQ(dm.doc["oCloudId"], std::string(test::kTestOCloudId));
  EXPECT_EQ(server.doc["alarmDictionaryId"], dict.id);
  EXPECT_FALSE(nic.doc.contains("alarmDictionaryId"));
  EXPECT_EQ(dict.parent_id, server.id);
  EXPECT_EQ(dict.doc["managementInterfaceId"], json::array({"O2IMS"}));
  EXPECT_TRUE(site_b.parent_id.empty());
  EXPECT_TRUE(server.parent_id.empty());

  const json& elements = r1.doc["elements"];
  ASSERT_EQ(elements.size(), 2u);
  std::set<std::string> ids = {r1.id};
  for (const auto& e : elements) {
    ids.insert(e["resourceId"].get<std::string>());
    EXPECT_TRUE(is_uuid(e["resourceId"].get<std::string>()));
    EXPECT_EQ(e["resourcePoolId"], pool_a.id);
  }
  EXPECT_EQ(ids.size(), 3u) << "elements need ids of their own";
  EXPECT_EQ(elements[0]["resourceTypeId"], nic.id);
  EXPECT_EQ(elements[1]["resourceTypeId"], server.id) << "an element without a type inherits it";
}

TEST_F(InventoryFileParserTest, AppliesDocumentedDefaults) {
  const auto objects = parse(kSmallInventory);
  const auto& dict = find(objects, Kind::alarm_dictionary, "vendor", "Acme");
  EXPECT_EQ(dict.doc["entityType"], "S1-1");
  EXPECT_EQ(dict.doc["alarmDictionarySchemaVersion"], "1.0");
  EXPECT_EQ(dict.doc["pkNotificationField"], json::array({"alarmDefinitionID"}));
  const json& def = dict.doc["alarmDefinition"][0];
  EXPECT_EQ(def["alarmChangeType"], "ADDED");
  EXPECT_EQ(def["alarmLastChange"], "1.0");
  EXPECT_EQ(def["proposedRepairActions"], "");
  const auto& r2 = find(objects, Kind::resource, "description", "Server two");
  EXPECT_EQ(r2.doc["globalAssetId"], "");
  EXPECT_EQ(r2.doc["elements"], json::array());
  EXPECT_EQ(r2.doc["extensions"], json::object());
  EXPECT_EQ(find(objects, Kind::location, "globalLocationId", "loc-b").doc["description"], "");
}

TEST_F(InventoryFileParserTest, ExtensionScalarsKeepTheirYamlTypes) {
  const auto objects = parse(kSmallInventory);
  const json& ext = find(objects, Kind::resource, "description", "Server one").doc["extensions"];
  EXPECT_EQ(ext["port"], 8080);
  EXPECT_EQ(ext["quoted"], "8080");
  EXPECT_EQ(ext["enabled"], true);
  EXPECT_DOUBLE_EQ(ext["ratio"].get<double>(), 1.5);
  EXPECT_EQ(ext["release"], "1.2.3");
  EXPECT_TRUE(ext["none"].is_null());
}

TEST_F(InventoryFileParserTest, IdsAreStableAcrossParsesAndDifferPerInstance) {
  const auto first = parse(kSmallInventory, "files");
  const auto second = parse(kSmallInventory, "files");
  const auto other = parse(kSmallInventory, "other-files");
  ASSERT_EQ(first.size(), second.size());
  ASSERT_EQ(first.size(), other.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].id, second[i].id);
    EXPECT_EQ(first[i].json, second[i].json);
    if (first[i].kind == Kind::location) {
      EXPECT_EQ(first[i].id, other[i].id) << "locations keep the SMO's globalLocationId";
    } else {
      EXPECT_NE(first[i].id, other[i].id) << kind_name(first[i].kind);
    }
  }
}

TEST_F(InventoryFileParserTest, MinimalFileInTheDocsParses) {
  // The format documentation's example must stay a valid file.
  const std::string doc = test::read_text_file(std::string(O2GW_SOURCE_DIR) + "/docs/inventory-file.md");
  const auto section = doc.find("## A minimal file");
  ASSERT_NE(section, std::string::npos);
  const auto begin = doc.find("```yaml\n", section);
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  auto kinds = by_kind(parse(std::string_view(doc).substr(begin + 8, end - begin - 8)));
  EXPECT_EQ(kinds[Kind::resource].size(), 1u);
  EXPECT_EQ(kinds[Kind::alarm_dictionary].size(), 1u);
  EXPECT_EQ(kinds[Kind::deployment_manager].size(), 1u);
}

TEST_F(InventoryFileParserTest, EmptyInventoryMustBeExplicit) {
  EXPECT_TRUE(parse("{}\n").empty());
  EXPECT_THROW(parse(""), InventoryFileError);
  EXPECT_THROW(parse("# only a comment\n"), InventoryFileError);
}

// --- errors -----------------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::string_view replace;  // a unique fragment of kSmallInventory
  std::string_view with;     // its replacement; "#<-" marks the line the error must name
  const char* reason;        // a fragment the reason must contain
};

std::string with_edit(std::string_view base, std::string_view from, std::string_view to) {
  std::string text(base);
  const auto at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
    throw std::logic_error("fragment not unique in the base document: " + std::string(from));
  }
  return text.replace(at, from.size(), to);
}

class InventoryFileErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(InventoryFileErrorTest, ReportsLineAndReason) {
  const ErrorCase& c = GetParam();
  const std::string text = with_edit(kSmallInventory, c.replace, c.with);
  const int expected_line = line_containing(text, "#<-");
  ASSERT_GT(expected_line, 0) << "the case needs a #<- marker";
  AdapterContext ctx = make_adapter_context("files", nullptr);
  try {
    parse_inventory_file(text, "bad.yaml", ctx);
    FAIL() << "accepted:\n" << text;
  } catch (const InventoryFileError& e) {
    EXPECT_EQ(e.origin(), "bad.yaml");
    EXPECT_EQ(e.line(), expected_line) << e.what();
    EXPECT_NE(e.reason().find(c.reason), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.yaml:" + std::to_string(expected_line) + ": ", 0), 0u) << e.what();
  }
}

const ErrorCase kErrorCases[] = {
    {"SyntaxError", "  - key: r2\n    pool: pool-b\n", "  - key: r2\n   pool: pool-b  #<-\n", "YAML syntax error"},
    {"MissingRequiredKey", "  - key: site-b\n    location: loc-b\n    name: Site B\n",
     "  - key: site-b  #<-\n    location: loc-b\n", "missing required key 'name'"},
    {"EmptyRequiredValue", "    name: Pool A\n", "    name:  #<-\n", "is required but empty"},
    {"WrongType", "    name: Pool A\n", "    name: [Pool, A]  #<-\n", "must be a string"},
    {"WrongTypeForList", "    sites: [site-a, site-b]\n", "    sites: site-a  #<-\n", "must be a list"},
    {"WrongTypeForExtensions", "    description: Server two\n",
     "    description: Server two\n    extensions: [a]  #<-\n", "must be a mapping"},
    {"UnknownKeyWithSuggestion", "    name: Site A\n", "    nmae: Site A  #<-\n",
     "unknown key 'nmae' (did you mean 'name'?)"},
    {"UnknownTopLevelKey", "resourcePools:\n", "resourcePool:  #<-\n",
     "unknown key 'resourcePool' (did you mean 'resourcePools'?)"},
    {"DuplicateMappingKey", "    name: Pool A\n", "    name: Pool A\n    name: Pool AA  #<-\n", "duplicate key 'name'"},
    {"DuplicateExtensionKey",
     "    extensions: {port: 8080, quoted: \"8080\", enabled: true, ratio: 1.5, release: 1.2.3, "
     "none: null}\n",
     "    extensions:\n      port: 8080\n      port: 9090  #<-\n", "duplicate key 'port'"},
    {"DuplicatePoolKey", "  - key: pool-b\n", "  - key: pool-a  #<-\n", "duplicate resource pool key 'pool-a'"},
    {"DuplicateResourceKey", "  - key: r2\n", "  - key: r1  #<-\n", "duplicate resource key 'r1'"},
    {"DuplicateElementKey", "      - key: disk0\n", "      - key: nic0  #<-\n", "duplicate element key 'nic0'"},
    {"DuplicateGlobalLocationId", "  - globalLocationId: loc-b\n", "  - globalLocationId: loc-a  #<-\n",
     "duplicate globalLocationId 'loc-a'"},
    {"DuplicateAlarmDefinitionKey", "          clearingType: MANUAL\n",
     "          clearingType: MANUAL\n        - key: fan  #<-\n          alarmName: Fan again\n"
     "          alarmDescription: x\n          clearingType: MANUAL\n",
     "duplicate alarm definition key 'fan'"},
    {"SiteNamesUnknownLocation", "    location: loc-b\n", "    location: loc-c  #<-\n", "unknown location 'loc-c'"},
    {"PoolNamesUnknownSite", "    site: site-b\n", "    site: site-x  #<-\n", "unknown site 'site-x'"},
    {"ResourceNamesUnknownPool", "    pool: pool-b\n", "    pool: pool-c  #<-\n", "unknown resource pool 'pool-c'"},
    {"ResourceNamesUnknownType", "    type: server\n    description: Server two\n",
     "    type: sever  #<-\n    description: Server two\n", "unknown resource type 'sever' (did you mean 'server'?)"},
    {"ElementNamesUnknownType", "        type: nic\n", "        type: gpu  #<-\n", "unknown resource type 'gpu'"},
    {"DeploymentManagerNamesUnknownSite", "    sites: [site-a, site-b]\n", "    sites: [site-a, site-z]  #<-\n",
     "unknown site 'site-z'"},
    {"BadResourceKind", "    resourceKind: PHYSICAL\n    resourceClass: NETWORKING\n",
     "    resourceKind: VIRTUAL  #<-\n    resourceClass: NETWORKING\n",
     "'VIRTUAL' is not allowed; use UNDEFINED, PHYSICAL or LOGICAL"},
    {"BadResourceClass", "    resourceClass: COMPUTE\n", "    resourceClass: ACCELERATOR  #<-\n",
     "'ACCELERATOR' is not allowed"},
    {"BadClearingType", "          clearingType: MANUAL\n", "          clearingType: SOMETIMES  #<-\n",
     "'SOMETIMES' is not allowed; use AUTOMATIC or MANUAL"},
    {"BadAlarmChangeType", "          clearingType: MANUAL\n",
     "          clearingType: MANUAL\n          alarmChangeType: CHANGED  #<-\n",
     "'CHANGED' is not allowed; use ADDED, DELETED or MODIFIED"},
    {"LocationWithoutAnyAddress", "  - globalLocationId: loc-b\n    name: Location B\n    address: 1 Main Street\n",
     "  - globalLocationId: loc-b  #<-\n    name: Location B\n",
     "give at least one of coordinate, civicAddress or address"},
    {"LatitudeOutOfRange", "coordinates: [11.5, 48.1]}\n", "coordinates: [11.5, 98.1]}  #<-\n", "latitude"},
    {"InvalidKeyCharacters", "  - key: r2\n", "  - key: r/2  #<-\n", "not a valid key"},
    {"ServiceUriWithoutScheme", "    serviceUri: https://k8s.example:6443\n", "    serviceUri: k8s.example:6443  #<-\n",
     "http:// or https://"},
    {"InvalidUtf8", "    name: Site A\n", "    name: Site \xff  #<-\n", "not valid UTF-8"},
    {"InvalidUtf8FromYamlEscape", "    name: Site A\n", "    name: \"Site\\N A\"  #<-\n", "not valid UTF-8"},
    {"UnsupportedVersion", "version: 1\n", "version: 2  #<-\n", "unsupported format version"},
    {"SecondDocument", "    sites: [site-a, site-b]\n", "    sites: [site-a, site-b]\n---\nmore: 1  #<-\n",
     "only one YAML document"},
};

const ErrorCase kCoordinateCase = {"CoordinateNotAPoint", "    coordinate: {type: Point, coordinates: [11.5, 48.1]}\n",
                                   "    coordinate: {type: Polygon, coordinates: [1, 2]}  #<-\n", "must be 'Point'"};

std::string case_name(const ::testing::TestParamInfo<ErrorCase>& param_info) {
  return param_info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, InventoryFileErrorTest, ::testing::ValuesIn(kErrorCases), case_name);
INSTANTIATE_TEST_SUITE_P(Coordinate, InventoryFileErrorTest, ::testing::Values(kCoordinateCase), case_name);

TEST(InventoryFileErrorStandaloneTest, EmptyFileNamesLineOne) {
  AdapterContext ctx = make_adapter_context("files", nullptr);
  try {
    parse_inventory_file("", "empty.yaml", ctx);
    FAIL() << "accepted an empty file";
  } catch (const InventoryFileError& e) {
    EXPECT_EQ(e.line(), 1);
    EXPECT_NE(e.reason().find("empty"), std::string::npos);
  }
}

TEST(InventoryFileErrorStandaloneTest, AliasExpansionIsBounded) {
  // Each level doubles the tree: 2^40 values from a few hundred bytes.
  std::string text = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 40; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + "]\n";
  }
  const std::string doc =
      "resourceTypes:\n  - key: t\n    name: T\n    vendor: V\n    model: M\n"
      "    version: '1'\n    resourceKind: PHYSICAL\n    resourceClass: COMPUTE\n"
      "    extensions:\n" +
      [&] {
        std::string indented;
        std::size_t start = 0;
        while (start < text.size()) {
          auto end = text.find('\n', start);
          indented += "      " + text.substr(start, end - start + 1);
          start = end + 1;
        }
        return indented;
      }();
  AdapterContext ctx = make_adapter_context("files", nullptr);
  const auto began = std::chrono::steady_clock::now();
  EXPECT_THROW(parse_inventory_file(doc, "bomb.yaml", ctx), InventoryFileError);
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
}

TEST(InventoryFileErrorStandaloneTest, InputsThatOnceHungOrEscapedAreRejected) {
  // Found by fuzzing: yaml-cpp's LoadAll never returns on a lone ",", and its
  // "\N" escape yields a byte that is not UTF-8 (which JSON output rejects).
  AdapterContext ctx = make_adapter_context("files", nullptr);
  const std::string type =
      "resourceTypes:\n  - {key: t, name: T, vendor: V, model: M, version: '1', "
      "resourceKind: PHYSICAL, resourceClass: COMPUTE, extensions: ";
  for (const std::string& text :
       {std::string(","), std::string("---\n,\n---\n,\n"), type + "{a: \"\\N\"}}\n", type + "{\"\\_\": 1}}\n"}) {
    EXPECT_THROW(parse_inventory_file(text, "fuzz.yaml", ctx), InventoryFileError) << text;
  }
  EXPECT_NO_THROW(parse_inventory_file(type + "{a: \"\\u00a0\"}}\n", "fuzz.yaml", ctx))
      << "a proper escape of the same character is fine";
}

TEST(InventoryFileErrorStandaloneTest, SelfReferencingAliasIsRejected) {
  const std::string doc =
      "resourceTypes:\n  - key: t\n    name: T\n    vendor: V\n    model: M\n    version: '1'\n"
      "    resourceKind: PHYSICAL\n    resourceClass: COMPUTE\n    extensions: {loop: &l [*l]}\n";
  AdapterContext ctx = make_adapter_context("files", nullptr);
  EXPECT_THROW(parse_inventory_file(doc, "loop.yaml", ctx), InventoryFileError);
}

// --- reload diff ------------------------------------------------------------

class InventoryFileDiffTest : public ::testing::Test {
 protected:
  struct Counts {
    std::size_t created = 0, modified = 0, removed = 0;
  };
  Counts load(std::string_view text) {
    AdapterContext ctx = make_adapter_context("files", &cache_);
    auto changes = cache_.replace_source("files", parse_inventory_file(std::string(text), "v.yaml", ctx));
    Counts c;
    for (const auto& change : changes) {
      if (change.type == ChangeType::create) ++c.created;
      if (change.type == ChangeType::modify) ++c.modified;
      if (change.type == ChangeType::remove) ++c.removed;
    }
    return c;
  }
  InventoryCache cache_;
};

TEST_F(InventoryFileDiffTest, SecondVersionYieldsOnlyItsChanges) {
  AdapterContext ctx = make_adapter_context("files", nullptr);
  const std::size_t total = parse_inventory_file(std::string(kSmallInventory), "v1", ctx).size();
  Counts first = load(kSmallInventory);
  EXPECT_EQ(first.created, total);
  EXPECT_EQ(first.modified + first.removed, 0u);

  Counts same = load(kSmallInventory);
  EXPECT_EQ(same.created + same.modified + same.removed, 0u);

  // v2: r1 re-described, r2 removed, r3 added in a pool that already exists.
  std::string v2 =
      with_edit(kSmallInventory, "    description: Server one\n", "    description: Server one, re-racked\n");
  v2 = with_edit(v2, "  - key: r2\n    pool: pool-b\n    type: server\n    description: Server two\n",
                 "  - key: r3\n    pool: pool-b\n    type: nic\n    description: Spare NIC\n");
  Counts second = load(v2);
  EXPECT_EQ(second.created, 1u);
  EXPECT_EQ(second.modified, 1u);
  EXPECT_EQ(second.removed, 1u);
  EXPECT_EQ(cache_.count(Kind::resource), 2u);
}

TEST_F(InventoryFileDiffTest, NewPoolAlsoModifiesItsSite) {
  load(kSmallInventory);
  const std::string v2 =
      with_edit(kSmallInventory, "resources:\n", "  - key: pool-c\n    site: site-a\n    name: Pool C\nresources:\n");
  Counts c = load(v2);
  EXPECT_EQ(c.created, 1u);   // the pool
  EXPECT_EQ(c.modified, 1u);  // site-a's computed resourcePools
  EXPECT_EQ(c.removed, 0u);
}

}  // namespace
}  // namespace o2gw::ims
