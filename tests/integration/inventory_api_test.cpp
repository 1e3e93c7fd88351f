// The O2-IMS inventory API of the real binary, checked against the reference
// OpenAPI documents (shared/reference/oran-o2ims-openapi): every GET path the
// reference defines is requested with real ids from the served inventory, and
// every object is checked against the `required` properties, types, enums and
// uuid formats of its reference schema. The schema is read at test time, so the
// tests follow the reference rather than a hand-copied field list.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

using nlohmann::json;

const std::string kRoot = "/o2ims-infrastructureInventory";
const std::string kV1 = kRoot + "/v1";
const std::string kV2 = kRoot + "/v2";

std::filesystem::path reference_dir() {
  // Tests run from the build tree; the reference sits next to the checkout.
  for (auto p : {source_dir() / ".." / "shared" / "reference" / "oran-o2ims-openapi",
                 std::filesystem::path("/work/shared/reference/oran-o2ims-openapi")}) {
    if (std::filesystem::exists(p / "resources.openapi.yaml")) return p;
  }
  throw std::runtime_error("reference OpenAPI documents not found");
}

// Structure only: every scalar becomes a string (enough to walk schemas).
json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return n.Scalar();
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n) a.push_back(yaml_to_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    default: return nullptr;
  }
}

// The two reference documents and $ref resolution between them.
class Reference {
 public:
  Reference() {
    auto dir = reference_dir();
    resources_ = yaml_to_json(YAML::LoadFile((dir / "resources.openapi.yaml").string()));
    common_ = yaml_to_json(YAML::LoadFile((dir / "common.openapi.yaml").string()));
  }

  [[nodiscard]] const json& resources() const { return resources_; }

  // A schema with its document (local refs resolve against it).
  struct Schema {
    const json* schema;
    const json* doc;
  };

  [[nodiscard]] Schema resolve(Schema s) const {
    for (int guard = 0; guard < 16 && s.schema->is_object() && s.schema->contains("$ref"); ++guard) {
      std::string ref = (*s.schema)["$ref"].get<std::string>();
      auto hash = ref.find('#');
      const json* doc = s.doc;
      if (hash != 0) doc = ref.find("common") != std::string::npos ? &common_ : &resources_;
      json::json_pointer ptr(ref.substr(hash + 1));
      s = {&doc->at(ptr), doc};
    }
    return s;
  }

  [[nodiscard]] Schema component(const std::string& name, bool common = false) const {
    const json& doc = common ? common_ : resources_;
    return {&doc.at("components").at("schemas").at(name), &doc};
  }

  // Appends one line per violation of `schema` by `value` (at `where`).
  void check(const json& value, Schema s, const std::string& where, std::vector<std::string>& errors) const {
    s = resolve(s);
    const json& schema = *s.schema;
    if (!schema.is_object()) return;
    std::string type = schema.value("type", "");
    if (type.empty() && schema.contains("properties")) type = "object";
    if (type.empty() && schema.contains("items")) type = "array";
    auto error = [&](const std::string& what) {
      errors.push_back(where + ": " + what + " (value: " + value.dump() + ")");
    };
    if (type == "string" && !value.is_string()) return error("must be a string");
    if (type == "integer" && !value.is_number_integer()) return error("must be an integer");
    if (type == "number" && !value.is_number()) return error("must be a number");
    if (type == "boolean" && !value.is_boolean()) return error("must be a boolean");
    if (type == "array" && !value.is_array()) return error("must be an array");
    if (type == "object" && !value.is_object()) return error("must be an object");
    if (schema.value("format", "") == "uuid" && value.is_string() && !is_lower_uuid(value.get<std::string>())) {
      error("must be a (lower-case) UUID");
    }
    if (schema.contains("enum") && schema["enum"].is_array()) {
      std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      const auto& allowed = schema["enum"];
      if (std::find(allowed.begin(), allowed.end(), json(text)) == allowed.end()) {
        error("must be one of " + allowed.dump());
      }
    }
    if (value.is_array() && schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check(value[i], {&schema["items"], s.doc}, where + "[" + std::to_string(i) + "]", errors);
      }
    }
    if (value.is_object()) {
      if (schema.contains("required") && schema["required"].is_array()) {
        for (const auto& req : schema["required"]) {
          if (!value.contains(req.get<std::string>()))
            error("missing required property '" + req.get<std::string>() + "'");
        }
      }
      if (schema.contains("properties")) {
        for (const auto& [key, sub] : schema["properties"].items()) {
          if (value.contains(key)) check(value[key], {&sub, s.doc}, where + "." + key, errors);
        }
      }
    }
  }

 private:
  json resources_;
  json common_;
};

const Reference& reference() {
  static const Reference ref;
  return ref;
}

