// Keeps api/o2gw.openapi.yaml honest. The document must list exactly the
// (method, path) pairs the router serves, every status a handler answers must
// be documented for its operation, the objects o2gw serves must have the
// documented shape, and the copy embedded in the binary (GET /openapi.yaml)
// must be the file in the source tree.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ims/common/o2_objects.hpp"
#include "o2gw/api.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/registry.hpp"
#include "o2gw/router.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {
namespace {

const std::filesystem::path kSpecPath = std::filesystem::path(O2GW_SOURCE_DIR) / "api" / "o2gw.openapi.yaml";
const std::set<std::string> kOperationKeys{"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// yaml-cpp's operator[] on a missing key yields a node whose Type() throws, and
// assigning one Node to another rewrites the document: look up through this.
YAML::Node child(const YAML::Node& node, const std::string& key) {
  if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node found = node[key];
  return found.IsDefined() ? found : YAML::Node(YAML::NodeType::Undefined);
}

std::string scalar(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string();
}

// Resolves a local "#/a/b~1c" reference; an undefined node when it does not resolve.
YAML::Node resolve_pointer(const YAML::Node& root, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node node = root;
  std::string_view rest = std::string_view(ref).substr(2);
  while (true) {
    auto slash = rest.find('/');
    std::string part(rest.substr(0, slash));
    std::string key;
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (part[i] == '~' && i + 1 < part.size()) {
        key.push_back(part[i + 1] == '1' ? '/' : '~');
        ++i;
      } else {
        key.push_back(part[i]);
      }
    }
    YAML::Node next = child(node, key);
    if (!next.IsDefined()) return next;
    node.reset(next);  // reset, not operator=, which would overwrite the document
    if (slash == std::string_view::npos) return node;
    rest.remove_prefix(slash + 1);
  }
}

// Follows a node's $ref (if any) to the node it names.
YAML::Node deref(const YAML::Node& root, const YAML::Node& node) {
  std::string ref = scalar(child(node, "$ref"));
  return ref.empty() ? node : resolve_pointer(root, ref);
}

struct Operation {
  std::string method;  // "GET"
  std::string path;    // the template, as in the document
  YAML::Node item;     // the path item
  YAML::Node op;       // the operation
};

class OpenApiDocument {
 public:
  OpenApiDocument() : root_(YAML::LoadFile(kSpecPath.string())) {
    const YAML::Node paths = child(root_, "paths");
    if (!paths.IsDefined() || !paths.IsMap()) return;
    for (const auto& entry : paths) {
      const std::string path = entry.first.as<std::string>();
      for (const auto& op : entry.second) {
        std::string key = op.first.as<std::string>();
        if (kOperationKeys.count(key) == 0) continue;
        operations_.push_back({upper(key), path, entry.second, op.second});
      }
    }
  }

  [[nodiscard]] const YAML::Node& root() const { return root_; }
  [[nodiscard]] const std::vector<Operation>& operations() const { return operations_; }

  // The documented response for a status of an operation, with its $ref followed.
  [[nodiscard]] YAML::Node response(const Operation& op, int status) const {
    return deref(root_, child(child(op.op, "responses"), std::to_string(status)));
  }

 private:
  YAML::Node root_;
  std::vector<Operation> operations_;
};

// A gateway's routes with empty back ends: the same wiring as main.cpp.
struct RoutedGateway {
  Config config = parse_config(nlohmann::json::object());
  InventoryCache inventory;
  Metrics metrics;
  Registry registry;
  std::atomic<bool> shutting_down{false};
  Router router;

  explicit RoutedGateway(const FactoryTable& factories = FactoryTable::global())
      : registry(factories, Registry::Services{}) {
    ApiContext ctx{&config, &inventory, &registry, &metrics, &shutting_down};
    register_inventory_api(router, ctx);
    register_admin_api(router, ctx);
  }

  http::Response call(const std::string& method, const std::string& path, std::string body = "") const {
    http::Request req;
    req.method_text = method;
    req.method = http::parse_method(method);
    req.target = path;
    req.path = path;
    req.body = std::move(body);
    req.request_id = "openapi-coverage-test";
    return router.dispatch(req);
  }
};

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += "\n  " + s;
  return out;
}

std::set<std::string> split_allow(std::string_view allow) {
  std::set<std::string> out;
  while (!allow.empty()) {
    auto comma = allow.find(',');
    std::string_view part = allow.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace(part);
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 1);
  }
  return out;
}