// The 200 application/json schema of GET `path` in the reference, if any.
std::optional<Reference::Schema> get_schema(const std::string& path) {
  const json& doc = reference().resources();
  const json* ok = nullptr;
  try {
    ok =
        &doc.at("paths").at(path).at("get").at("responses").at("200").at("content").at("application/json").at("schema");
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return Reference::Schema{ok, &doc};
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

::testing::AssertionResult Conforms(const json& value, Reference::Schema schema, const std::string& where) {
  std::vector<std::string> errors;
  reference().check(value, schema, where, errors);
  if (errors.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << errors.size() << " violation(s) of the reference schema:\n" << join(errors);
}

// Each object of `list` against the item schema of `list_schema`, with the names in
// `not_required` dropped from the item's required list and nothing else relaxed.
::testing::AssertionResult ConformsWithout(const json& list, Reference::Schema list_schema,
                                           const std::set<std::string>& not_required, const std::string& where) {
  if (!list.is_array()) return ::testing::AssertionFailure() << where << " is not a JSON array: " << list.dump();
  const Reference::Schema resolved = reference().resolve(list_schema);
  if (!resolved.schema->contains("items")) return ::testing::AssertionFailure() << where << ": not a list schema";
  const Reference::Schema item = reference().resolve({&resolved.schema->at("items"), resolved.doc});
  json relaxed = *item.schema;
  if (!relaxed.contains("required"))
    return ::testing::AssertionFailure() << where << ": the item schema requires nothing";
  json required = json::array();
  for (const auto& name : relaxed["required"]) {
    if (not_required.count(name.get<std::string>()) == 0) required.push_back(name);
  }
  relaxed["required"] = required;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < list.size(); ++i) {
    reference().check(list[i], {&relaxed, item.doc}, where + "[" + std::to_string(i) + "]", errors);
  }
  if (errors.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << errors.size() << " violation(s) of the reference schema less "
                                       << json(not_required).dump() << ":\n"
                                       << join(errors);
}

json get_json(std::uint16_t port, const std::string& path) {
  HttpResponse res = http_get(port, path);
  if (res.status != 200)
    throw std::runtime_error("GET " + path + " answered " + std::to_string(res.status) + ": " + res.body);
  // One page of several would make every check below silently partial.
  if (res.has_header("Link")) {
    throw std::runtime_error("GET " + path + " returned one page of several (Link: " + res.header("Link") + ")");
  }
  return res.json();
}

// `path` with `query` appended ("?query" or "&query").
std::string with_query(const std::string& path, const std::string& query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

// What a list leaves out when the request has no attribute selector (SOL013 §5.3,
// exclude_default): the complex attributes o2gw excludes by default, per collection.
// The single GETs and ?all_fields lists keep them.
const std::map<std::string, std::set<std::string>>& default_exclusions() {
  static const std::map<std::string, std::set<std::string>> kExcluded = {
      {"resourceTypes", {"alarmDictionary", "extensions"}}, {"alarmDictionaries", {"alarmDefinition"}},
      {"resourcePools", {"extensions"}},      {"resources", {"elements", "extensions"}},
      {"deploymentManagers", {"extensions"}}, {"locations", {"extensions"}},
      {"oCloudSites", {"extensions"}},
  };
  return kExcluded;
}

// The collection a list path (or template) names: its last segment, when that is one
// of the inventory lists; "" for single objects and everything else.
std::string list_collection(const std::string& path) {
  std::string last = path.substr(path.rfind('/') + 1);
  last = last.substr(0, last.find('?'));
  return default_exclusions().count(last) != 0 ? last : std::string();
}

// `defaults` (a list without selectors) is `full` (the same list with ?all_fields)
// with exactly the collection's default exclusions removed from every object: same
// objects, same order, every other attribute kept with the same value.
::testing::AssertionResult IsDefaultSetOf(const json& defaults, const json& full, const std::string& collection) {
  const auto& excluded = default_exclusions().at(collection);
  if (!defaults.is_array() || !full.is_array()) return ::testing::AssertionFailure() << "not JSON arrays";
  if (defaults.size() != full.size()) {
    return ::testing::AssertionFailure() << "the default list has " << defaults.size() << " objects, ?all_fields "
                                         << full.size();
  }
  for (std::size_t i = 0; i < full.size(); ++i) {
    json expected = full[i];
    for (const auto& name : excluded) expected.erase(name);
    if (defaults[i] != expected) {
      return ::testing::AssertionFailure()
             << collection << "[" << i << "] without selectors is\n  " << defaults[i].dump()
             << "\nexpected ?all_fields minus " << json(excluded).dump() << ":\n  " << expected.dump();
    }
  }
  return ::testing::AssertionSuccess();
}

// Expands a path template with real ids: the values of `{name}` are the `name`
// properties of the items of the list the template's prefix names
// (".../resourcePools/{resourcePoolId}" takes ids from ".../resourcePools").
// At most `per_level` values per parameter keep big inventories fast.
void expand(std::uint16_t port, const std::string& tmpl, std::size_t per_level, std::vector<std::string>& out) {
  auto open = tmpl.find('{');
  if (open == std::string::npos) {
    out.push_back(tmpl);
    return;
  }
  auto close = tmpl.find('}', open);
  std::string name = tmpl.substr(open + 1, close - open - 1);
  std::string list_path = tmpl.substr(0, open - 1);
  json list = get_json(port, list_path);
  if (!list.is_array()) throw std::runtime_error(list_path + " is not a JSON array");
  std::size_t taken = 0;
  for (const auto& item : list) {
    if (taken == per_level) break;
    if (!item.is_object() || !item.contains(name) || !item[name].is_string()) continue;
    std::string rest = tmpl.substr(close + 1);
    // A resource type has an alarm dictionary only when it says so.
    if (rest == "/alarmDictionary" && !item.contains("alarmDictionaryId")) continue;
    expand(port, tmpl.substr(0, open) + item[name].get<std::string>() + rest, per_level, out);
    ++taken;
  }
}

// Checks every reference GET path (subscriptions aside: subscriptions_test covers them) against a
// running gateway, under /v2 and its /v1 alias. Fails when a path has no object
// to check, so the inventory must cover every kind.
void check_all_reference_paths(std::uint16_t port, std::size_t per_level) {
  std::size_t checked_paths = 0;
  for (const auto& [tmpl, item] : reference().resources().at("paths").items()) {
    if (tmpl.find("/subscriptions") != std::string::npos || !item.contains("get")) continue;
    auto schema = get_schema(tmpl);
    if (!schema) continue;
    SCOPED_TRACE("reference path " + tmpl);
    std::vector<std::string> concrete;
    ASSERT_NO_THROW(expand(port, tmpl, per_level, concrete));
    std::size_t non_empty = 0;
    // Lists answer with the SOL013 default set unless asked for every attribute; the
    // reference schemas describe whole objects, so the whole-object check asks for them.
    const std::string collection = list_collection(tmpl);
    for (const auto& path : concrete) {
      SCOPED_TRACE("GET " + path);
      const std::string target = collection.empty() ? path : with_query(path, "all_fields");
      HttpResponse res = http_get(port, target);
      ASSERT_EQ(res.status, 200) << res.body;
      EXPECT_EQ(res.header("Content-Type").rfind("application/json", 0), 0u) << res.header("Content-Type");
      EXPECT_FALSE(res.has_header("Link")) << target << " was cut into pages: " << res.header("Link");
      json body = res.json();
      EXPECT_TRUE(Conforms(body, *schema, target));
      if (!body.empty()) ++non_empty;
      if (!collection.empty()) {
        // Without selectors: exactly the default exclusions are gone, every other
        // required attribute is still there.
        HttpResponse plain = http_get(port, path);
        ASSERT_EQ(plain.status, 200) << plain.body;
        json defaults = plain.json();
        EXPECT_TRUE(IsDefaultSetOf(defaults, body, collection)) << path;
        EXPECT_TRUE(ConformsWithout(defaults, *schema, default_exclusions().at(collection), path));
      }
      // A single GET returns the object its last path parameter names.
      auto open = tmpl.rfind('{');
      if (open != std::string::npos && tmpl.back() == '}' && body.is_object()) {
        std::string param = tmpl.substr(open + 1, tmpl.size() - open - 2);
        std::string id = path.substr(path.rfind('/') + 1);
        EXPECT_EQ(body.value(param, ""), id);
      }
      // /v1 serves the same documents (its api_versions aside).
      if (path.rfind(kV2, 0) == 0 && path.find("api_versions") == std::string::npos) {
        std::string v1 = kV1 + target.substr(kV2.size());
        HttpResponse res1 = http_get(port, v1);
        EXPECT_EQ(res1.status, 200) << v1;
        if (res1.status == 200) {
          EXPECT_EQ(res1.json(), body) << v1;
        }
      }
    }
    EXPECT_GT(non_empty, 0u) << "the inventory has nothing to check at " << tmpl;
    ++checked_paths;
  }
  // Today's reference: api_versions x2, the O-Cloud, 7 collections with their items,
  // resources, and the resource type's alarm dictionary.
  EXPECT_GE(checked_paths, 18u);
}

std::set<std::string> ids_of(const json& list, const std::string& key) {
  std::set<std::string> out;
  for (const auto& item : list) out.insert(item.at(key).get<std::string>());
  return out;
}

// Every id the gateway serves, by collection, for restart comparisons.
std::map<std::string, std::set<std::string>> all_ids(std::uint16_t port) {
  std::map<std::string, std::set<std::string>> out;
  out["oCloudId"] = {get_json(port, kV2).at("oCloudId").get<std::string>()};
  const std::pair<const char*, const char*> kCollections[] = {{"resourceTypes", "resourceTypeId"},
                                                              {"resourcePools", "resourcePoolId"},
                                                              {"deploymentManagers", "deploymentManagerId"},
                                                              {"alarmDictionaries", "alarmDictionaryId"},
                                                              {"locations", "globalLocationId"},
                                                              {"oCloudSites", "oCloudSiteId"}};
  for (const auto& [coll, key] : kCollections) out[coll] = ids_of(get_json(port, kV2 + "/" + coll), key);
  for (const auto& pool : out["resourcePools"]) {
    auto res = ids_of(get_json(port, kV2 + "/resourcePools/" + pool + "/resources"), "resourceId");
    out["resources"].insert(res.begin(), res.end());
  }
  return out;
}

// ---------------------------------------------------------------------------
// The O-Cloud conformance suite's JSON schemas (shared/reference/o-cloud-conformance-schemas):
// the list responses O-RAN's O-Cloud conformance tests accept. They describe /v1 lists as
// they come without selectors.

std::filesystem::path conformance_dir() {
  for (auto p : {source_dir() / ".." / "shared" / "reference" / "o-cloud-conformance-schemas",
                 std::filesystem::path("/work/shared/reference/o-cloud-conformance-schemas")}) {
    if (std::filesystem::exists(p / "resources_properties.json")) return p;
  }
  throw std::runtime_error("O-Cloud conformance schemas not found");
}

json conformance_schema(const std::string& file) {
  return json::parse(read_file_text(conformance_dir() / file));
}

bool has_json_type(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  throw std::runtime_error("unknown JSON schema type " + type);
}

// The JSON Schema keywords these files use: type (one or a list), required,
// properties, items and uniqueItems.
void check_conformance(const json& value, const json& schema, const std::string& where,
                       std::vector<std::string>& errors) {
  if (schema.contains("type")) {
    json types = schema["type"].is_array() ? schema["type"] : json::array({schema["type"]});
    bool ok = false;
    for (const auto& t : types) ok = ok || has_json_type(value, t.get<std::string>());
    if (!ok) {
      errors.push_back(where + ": must be of type " + types.dump() + " (value: " + value.dump() + ")");
      return;
    }
  }
  if (value.is_object()) {
    const json required = schema.value("required", json::array());
    for (const auto& name : required) {
      if (!value.contains(name.get<std::string>())) {
        errors.push_back(where + ": missing required property '" + name.get<std::string>() +
                         "' (value: " + value.dump() + ")");
      }
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, sub] : properties.items()) {
      if (value.contains(key)) check_conformance(value[key], sub, where + "." + key, errors);
    }
  }
  if (value.is_array()) {
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check_conformance(value[i], schema["items"], where + "[" + std::to_string(i) + "]", errors);
      }
    }
    if (schema.value("uniqueItems", false)) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        for (std::size_t j = i + 1; j < value.size(); ++j) {
          if (value[i] == value[j])
            errors.push_back(where + ": items " + std::to_string(i) + " and " + std::to_string(j) +
                             " are equal (uniqueItems)");
        }
      }
    }
  }
}

::testing::AssertionResult MeetsConformanceSchema(const json& value, const std::string& file,
                                                  const std::string& where) {
  std::vector<std::string> errors;
  check_conformance(value, conformance_schema(file), where, errors);
  if (errors.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << errors.size() << " violation(s) of " << file << ":\n" << join(errors);
}

// The /v1 lists the conformance suite reads, as they come without selectors.
void check_v1_lists_meet_the_conformance_schemas(std::uint16_t port) {
  std::size_t resources = 0;
  json pools = get_json(port, kV1 + "/resourcePools");
  ASSERT_FALSE(pools.empty());
  EXPECT_TRUE(MeetsConformanceSchema(pools, "resourcePools_properties.json", "v1/resourcePools"));
  EXPECT_TRUE(MeetsConformanceSchema(get_json(port, kV1 + "/resourceTypes"), "resourceTypes_properties.json",
                                     "v1/resourceTypes"));
  EXPECT_TRUE(MeetsConformanceSchema(get_json(port, kV1 + "/deploymentManagers"), "deploymentManagers_properties.json",
                                     "v1/deploymentManagers"));
  // With all_fields, resource types carry their alarm dictionary embedded (conformance 7.3.x).
  EXPECT_TRUE(MeetsConformanceSchema(get_json(port, kV1 + "/resourceTypes?all_fields"),
                                     "resourceTypes_allfields_properties.json", "v1/resourceTypes?all_fields"));
  for (const auto& pool : pools) {
    const std::string path = kV1 + "/resourcePools/" + pool.at("resourcePoolId").get<std::string>() + "/resources";
    json list = get_json(port, path);
    resources += list.size();
    EXPECT_TRUE(MeetsConformanceSchema(list, "resources_properties.json", path));
  }
  EXPECT_GT(resources, 0u) << "no resource to check";
}

// One gateway on the example inventory (deploy/inventory/example-inventory.yaml,
// the built-in default config) for the whole suite: the reads do not change it.
class InventoryApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gateway_ = std::make_unique<GatewayProcess>(); }
  static void TearDownTestSuite() { gateway_.reset(); }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }

  static std::uint16_t port() { return gateway_->port(); }
  static inline std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(InventoryApiTest, EveryReferenceGetPathServesObjectsThatConformToTheReferenceSchemas) {
  check_all_reference_paths(port(), 1000);
}