std::string header_value(const http::Response& res, std::string_view name) {
  for (const auto& h : res.headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

std::string media_type(std::string_view content_type) {
  return std::string(content_type.substr(0, content_type.find(';')));
}

// Replaces every {param} of a template with the value `pick` gives for it.
template <typename Pick>
std::string fill_template(const std::string& tmpl, const Pick& pick) {
  static const std::regex kParam(R"(\{([A-Za-z0-9_]+)\})");
  std::string out;
  std::size_t last = 0;
  for (std::sregex_iterator it(tmpl.begin(), tmpl.end(), kParam), end; it != end; ++it) {
    out.append(tmpl, last, static_cast<std::size_t>(it->position()) - last);
    out.append(pick((*it)[1].str()));
    last = static_cast<std::size_t>(it->position() + it->length());
  }
  out.append(tmpl, last, std::string::npos);
  return out;
}

// --- a small JSON Schema (OpenAPI 3.0 subset) checker -------------------------------------

void check_schema(const YAML::Node& root, const YAML::Node& schema_in, const nlohmann::json& value,
                  const std::string& where, std::vector<std::string>& errors) {
  const YAML::Node schema = deref(root, schema_in);
  if (!schema.IsDefined()) {
    errors.push_back(where + ": unresolvable schema");
    return;
  }
  const YAML::Node all_of = child(schema, "allOf");
  if (all_of.IsDefined()) {
    for (const auto& part : all_of) check_schema(root, part, value, where, errors);
  }
  const std::string type = scalar(child(schema, "type"));
  auto fail = [&](const std::string& why) { errors.push_back(where + ": " + why + ", got " + value.dump()); };
  if (type == "object") {
    if (!value.is_object()) return fail("must be an object");
    const YAML::Node required = child(schema, "required");
    if (required.IsDefined()) {
      for (const auto& r : required) {
        if (!value.contains(r.as<std::string>()))
          errors.push_back(where + ": required '" + r.as<std::string>() + "' missing");
      }
    }
    const YAML::Node props = child(schema, "properties");
    for (const auto& [key, v] : value.items()) {
      const YAML::Node prop = child(props, key);
      if (prop.IsDefined()) check_schema(root, prop, v, where + "." + key, errors);
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("must be an array");
    const YAML::Node items = child(schema, "items");
    for (std::size_t i = 0; i < value.size() && items.IsDefined(); ++i) {
      check_schema(root, items, value[i], where + "[" + std::to_string(i) + "]", errors);
    }
  } else if (type == "string") {
    if (!value.is_string()) return fail("must be a string");
    const auto& s = value.get_ref<const std::string&>();
    if (scalar(child(schema, "format")) == "uuid" && !is_uuid(s)) fail("must be a UUID");
    const YAML::Node allowed = child(schema, "enum");
    if (allowed.IsDefined()) {
      bool found = false;
      for (const auto& a : allowed) found = found || a.as<std::string>() == s;
      if (!found) fail("must be one of the enum values");
    }
  } else if (type == "integer") {
    if (!value.is_number_integer()) fail("must be an integer");
  } else if (type == "number") {
    if (!value.is_number()) fail("must be a number");
  } else if (type == "boolean") {
    if (!value.is_boolean()) fail("must be a boolean");
  }
}

// One of each inventory object, built the way the file and simulator adapters build theirs.
ims::OCloudModel one_of_each() {
  ims::OCloudModel m;
  ims::LocationSpec loc;
  loc.global_location_id = "location-east-1";
  loc.name = "East";
  loc.description = "East data centre";
  loc.coordinate = {{"type", "Point"}, {"coordinates", {-73.9857, 40.7484}}};
  loc.civic_address = nlohmann::json::array({{{"caType", 1}, {"caValue", "US"}}});
  loc.address = "350 Fifth Avenue";
  m.locations.push_back(loc);

  ims::SiteSpec site;
  site.key = "east-a";
  site.global_location_id = "location-east-1";
  site.name = "east-a";
  site.description = "Hall A";
  m.sites.push_back(site);

  ims::ResourceTypeSpec type;
  type.key = "x1000";
  type.name = "X1000 server";
  type.description = "Two-socket server";
  type.vendor = "Example Systems";
  type.model = "X1000";
  type.version = "3";
  type.resource_kind = "PHYSICAL";
  type.resource_class = "COMPUTE";
  ims::AlarmDictionarySpec dict;
  dict.version = "1.2";
  dict.entity_type = "X1000-3";
  ims::AlarmDefinitionSpec def;
  def.key = "fan";
  def.name = "Fan failure";
  def.last_change = "1.0";
  def.change_type = "ADDED";
  def.description = "A fan stopped";
  def.proposed_repair_actions = "Replace the fan";
  def.clearing_type = "AUTOMATIC";
  def.pk_notification_field = {"alarmDefinitionID"};
  dict.definitions.push_back(def);
  type.alarm_dictionary = dict;
  m.resource_types.push_back(type);

  ims::ResourcePoolSpec pool;
  pool.key = "pool-a";
  pool.site_key = "east-a";
  pool.name = "pool-a";
  pool.description = "Compute pool A";
  m.resource_pools.push_back(pool);

  ims::ResourceSpec res;
  res.key = "server-01";
  res.pool_key = "pool-a";
  res.type_key = "x1000";
  res.description = "server-01";
  res.global_asset_id = "SN-0001";
  res.tags = {"rack-1"};
  ims::ResourceSpec nic;
  nic.key = "nic-0";
  nic.description = "server-01 NIC 0";
  res.elements.push_back(nic);
  m.resources.push_back(res);

  ims::DeploymentManagerSpec dm;
  dm.key = "cluster-east";
  dm.name = "cluster-east";
  dm.description = "Kubernetes cluster in the east";
  dm.service_uri = "https://cluster-east.example.net:6443";
  dm.site_keys = {"east-a"};
  m.deployment_managers.push_back(dm);
  return m;
}

// An adapter instance that is always synced and healthy, so /readyz and
// /admin/v1/adapters have an entry to check against the AdapterState schema.
class FixtureAdapter final : public Adapter {
 public:
  void start() override {}
  void stop() override {}
  Health check_health() override { return {true, "fixture"}; }
  [[nodiscard]] bool synced() const override { return true; }
};

std::string first_id(const InventoryCache& cache, Kind kind) {
  std::string id;
  cache.visit(kind, [&](const InventoryObject& o) {
    if (id.empty()) id = o.id;
  });
  return id;
}

// --- tests --------------------------------------------------------------------------------

TEST(OpenApiCoverage, EveryRouteIsDocumentedAndEveryOperationIsRouted) {
  OpenApiDocument doc;
  RoutedGateway gw;
  std::set<std::string> served;
  for (const auto& [method, tmpl] : gw.router.routes()) {
    served.insert(std::string(http::method_name(method)) + " " + tmpl);
  }
  std::set<std::string> documented;
  for (const auto& op : doc.operations()) documented.insert(op.method + " " + op.path);

  std::set<std::string> undocumented;
  std::set<std::string> unserved;
  for (const auto& s : served) {
    if (documented.count(s) == 0) undocumented.insert(s);
  }
  for (const auto& d : documented) {
    if (served.count(d) == 0) unserved.insert(d);
  }
  EXPECT_FALSE(served.empty());
  EXPECT_TRUE(undocumented.empty()) << "routes served but missing from " << kSpecPath << ":" << join(undocumented);
  EXPECT_TRUE(unserved.empty()) << "operations in " << kSpecPath
                                << " that no route serves (HEAD is implied by GET, never listed):" << join(unserved);
}

TEST(OpenApiCoverage, EmbeddedDocumentIsTheFile) {
  const std::string file = read_text(kSpecPath);
  const std::string_view embedded = openapi_document();
  ASSERT_FALSE(file.empty()) << "cannot read " << kSpecPath;
  if (embedded == file) return;
  std::size_t at = 0;
  while (at < file.size() && at < embedded.size() && file[at] == embedded[at]) ++at;
  FAIL() << "the embedded OpenAPI document (" << embedded.size() << " bytes) differs from " << kSpecPath << " ("
         << file.size() << " bytes) from byte " << at << ": re-run the build so CMake re-embeds it";
}

TEST(OpenApiCoverage, DocumentCanBeEmbedded) {
  const std::string file = read_text(kSpecPath);
  // src/api/openapi_embed.cpp.in wraps the text in R"o2gw_openapi( ... )o2gw_openapi",
  // and configure_file(@ONLY) would substitute any @NAME@.
  EXPECT_EQ(file.find(")o2gw_openapi\""), std::string::npos);
  EXPECT_FALSE(std::regex_search(file, std::regex("@[A-Za-z0-9_]+@"))) << "the document must not contain @NAME@";
}

TEST(OpenApiCoverage, DescribesThisBuild) {
  OpenApiDocument doc;
  EXPECT_EQ(scalar(child(doc.root(), "openapi")), "3.0.3");
  EXPECT_EQ(scalar(child(child(doc.root(), "info"), "version")), O2GW_VERSION);
}

TEST(OpenApiCoverage, EveryLocalReferenceResolves) {
  OpenApiDocument doc;
  std::vector<std::string> broken;
  std::vector<YAML::Node> stack{doc.root()};
  while (!stack.empty()) {
    YAML::Node node;
    node.reset(stack.back());
    stack.pop_back();
    if (node.IsMap()) {
      for (const auto& kv : node) {
        if (kv.first.as<std::string>() == "$ref") {
          std::string ref = scalar(kv.second);
          if (!resolve_pointer(doc.root(), ref).IsDefined()) broken.push_back(ref);
        } else {
          stack.push_back(kv.second);
        }
      }
    } else if (node.IsSequence()) {
      for (const auto& item : node) stack.push_back(item);
    }
  }
  EXPECT_TRUE(broken.empty()) << "unresolved $ref: " << ::testing::PrintToString(broken);
}

TEST(OpenApiCoverage, OperationIdsAreUniqueAndPathParametersDeclared) {
  OpenApiDocument doc;
  std::map<std::string, int> ids;
  static const std::regex kParam(R"(\{([A-Za-z0-9_]+)\})");
  for (const auto& op : doc.operations()) {
    const std::string where = op.method + " " + op.path;
    std::string id = scalar(child(op.op, "operationId"));
    EXPECT_FALSE(id.empty()) << where << " has no operationId";
    if (!id.empty()) ++ids[id];

    std::set<std::string> in_template;
    for (std::sregex_iterator it(op.path.begin(), op.path.end(), kParam), end; it != end; ++it) {
      in_template.insert((*it)[1].str());
    }
    std::set<std::string> declared;
    for (const YAML::Node& list : {child(op.item, "parameters"), child(op.op, "parameters")}) {
      if (!list.IsDefined()) continue;
      for (const auto& p : list) {
        const YAML::Node param = deref(doc.root(), p);
        if (scalar(child(param, "in")) != "path") continue;
        declared.insert(scalar(child(param, "name")));
        EXPECT_EQ(scalar(child(param, "required")), "true") << where << ": path parameters are required";
      }
    }
    EXPECT_EQ(in_template, declared) << where << ": the path parameters declared differ from the template";
  }
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << "operationId " << id << " is used " << n << " times";
}

TEST(OpenApiCoverage, EveryStatusAnsweredIsDocumented) {
  OpenApiDocument doc;
  RoutedGateway gw;
  const std::string well_formed_uuid = "0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d";
  auto well_formed = [&](const std::string& param) {
    return param == "globalLocationId" ? std::string("location-nowhere") : well_formed_uuid;
  };
  auto malformed = [](const std::string& param) {
    return param == "globalLocationId" ? std::string("not$valid") : std::string("not-a-uuid");
  };
  for (const auto& op : doc.operations()) {
    std::vector<std::string> paths{fill_template(op.path, well_formed)};
    if (op.path.find('{') != std::string::npos) paths.push_back(fill_template(op.path, malformed));
    for (const auto& path : paths) {
      const std::string where = op.method + " " + path;
      http::Response res = gw.call(op.method, path, op.method == "POST" ? "{}" : "");
      const YAML::Node documented = doc.response(op, res.status);
      ASSERT_TRUE(documented.IsDefined())
          << where << " answered " << res.status << ", not documented for " << op.method << " " << op.path;
      const YAML::Node content = child(documented, "content");
      EXPECT_TRUE(child(content, media_type(res.content_type)).IsDefined())
          << where << " answered " << res.status << " as " << res.content_type << ", not documented";
    }
  }
}

TEST(OpenApiCoverage, UnsupportedMethodsGet405WithTheDocumentedAllow) {
  OpenApiDocument doc;
  RoutedGateway gw;
  std::map<std::string, std::set<std::string>> methods_by_path;
  for (const auto& op : doc.operations()) {
    auto& methods = methods_by_path[op.path];
    methods.insert(op.method);
    if (op.method == "GET") methods.insert("HEAD");
    EXPECT_TRUE(doc.response(op, 405).IsDefined()) << op.method << " " << op.path << " does not document 405";
  }
  for (const auto& [tmpl, methods] : methods_by_path) {
    std::string path = fill_template(tmpl, [](const std::string&) { return std::string("x"); });
    http::Response res = gw.call("PATCH", path);
    EXPECT_EQ(res.status, 405) << "PATCH " << path;
    EXPECT_EQ(split_allow(header_value(res, "Allow")), methods) << "Allow of " << tmpl;
  }
}

TEST(OpenApiCoverage, SchemaCheckerFindsMistakes) {
  OpenApiDocument doc;
  const YAML::Node pool = resolve_pointer(doc.root(), "#/components/schemas/ResourcePool");
  ASSERT_TRUE(pool.IsDefined());
  nlohmann::json good = {{"resourcePoolId", "d3b27e14-4589-4d93-ae76-ddca559193ea"},
                         {"name", "pool-a"},
                         {"oCloudSiteId", "7fd364a0-6d82-4e0c-a418-5c1a2f8b9c3e"},
                         {"description", "Compute pool A"}};
  std::vector<std::string> errors;
  check_schema(doc.root(), pool, good, "pool", errors);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);

  nlohmann::json bad = good;
  bad.erase("oCloudSiteId");
  bad["resourcePoolId"] = "pool-a";
  bad["extensions"] = "not an object";
  errors.clear();
  check_schema(doc.root(), pool, bad, "pool", errors);
  EXPECT_EQ(errors.size(), 3U) << ::testing::PrintToString(errors);
}

TEST(OpenApiCoverage, ServedObjectsHaveTheDocumentedShape) {
  OpenApiDocument doc;
  FactoryTable factories;
  factories.add(AdapterFactory{Category::ims, "fixture", "always synced", nullptr,
                               [](const AdapterContext&) { return std::make_unique<FixtureAdapter>(); }});
  RoutedGateway gw(factories);
  AdapterSpec fixture;
  fixture.name = "fixture-1";
  fixture.type = "fixture";
  gw.registry.start({fixture});
  gw.registry.check_all(std::chrono::seconds(5));
  AdapterSpec spec;
  spec.name = "openapi-test";
  AdapterContext ctx{spec, *Uuid::parse(gw.config.ocloud.id), &gw.inventory, {}};
  gw.inventory.replace_source(spec.name, ims::build_inventory(one_of_each(), ctx));

  std::string pool_id = first_id(gw.inventory, Kind::resource_pool);
  std::map<std::string, std::string> ids{
      {"resourceTypeId", first_id(gw.inventory, Kind::resource_type)},
      {"alarmDictionaryId", first_id(gw.inventory, Kind::alarm_dictionary)},
      {"resourcePoolId", pool_id},
      {"deploymentManagerId", first_id(gw.inventory, Kind::deployment_manager)},
      {"globalLocationId", first_id(gw.inventory, Kind::location)},
      {"oCloudSiteId", first_id(gw.inventory, Kind::ocloud_site)},
  };
  gw.inventory.visit_children(Kind::resource, pool_id, [&](const InventoryObject& o) { ids["resourceId"] = o.id; });
  for (const auto& [name, id] : ids) ASSERT_FALSE(id.empty()) << "the test inventory has no " << name;
  auto pick = [&](const std::string& param) {
    auto it = ids.find(param);
    return it == ids.end() ? std::string("0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d") : it->second;
  };

  std::size_t checked = 0;
  for (const auto& op : doc.operations()) {
    if (op.method != "GET") continue;
    const std::string path = fill_template(op.path, pick);
    http::Response res = gw.call("GET", path);
    const YAML::Node documented = doc.response(op, res.status);
    ASSERT_TRUE(documented.IsDefined()) << "GET " << path << " answered " << res.status << ": " << res.body;
    const YAML::Node schema = child(child(child(documented, "content"), media_type(res.content_type)), "schema");
    if (media_type(res.content_type).find("json") == std::string::npos || !schema.IsDefined()) continue;
    nlohmann::json body = nlohmann::json::parse(res.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << "GET " << path << " did not answer JSON";
    if (body.is_array()) {
      EXPECT_FALSE(body.empty()) << "GET " << path << " listed nothing; the test inventory has one of each";
    }
    std::vector<std::string> errors;
    check_schema(doc.root(), schema, body, "GET " + path, errors);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
    ++checked;
  }
  EXPECT_GT(checked, 30U);
}

}  // namespace
}  // namespace o2gw