// The gateway's own OpenAPI document (/openapi.yaml) describes what it serves:
// every documented GET with a JSON 200 answers 200 with a conforming body.
TEST_F(InventoryApiTest, ServedOpenApiDocumentDescribesEveryJsonResponse) {
  HttpResponse res = http_get(port(), "/openapi.yaml");
  ASSERT_EQ(res.status, 200);
  const json served = yaml_to_json(YAML::Load(res.body));
  ASSERT_TRUE(served.contains("paths"));
  std::size_t checked = 0;
  for (const auto& [tmpl, item] : served["paths"].items()) {
    const json* schema = nullptr;
    try {
      schema = &item.at("get").at("responses").at("200").at("content").at("application/json").at("schema");
    } catch (const json::exception&) {
      continue;
    }
    if (tmpl.find("/subscriptions") != std::string::npos) continue;
    // Alarms and alarm subscriptions: none on the example inventory (monitoring_api_test covers them).
    if (tmpl.find("/alarmSubscriptions") != std::string::npos || tmpl.find("/alarms/{") != std::string::npos) continue;
    SCOPED_TRACE("documented path " + tmpl);
    std::vector<std::string> concrete;
    ASSERT_NO_THROW(expand(port(), tmpl, 2, concrete));
    EXPECT_FALSE(concrete.empty()) << "nothing to check at " << tmpl;
    // Whole objects: lists with ?all_fields (without it they leave out their default
    // exclusions, checked against the reference in the test above).
    const bool list = !list_collection(tmpl).empty();
    for (const auto& path : concrete) {
      const std::string target = list ? with_query(path, "all_fields") : path;
      HttpResponse got = http_get(port(), target);
      ASSERT_EQ(got.status, 200) << target << ": " << got.body;
      std::vector<std::string> errors;
      reference().check(got.json(), {schema, &served}, target, errors);
      EXPECT_TRUE(errors.empty()) << "/openapi.yaml does not describe GET " << target << ":\n" << join(errors);
      ++checked;
    }
  }
  EXPECT_GE(checked, 30u);
}

// SOL013 §5.3: a list without attribute selectors returns the default set, the same
// as ?exclude_default; ?all_fields returns whole objects. Under /v1 and /v2, every list.
TEST_F(InventoryApiTest, ListsWithoutSelectorsServeTheDefaultSet) {
  std::size_t lists = 0;
  for (const std::string& base : {kV1, kV2}) {
    std::vector<std::string> paths;
    for (const auto& [collection, excluded] : default_exclusions()) {
      if (collection != "resources") paths.push_back(base + "/" + collection);
    }
    for (const auto& pool : get_json(port(), base + "/resourcePools")) {
      paths.push_back(base + "/resourcePools/" + pool.at("resourcePoolId").get<std::string>() + "/resources");
    }
    for (const auto& path : paths) {
      SCOPED_TRACE("GET " + path);
      const std::string collection = list_collection(path);
      json defaults = get_json(port(), path);
      json full = get_json(port(), path + "?all_fields");
      ASSERT_FALSE(full.empty()) << "nothing to check";
      EXPECT_TRUE(IsDefaultSetOf(defaults, full, collection));
      // The inventory must give the check something to notice: every excluded
      // attribute is present in the whole objects.
      for (const auto& name : default_exclusions().at(collection)) {
        EXPECT_TRUE(std::any_of(full.begin(), full.end(), [&](const json& o) { return o.contains(name); }))
            << "no object of " << path << "?all_fields has " << name;
      }
      EXPECT_EQ(get_json(port(), path + "?exclude_default"), defaults);
      EXPECT_EQ(get_json(port(), path + "?all_fields=true"), full);
      ++lists;
    }
  }
  EXPECT_GE(lists, 2u * 7u);
}

TEST_F(InventoryApiTest, V1DefaultListsMeetTheOCloudConformanceSchemas) {
  check_v1_lists_meet_the_conformance_schemas(port());
}

TEST_F(InventoryApiTest, ApiVersionsListBothMajorVersions) {
  auto schema = reference().component("APIVersions", true);
  json all = get_json(port(), kRoot + "/api_versions");
  EXPECT_TRUE(Conforms(all, schema, "api_versions"));
  std::set<std::string> versions;
  for (const auto& v : all.at("apiVersions")) versions.insert(v.at("version").get<std::string>());
  EXPECT_EQ(versions, (std::set<std::string>{"1.0.0", "2.0.0"}));

  json v1 = get_json(port(), kV1 + "/api_versions");
  json v2 = get_json(port(), kV2 + "/api_versions");
  EXPECT_TRUE(Conforms(v1, schema, "v1/api_versions"));
  EXPECT_TRUE(Conforms(v2, schema, "v2/api_versions"));
  ASSERT_EQ(v1.at("apiVersions").size(), 1u);
  ASSERT_EQ(v2.at("apiVersions").size(), 1u);
  EXPECT_EQ(v1["apiVersions"][0]["version"], "1.0.0");
  EXPECT_EQ(v2["apiVersions"][0]["version"], "2.0.0");
  EXPECT_EQ(v1.value("uriPrefix", ""), kV1);
  EXPECT_EQ(v2.value("uriPrefix", ""), kV2);
}

TEST_F(InventoryApiTest, OCloudRootDescribesTheConfiguredOCloud) {
  json root = get_json(port(), kV2);
  EXPECT_TRUE(Conforms(root, reference().component("OCloudInfo"), "OCloudInfo"));
  EXPECT_TRUE(is_lower_uuid(root.value("oCloudId", "")));
  // The built-in default config names the example O-Cloud.
  EXPECT_EQ(root.value("name", ""), "o2gw-example-ocloud");
  EXPECT_TRUE(root.at("extensions").is_object());
  EXPECT_EQ(root.value("serviceUri", "").rfind("http", 0), 0u) << root.dump();
  EXPECT_EQ(get_json(port(), kV1), root);
}

TEST_F(InventoryApiTest, ListItemsEqualTheirSingleGets) {
  const std::pair<const char*, const char*> kCollections[] = {{"resourceTypes", "resourceTypeId"},
                                                              {"resourcePools", "resourcePoolId"},
                                                              {"deploymentManagers", "deploymentManagerId"},
                                                              {"alarmDictionaries", "alarmDictionaryId"},
                                                              {"locations", "globalLocationId"},
                                                              {"oCloudSites", "oCloudSiteId"}};
  // ?all_fields list items are the single GETs; default list items are the single GETs
  // with ?exclude_default (the same SOL013 default set).
  auto check_list = [&](const std::string& list_path, const std::string& key) {
    json list = get_json(port(), with_query(list_path, "all_fields"));
    json defaults = get_json(port(), list_path);
    ASSERT_TRUE(list.is_array()) << list_path;
    ASSERT_EQ(defaults.size(), list.size()) << list_path;
    EXPECT_FALSE(list.empty()) << list_path << " is empty in the example inventory";
    std::set<std::string> seen;
    std::string previous;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json& item = list[i];
      std::string id = item.at(key).get<std::string>();
      EXPECT_TRUE(seen.insert(id).second) << list_path << " lists " << id << " twice";
      // Documented in /openapi.yaml: lists are ordered by id.
      EXPECT_LT(previous, id) << list_path << " is not ordered by " << key;
      previous = id;
      EXPECT_EQ(get_json(port(), list_path + "/" + id), item) << list_path << "/" << id;
      EXPECT_EQ(get_json(port(), list_path + "/" + id + "?exclude_default"), defaults[i])
          << list_path << "/" << id << "?exclude_default";
      EXPECT_NE(defaults[i], item) << list_path << ": the default set of " << id << " excludes nothing";
    }
  };
  for (const auto& [coll, key] : kCollections) check_list(kV2 + "/" + coll, key);
  for (const auto& pool : get_json(port(), kV2 + "/resourcePools")) {
    std::string pool_id = pool.at("resourcePoolId").get<std::string>();
    std::string path = kV2 + "/resourcePools/" + pool_id + "/resources";
    check_list(path, "resourceId");
    for (const auto& res : get_json(port(), path)) EXPECT_EQ(res.at("resourcePoolId"), pool_id);
  }
}

TEST_F(InventoryApiTest, CrossReferencesResolve) {
  std::string ocloud = get_json(port(), kV2).at("oCloudId").get<std::string>();
  json types = get_json(port(), kV2 + "/resourceTypes");
  json dicts = get_json(port(), kV2 + "/alarmDictionaries");
  json pools = get_json(port(), kV2 + "/resourcePools");
  json sites = get_json(port(), kV2 + "/oCloudSites");
  json locations = get_json(port(), kV2 + "/locations");
  json managers = get_json(port(), kV2 + "/deploymentManagers");
  auto type_ids = ids_of(types, "resourceTypeId");
  auto dict_ids = ids_of(dicts, "alarmDictionaryId");
  auto pool_ids = ids_of(pools, "resourcePoolId");
  auto site_ids = ids_of(sites, "oCloudSiteId");
  auto location_ids = ids_of(locations, "globalLocationId");

  for (const auto& t : types) {
    if (!t.contains("alarmDictionaryId")) continue;
    std::string tid = t["resourceTypeId"].get<std::string>();
    std::string did = t["alarmDictionaryId"].get<std::string>();
    EXPECT_TRUE(dict_ids.count(did)) << "resource type " << tid << " names a missing dictionary";
    // The reference: "the identifier points to the same dictionary available under the URI path of the resource type".
    EXPECT_EQ(get_json(port(), kV2 + "/resourceTypes/" + tid + "/alarmDictionary"),
              get_json(port(), kV2 + "/alarmDictionaries/" + did));
  }
  for (const auto& p : pools) {
    std::string site = p.at("oCloudSiteId").get<std::string>();
    EXPECT_TRUE(site_ids.count(site)) << p.dump();
    json site_doc = get_json(port(), kV2 + "/oCloudSites/" + site);
    auto listed = site_doc.at("resourcePools");
    EXPECT_NE(std::find(listed.begin(), listed.end(), p["resourcePoolId"]), listed.end())
        << "site " << site << " does not list its pool " << p["resourcePoolId"];
    // elements is left out of lists by default.
    for (const auto& r :
         get_json(port(), kV2 + "/resourcePools/" + p["resourcePoolId"].get<std::string>() + "/resources?all_fields")) {
      EXPECT_TRUE(type_ids.count(r.at("resourceTypeId").get<std::string>())) << r.dump();
      for (const auto& e : r.at("elements")) {
        EXPECT_TRUE(type_ids.count(e.at("resourceTypeId").get<std::string>())) << e.dump();
      }
    }
  }
  for (const auto& s : sites) {
    std::string loc = s.at("globalLocationId").get<std::string>();
    EXPECT_TRUE(location_ids.count(loc)) << s.dump();
    for (const auto& pid : s.at("resourcePools")) {
      EXPECT_TRUE(pool_ids.count(pid.get<std::string>())) << s.dump();
    }
    json loc_doc = get_json(port(), kV2 + "/locations/" + loc);
    auto listed = loc_doc.at("oCloudSiteIds");
    EXPECT_NE(std::find(listed.begin(), listed.end(), s["oCloudSiteId"]), listed.end()) << loc_doc.dump();
  }
  for (const auto& m : managers) {
    EXPECT_EQ(m.at("oCloudId"), ocloud);
    for (const auto& loc : m.at("supportedLocations")) {
      EXPECT_TRUE(location_ids.count(loc.get<std::string>())) << m.dump();
    }
  }
}

TEST_F(InventoryApiTest, MalformedIdsAre400Problems) {
  auto problem_schema = reference().component("ProblemDetails", true);
  std::string pool = *ids_of(get_json(port(), kV2 + "/resourcePools"), "resourcePoolId").begin();
  const std::vector<std::string> paths = {
      kV2 + "/resourceTypes/not-a-uuid",
      kV2 + "/resourcePools/1234",
      kV2 + "/resourcePools/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/resources",
      kV2 + "/resourcePools/" + pool + "/resources/not-a-uuid",
      kV2 + "/deploymentManagers/x",
      kV2 + "/alarmDictionaries/00000000-0000-0000-0000-00000000000",  // one digit short
      kV2 + "/oCloudSites/not-a-uuid",
      kV2 + "/resourceTypes/not-a-uuid/alarmDictionary",
      kV1 + "/resourcePools/not-a-uuid",
  };
  for (const auto& path : paths) {
    HttpResponse res = http_get(port(), path);
    EXPECT_TRUE(IsProblem(res, 400, path)) << path;
    if (res.status == 400) {
      EXPECT_TRUE(Conforms(res.json(), problem_schema, path));
    }
  }
}

TEST_F(InventoryApiTest, UnknownIdsAre404Problems) {
  const std::string unknown = "3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  std::string pool = *ids_of(get_json(port(), kV2 + "/resourcePools"), "resourcePoolId").begin();
  const std::vector<std::string> paths = {
      kV2 + "/resourceTypes/" + unknown,
      kV2 + "/resourceTypes/" + unknown + "/alarmDictionary",
      kV2 + "/resourcePools/" + unknown,
      kV2 + "/resourcePools/" + unknown + "/resources",
      kV2 + "/resourcePools/" + pool + "/resources/" + unknown,
      kV2 + "/deploymentManagers/" + unknown,
      kV2 + "/alarmDictionaries/" + unknown,
      kV2 + "/oCloudSites/" + unknown,
      kV2 + "/locations/no-such-location",
      kV1 + "/deploymentManagers/" + unknown,
  };
  for (const auto& path : paths) {
    HttpResponse res = http_get(port(), path);
    EXPECT_TRUE(IsProblem(res, 404, path)) << path;
    if (res.status == 404) {
      EXPECT_TRUE(Conforms(res.json(), reference().component("ProblemDetails", true), path));
    }
  }
}

TEST_F(InventoryApiTest, ResourceUnderTheWrongPoolIs404) {
  json pools = get_json(port(), kV2 + "/resourcePools");
  // Find a resource and a pool it does not belong to.
  for (const auto& p : pools) {
    std::string pool_id = p["resourcePoolId"].get<std::string>();
    json resources = get_json(port(), kV2 + "/resourcePools/" + pool_id + "/resources");
    if (resources.empty()) continue;
    std::string res_id = resources[0]["resourceId"].get<std::string>();
    for (const auto& other : pools) {
      if (other["resourcePoolId"] == pool_id) continue;
      std::string path = kV2 + "/resourcePools/" + other["resourcePoolId"].get<std::string>() + "/resources/" + res_id;
      EXPECT_TRUE(IsProblem(http_get(port(), path), 404, path));
      return;
    }
  }
  GTEST_SKIP() << "the example inventory has a single resource pool";
}

TEST_F(InventoryApiTest, UpperCaseUuidsFindTheSameObject) {
  json pools = get_json(port(), kV2 + "/resourcePools?all_fields");
  json defaults = get_json(port(), kV2 + "/resourcePools");
  ASSERT_FALSE(pools.empty());
  ASSERT_EQ(defaults.size(), pools.size());
  std::string id = pools[0]["resourcePoolId"].get<std::string>();
  std::string upper = id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  ASSERT_NE(upper, id);
  HttpResponse res = http_get(port(), kV2 + "/resourcePools/" + upper);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), pools[0]);
  HttpResponse selected = http_get(port(), kV2 + "/resourcePools/" + upper + "?exclude_default");
  ASSERT_EQ(selected.status, 200) << selected.body;
  EXPECT_EQ(selected.json(), defaults[0]);
  // Upper case in a parent id too.
  std::string path = kV2 + "/resourcePools/" + upper + "/resources";
  json resources = get_json(port(), path + "?all_fields");
  ASSERT_FALSE(resources.empty()) << path;
  EXPECT_EQ(resources, get_json(port(), kV2 + "/resourcePools/" + id + "/resources?all_fields"));
}

TEST_F(InventoryApiTest, IdsAreStableAcrossRestarts) {
  auto first = all_ids(port());
  EXPECT_FALSE(first["resources"].empty());
  GatewayProcess second;  // same built-in config, a fresh process
  auto again = all_ids(second.port());
  EXPECT_EQ(first, again);
}

// The simulator adapter: a synthetic O-Cloud of a requested size.
TEST(SimulatorInventoryTest, ServesTheConfiguredSizeWithConformingObjects) {
  const std::string config = R"(
ocloud:
  name: simulated-ocloud
adapters:
  - name: sim
    category: ims
    type: simulator
    config:
      pools: 5
      resources_per_pool: 200
)";
  GatewayProcess gw({.config_yaml = config});
  json pools = get_json(gw.port(), kV2 + "/resourcePools");
  ASSERT_EQ(pools.size(), 5u);
  std::set<std::string> all_resources;
  for (const auto& p : pools) {
    std::string pool_id = p.at("resourcePoolId").get<std::string>();
    json resources = get_json(gw.port(), kV2 + "/resourcePools/" + pool_id + "/resources");
    ASSERT_TRUE(resources.is_array());
    EXPECT_EQ(resources.size(), 200u) << "pool " << pool_id;
    for (const auto& r : resources) {
      EXPECT_EQ(r.value("resourcePoolId", ""), pool_id);
      all_resources.insert(r.value("resourceId", ""));
    }
  }
  EXPECT_EQ(all_resources.size(), 1000u) << "resource ids must be unique across pools";
  EXPECT_EQ(get_json(gw.port(), kV2).value("name", ""), "simulated-ocloud");
  // The simulated objects conform too (a few per list, to stay fast).
  check_all_reference_paths(gw.port(), 3);
  check_v1_lists_meet_the_conformance_schemas(gw.port());

  // Deterministic: the same config gives the same ids after a restart.
  auto before = all_ids(gw.port());
  gw.kill();
  GatewayProcess again({.config_yaml = config});
  EXPECT_EQ(all_ids(again.port()), before);
}

// The checker itself must be able to fail, or every conformance test above passes vacuously.
TEST(ReferenceSchemaCheckerTest, RejectsMissingPropertiesBadUuidsAndUnknownEnumValues) {
  const std::string id = "3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  json pool = {{"resourcePoolId", id}, {"name", "p"}, {"oCloudSiteId", id}, {"description", "d"}};
  auto pool_schema = reference().component("ResourcePool");
  EXPECT_TRUE(Conforms(pool, pool_schema, "pool"));
  json missing = pool;
  missing.erase("name");
  EXPECT_FALSE(Conforms(missing, pool_schema, "missing"));
  json bad_uuid = pool;
  bad_uuid["oCloudSiteId"] = "not-a-uuid";
  EXPECT_FALSE(Conforms(bad_uuid, pool_schema, "uuid"));
  auto list_schema = get_schema(kV2 + "/resourcePools");
  ASSERT_TRUE(list_schema.has_value());
  EXPECT_TRUE(Conforms(json::array({pool}), *list_schema, "list"));
  EXPECT_FALSE(Conforms(json::array({pool, missing}), *list_schema, "list"));
  EXPECT_FALSE(Conforms(json::object(), *list_schema, "list"));
  // Nested $refs across documents: AlarmDictionary (common) -> AlarmDefinition.
  json dict = {{"alarmDictionaryId", id},
               {"alarmDictionaryVersion", "1"},
               {"alarmDictionarySchemaVersion", "1"},
               {"entityType", "e"},
               {"vendor", "v"},
               {"managementInterfaceId", {"O2IMS"}},
               {"pkNotificationField", {"x"}},
               {"alarmDefinition", json::array({json::object()})}};
  EXPECT_FALSE(Conforms(dict, *get_schema(kV2 + "/alarmDictionaries/{alarmDictionaryId}"), "dict"));
  json type = {{"resourceTypeId", id},
               {"name", "n"},
               {"description", "d"},
               {"vendor", "v"},
               {"model", "m"},
               {"version", "1"},
               {"resourceKind", "PHYSICAL"},
               {"resourceClass", "COMPUTE"},
               {"extensions", json::object()}};
  EXPECT_TRUE(Conforms(type, reference().component("ResourceType"), "type"));
  type["resourceKind"] = "BOGUS";
  EXPECT_FALSE(Conforms(type, reference().component("ResourceType"), "type"));

  // The relaxed check drops only the names it is given.
  json no_extensions = {
      {"resourceTypeId", id}, {"name", "n"},    {"description", "d"},         {"vendor", "v"},
      {"model", "m"},         {"version", "1"}, {"resourceKind", "PHYSICAL"}, {"resourceClass", "COMPUTE"}};
  auto types_schema = get_schema(kV2 + "/resourceTypes");
  ASSERT_TRUE(types_schema.has_value());
  EXPECT_FALSE(Conforms(json::array({no_extensions}), *types_schema, "types"));
  EXPECT_TRUE(ConformsWithout(json::array({no_extensions}), *types_schema, {"extensions"}, "types"));
  no_extensions.erase("model");
  EXPECT_FALSE(ConformsWithout(json::array({no_extensions}), *types_schema, {"extensions"}, "types"));

  // The default-set comparison notices a missing, an extra and a changed attribute.
  json full = json::array({{{"resourcePoolId", id}, {"name", "p"}, {"extensions", {{"a", 1}}}}});
  EXPECT_TRUE(IsDefaultSetOf(json::array({{{"resourcePoolId", id}, {"name", "p"}}}), full, "resourcePools"));
  EXPECT_FALSE(IsDefaultSetOf(json::array({{{"resourcePoolId", id}}}), full, "resourcePools"));
  EXPECT_FALSE(IsDefaultSetOf(full, full, "resourcePools"));
  EXPECT_FALSE(IsDefaultSetOf(json::array({{{"resourcePoolId", id}, {"name", "q"}}}), full, "resourcePools"));
  EXPECT_FALSE(IsDefaultSetOf(json::array(), full, "resourcePools"));
}

// The conformance-schema checker must be able to fail too.
TEST(ConformanceSchemaCheckerTest, RejectsMissingRequiredPropertiesAndWrongTypes) {
  const std::string id = "3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  json pool = {
      {"resourcePoolId", id}, {"name", "p"}, {"description", "d"}, {"oCloudId", id}, {"globalLocationId", "loc"}};
  EXPECT_TRUE(MeetsConformanceSchema(json::array({pool}), "resourcePools_properties.json", "pools"));
  json v2_only = pool;
  v2_only.erase("globalLocationId");
  EXPECT_FALSE(MeetsConformanceSchema(json::array({v2_only}), "resourcePools_properties.json", "pools"));
  json bad_type = pool;
  bad_type["extensions"] = "x";  // null or object
  EXPECT_FALSE(MeetsConformanceSchema(json::array({bad_type}), "resourcePools_properties.json", "pools"));
  json null_extensions = pool;
  null_extensions["extensions"] = nullptr;
  EXPECT_TRUE(MeetsConformanceSchema(json::array({null_extensions}), "resourcePools_properties.json", "pools"));
  EXPECT_FALSE(MeetsConformanceSchema(pool, "resourcePools_properties.json", "pools"));  // not a list

  json manager = {{"deploymentManagerId", id},
                  {"name", "m"},
                  {"description", "d"},
                  {"oCloudId", id},
                  {"serviceUri", "u"},
                  {"supportedLocations", {"loc"}},
                  {"capabilities", json::object()},
                  {"capacity", json::object()}};
  EXPECT_TRUE(MeetsConformanceSchema(json::array({manager}), "deploymentManagers_properties.json", "dms"));
  manager.erase("capacity");
  EXPECT_FALSE(MeetsConformanceSchema(json::array({manager}), "deploymentManagers_properties.json", "dms"));

  json type = {{"resourceTypeId", id}, {"name", "n"},  {"description", "d"},
               {"vendor", "v"},        {"model", "m"}, {"version", "1"}};
  EXPECT_TRUE(MeetsConformanceSchema(json::array({type}), "resourceTypes_properties.json", "types"));
  EXPECT_FALSE(MeetsConformanceSchema(json::array({type, type}), "resourceTypes_properties.json", "types"));

  json resource = {{"resourceId", id}, {"resourcePoolId", id}, {"resourceTypeId", id}, {"description", "d"}};
  EXPECT_TRUE(MeetsConformanceSchema(json::array({resource}), "resources_properties.json", "resources"));
  resource["resourceTypeId"] = 7;
  EXPECT_FALSE(MeetsConformanceSchema(json::array({resource}), "resources_properties.json", "resources"));
}

}  // namespace
}  // namespace o2gw::test
