// Keeps api/o2gw.openapi.yaml honest. The document must list exactly the
// (method, path) pairs the router serves, every status a handler answers must
// be documented for its operation, the objects o2gw serves must have the
// documented shape, every list must document (and honour) the query
// parameters, the default exclusions documented per object type
// (x-o2gw-default-excluded) must be the query engine's, and the copy embedded
// in the binary (GET /openapi.yaml) must be the file in the source tree.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ims/common/o2_objects.hpp"
#include "o2gw/events.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/store.hpp"
#include "o2gw/webhook.hpp"
#include "o2gw/alarms.hpp"
#include "o2gw/alertmanager.hpp"
#include "o2gw/api.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/query.hpp"
#include "o2gw/registry.hpp"
#include "o2gw/router.hpp"
#include "o2gw/security.hpp"
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
  Pager pager;
  Router router;
  // The subscription routes need their store, loop and deliverer, as in main().
  std::filesystem::path db = std::filesystem::temp_directory_path() / ("o2gw-openapi-" + Uuid::v4().str() + ".db");
  std::unique_ptr<Store> store = open_sqlite_store(db);
  net::EventLoop loop{1, "openapi-test"};
  net::HttpClient client{loop, net::ClientOptions{}};
  CallbackGuard guard{CallbackGuardOptions{}};
  SubscriptionService subscriptions{*store, SubscriptionFamily::inventory, inventory_event_schema(), 10000};
  SubscriptionService alarm_subscriptions{*store, SubscriptionFamily::alarm, alarm_event_schema(), 10000};
  AlarmService alarms{*store, inventory, AlarmServiceOptions{}};
  std::unique_ptr<WebhookDeliverer> deliverer;

  explicit RoutedGateway(const FactoryTable& factories = FactoryTable::global())
      : registry(factories, Registry::Services{}) {
    ApiContext ctx{&config, &inventory, &registry, &metrics, &shutting_down, &pager};
    register_inventory_api(router, ctx);
    register_admin_api(router, ctx);
    WebhookDeliverer::Deps d;
    d.store = store.get();
    d.loop = &loop;
    d.client = &client;
    d.subscriptions = &subscriptions;
    d.keys = std::make_shared<const SigningKeyRing>(std::vector<SigningKeyRing::Key>{{"k", std::string(40, 'x')}});
    d.render = [](const OutboxEntry&, const Subscription&, const EventRecord&) { return std::string("{}"); };
    deliverer = std::make_unique<WebhookDeliverer>(std::move(d), DeliveryOptions{});
    EventsApiContext events{&subscriptions, deliverer.get(), store.get(), &loop, &client, &guard};
    register_subscriptions_api(router, ctx, events);
    alarm_subscriptions.set_filter_parser(parse_alarm_subscription_filter);
    register_monitoring_api(router, ctx, events, MonitoringApiContext{&alarms, &alarm_subscriptions, &loop});
    register_alertmanager_receiver(router, alarms, inventory, config.alarms.alertmanager, &metrics);
  }
  ~RoutedGateway() {
    deliverer.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix, ec);
  }
  RoutedGateway(const RoutedGateway&) = delete;
  RoutedGateway& operator=(const RoutedGateway&) = delete;

  // `target` is a path, optionally with a query string (not percent-decoded: keep paths plain).
  http::Response call(const std::string& method, const std::string& target, std::string body = "") const {
    http::Request req;
    req.method_text = method;
    req.method = http::parse_method(method);
    req.target = target;
    const auto question = target.find('?');
    req.path = target.substr(0, question);
    if (question != std::string::npos) req.query = target.substr(question + 1);
    req.body = std::move(body);
    req.request_id = "openapi-coverage-test";
    if (!req.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    // Some routes answer from the delivery loop: wait for the answer.
    std::promise<http::Response> answer;
    router.dispatch_async(req, [&answer](http::Response r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
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
  ims::ResourceSpec second;  // two resources in the pool: its list can be paged
  second.key = "server-02";
  second.pool_key = "pool-a";
  second.type_key = "x1000";
  second.description = "server-02";
  second.global_asset_id = "SN-0002";
  m.resources.push_back(second);

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

// A gateway serving one_of_each(), with a synced adapter instance, and the ids to fill
// path templates with.
struct PopulatedGateway {
  struct FixtureFactories {
    FactoryTable table;  // neither copyable nor movable, and the registry keeps a reference
    FixtureFactories() {
      table.add(AdapterFactory{Category::ims, "fixture", "always synced", nullptr,
                               [](const AdapterContext&) { return std::make_unique<FixtureAdapter>(); }});
    }
  };

  FixtureFactories factories;
  RoutedGateway gw{factories.table};
  std::map<std::string, std::string> ids;

  PopulatedGateway() {
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
    ids = {
        {"resourceTypeId", first_id(gw.inventory, Kind::resource_type)},
        {"alarmDictionaryId", first_id(gw.inventory, Kind::alarm_dictionary)},
        {"resourcePoolId", pool_id},
        {"deploymentManagerId", first_id(gw.inventory, Kind::deployment_manager)},
        {"globalLocationId", first_id(gw.inventory, Kind::location)},
        {"oCloudSiteId", first_id(gw.inventory, Kind::ocloud_site)},
    };
    gw.inventory.visit_children(Kind::resource, pool_id, [&](const InventoryObject& o) { ids["resourceId"] = o.id; });
    // One subscription and one dead letter, so their lists have something to check.
    auto created = gw.call("POST", "/o2ims-infrastructureInventory/v2/subscriptions",
                           R"J({"callback":"https://smo.example.net/cb","consumerSubscriptionId":"3f1c0a9e-8b5e-4f4e-9a53-3c2b1d0e7f61","filter":"(eq,resourceTypeId,31a69575-3f90-4eb5-b8fa-8f8e23f99cf0)"})J");
    EXPECT_EQ(created.status, 201) << created.body;
    std::string sid = nlohmann::json::parse(created.body).at("subscriptionId");
    ids["subscriptionId"] = sid;
    std::vector<PendingEvent> events(1);
    events[0].event.object_ref = "https://o2gw.example/x";
    events[0].event.post_json = "{}";
    OutboxEntry entry;
    entry.notification_id = Uuid::v4().str();
    entry.subscription_id = sid;
    events[0].entries.push_back(entry);
    gw.store->enqueue(events);
    gw.store->dead_letter(DeadLetter{events[0].entries[0], "HTTP 400", 400, 5});
    // One alarm (on the test resource, the first definition of its type) and one alarm subscription.
    auto resource = gw.inventory.get(Kind::resource, ids["resourceId"]);
    auto type = gw.inventory.get(Kind::resource_type, resource->doc.at("resourceTypeId").get<std::string>());
    auto dict = gw.inventory.get(Kind::alarm_dictionary, type->doc.at("alarmDictionaryId").get<std::string>());
    AlarmReport report;
    report.source = "openapi-test";
    report.key = "k";
    report.resource_id = ids["resourceId"];
    report.definition = dict->doc.at("alarmDefinition").at(0).at("alarmDefinitionId").get<std::string>();
    auto rejected = gw.alarms.raise(report);
    EXPECT_FALSE(rejected) << rejected->reason;
    ids["alarmEventRecordId"] = gw.alarms.alarms().at(0)->id;
    ids["probableCauseId"] = probable_cause_id(report.definition);
    auto alarm_sub = gw.call("POST", "/o2ims-infrastructureMonitoring/v1/alarmSubscriptions",
                             R"J({"callback":"https://smo.example.net/alarms","filter":"NEW"})J");
    EXPECT_EQ(alarm_sub.status, 201) << alarm_sub.body;
    ids["alarmSubscriptionId"] = nlohmann::json::parse(alarm_sub.body).at("alarmSubscriptionId");
  }

  // The operation's path with the ids of the test inventory.
  [[nodiscard]] std::string path_of(const Operation& op) const {
    return fill_template(op.path, [&](const std::string& param) {
      auto it = ids.find(param);
      return it == ids.end() ? std::string("0b5a3c1e-4d2f-4a6b-8c9d-0e1f2a3b4c5d") : it->second;
    });
  }
};

// --- what the document says about queries ---------------------------------------------

// The query parameters every list takes, and the attribute selectors that single-object
// GETs take too (src/query: ListQuery::from_request, selector_params).
const std::vector<std::string> kListParameters{"filter",          "fields", "exclude_fields", "all_fields",
                                               "exclude_default", "sort",   "limit",          "nextpage_opaque_marker"};
const std::vector<std::string> kSelectorParameters{"fields", "exclude_fields", "all_fields", "exclude_default"};
// The ones beyond ETSI GS NFV-SOL 013 and the O-RAN documents: marked x-o2gw-extension.
const std::set<std::string> kExtensionParameters{"sort", "limit"};

// The inventory object type whose schema is `#/components/schemas/<AttributeSchema::name()>`.
std::optional<Kind> kind_of_schema(const std::string& ref) {
  const std::string prefix = "#/components/schemas/";
  if (ref.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string name = ref.substr(prefix.size());
  for (std::size_t k = 0; k < kKindCount; ++k) {
    if (schema_for(static_cast<Kind>(k)).name() == name) return static_cast<Kind>(k);
  }
  return std::nullopt;
}

// A GET whose 200 answer is an inventory object (single) or an array of them (list).
struct InventoryGet {
  const Operation* op = nullptr;
  Kind kind{};
  bool list = false;
  YAML::Node schema;  // the object's schema
};

std::vector<InventoryGet> inventory_gets(const OpenApiDocument& doc) {
  std::vector<InventoryGet> out;
  for (const auto& op : doc.operations()) {
    if (op.method != "GET") continue;
    const YAML::Node schema = child(child(child(doc.response(op, 200), "content"), "application/json"), "schema");
    if (!schema.IsDefined()) continue;
    const bool list = scalar(child(schema, "type")) == "array";
    const std::string ref = scalar(child(list ? child(schema, "items") : schema, "$ref"));
    const auto kind = kind_of_schema(ref);
    if (!kind) continue;
    out.push_back({&op, *kind, list, resolve_pointer(doc.root(), ref)});
  }
  return out;
}

// The query parameters an operation declares (on itself or on its path item), by name.
std::map<std::string, YAML::Node> query_parameters(const OpenApiDocument& doc, const Operation& op) {
  std::map<std::string, YAML::Node> out;
  for (const YAML::Node& list : {child(op.item, "parameters"), child(op.op, "parameters")}) {
    if (!list.IsDefined()) continue;
    for (const auto& p : list) {
      const YAML::Node param = deref(doc.root(), p);
      if (scalar(child(param, "in")) == "query") out.emplace(scalar(child(param, "name")), param);
    }
  }
  return out;
}

// x-o2gw-default-excluded of an object schema; nullopt when the schema does not say.
std::optional<std::set<std::string>> documented_exclusions(const YAML::Node& schema) {
  const YAML::Node list = child(schema, "x-o2gw-default-excluded");
  if (!list.IsDefined() || !list.IsSequence()) return std::nullopt;
  std::set<std::string> out;
  for (const auto& name : list) out.insert(name.as<std::string>());
  return out;
}

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> out;
  for (const auto& [key, value] : object.items()) out.insert(key);
  return out;
}

// The target of a `Link: <target>; rel="next"` header; empty when there is none.
std::string next_link(const http::Response& res) {
  static const std::regex kNext(R"(^<([^>]+)>; rel="next"$)");
  const std::string link = header_value(res, "Link");
  std::smatch m;
  return std::regex_match(link, m, kNext) ? m[1].str() : std::string();
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

// Each route declares its roles (src/auth/route_policy.cpp); the document says
// the same in x-o2gw-roles, anonymous operations say `security: []`, and no
// served route falls through to the admin-only default by accident.
TEST(OpenApiCoverage, EveryOperationDocumentsTheRolesItsRouteRequires) {
  OpenApiDocument doc;
  RoutedGateway gw;
  std::set<std::string> checked;
  for (const auto& op : doc.operations()) {
    const std::string where = op.method + " " + op.path;
    const RouteAccess access = route_access(http::parse_method(op.method), op.path);
    const YAML::Node roles = child(op.op, "x-o2gw-roles");
    ASSERT_TRUE(roles.IsDefined() && roles.IsSequence()) << where << " has no x-o2gw-roles";
    std::vector<std::string> documented;
    for (const auto& r : roles) documented.push_back(r.Scalar());
    std::vector<std::string> required;
    if (!access.anonymous) {
      std::string joined = access.roles.str();
      for (std::size_t pos = 0; !joined.empty();) {
        auto comma = joined.find(',', pos);
        required.push_back(joined.substr(pos, comma - pos));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
    EXPECT_EQ(documented, required) << where;
    const YAML::Node security = child(op.op, "security");
    EXPECT_EQ(access.anonymous, security.IsDefined() && security.IsSequence() && security.size() == 0) << where;
    if (!access.anonymous) {
      EXPECT_TRUE(doc.response(op, 401).IsDefined()) << where << " does not document 401";
      EXPECT_TRUE(doc.response(op, 403).IsDefined()) << where << " does not document 403";
    }
    EXPECT_TRUE(doc.response(op, 429).IsDefined()) << where << " does not document 429";
    checked.insert(where);
  }
  for (const auto& [method, tmpl] : gw.router.routes()) {
    const RouteAccess access = route_access(method, tmpl);
    const bool admin_only = !access.anonymous && access.roles.str() == "admin";
    const bool admin_area = tmpl.rfind("/admin/", 0) == 0 || tmpl == "/metrics";
    EXPECT_EQ(admin_only, admin_area) << http::method_name(method) << " " << tmpl
                                      << ": admin-only routes are the admin area and /metrics, nothing else";
  }
  EXPECT_GT(checked.size(), 50u);
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
    // A method the path does not serve (PATCH, unless it does).
    std::string method = "PATCH";
    for (const char* m : {"PATCH", "PUT", "DELETE", "POST"}) {
      if (methods.count(m) == 0) {
        method = m;
        break;
      }
    }
    http::Response res = gw.call(method, path);
    EXPECT_EQ(res.status, 405) << method << " " << path;
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
  PopulatedGateway fixture;
  for (const auto& [name, id] : fixture.ids) ASSERT_FALSE(id.empty()) << "the test inventory has no " << name;

  std::set<const Operation*> lists;
  for (const auto& get : inventory_gets(doc)) {
    if (get.list) lists.insert(get.op);
  }
  std::size_t checked = 0;
  for (const auto& op : doc.operations()) {
    if (op.method != "GET") continue;
    // Lists leave out the default exclusions, which the O-RAN schemas may require: the
    // documented schema describes complete objects, so ask for them.
    std::string path = fixture.path_of(op);
    if (lists.count(&op) != 0) path += "?all_fields";
    http::Response res = fixture.gw.call("GET", path);
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
  EXPECT_EQ(lists.size(), 14U) << "seven inventory lists, under /v1 and /v2";
}

TEST(OpenApiCoverage, DefaultExclusionsAreDocumentedPerObjectType) {
  OpenApiDocument doc;
  for (std::size_t k = 0; k < kKindCount; ++k) {
    const AttributeSchema& engine = schema_for(static_cast<Kind>(k));
    const YAML::Node schema = resolve_pointer(doc.root(), "#/components/schemas/" + engine.name());
    ASSERT_TRUE(schema.IsDefined()) << "no schema " << engine.name() << " in the document";
    const auto documented = documented_exclusions(schema);
    ASSERT_TRUE(documented.has_value()) << engine.name() << " has no x-o2gw-default-excluded list";
    const std::set<std::string> actual(engine.default_exclusions().begin(), engine.default_exclusions().end());
    EXPECT_EQ(*documented, actual) << "x-o2gw-default-excluded of " << engine.name()
                                   << " differs from the query engine's (src/query/schema.cpp)";
    for (const auto& name : *documented) {
      EXPECT_TRUE(child(child(schema, "properties"), name).IsDefined())
          << engine.name() << ": default exclusion " << name << " is not a documented property";
    }
  }
  // Each list says in its description what it leaves out.
  for (const auto& get : inventory_gets(doc)) {
    if (!get.list) continue;
    const std::string description = scalar(child(get.op->op, "description"));
    for (const auto& name : schema_for(get.kind).default_exclusions()) {
      EXPECT_NE(description.find("`" + name + "`"), std::string::npos)
          << "GET " << get.op->path << ": the description does not name the default exclusion " << name;
    }
  }
}

TEST(OpenApiCoverage, ListsWithoutSelectorsOmitExactlyTheDocumentedDefaults) {
  OpenApiDocument doc;
  PopulatedGateway fixture;
  std::size_t checked = 0;
  for (const auto& get : inventory_gets(doc)) {
    const auto documented = documented_exclusions(get.schema);
    ASSERT_TRUE(documented.has_value()) << get.op->path << ": its schema has no x-o2gw-default-excluded";
    const std::string path = fixture.path_of(*get.op);
    // A list leaves the default exclusions out when no selector is given; a single object
    // only on request (exclude_default).
    const std::string partial_target = get.list ? path : path + "?exclude_default";
    const http::Response partial_res = fixture.gw.call("GET", partial_target);
    const http::Response full_res = fixture.gw.call("GET", path + "?all_fields");
    ASSERT_EQ(partial_res.status, 200) << "GET " << partial_target << ": " << partial_res.body;
    ASSERT_EQ(full_res.status, 200) << "GET " << path << "?all_fields: " << full_res.body;
    nlohmann::json partial = nlohmann::json::parse(partial_res.body);
    nlohmann::json full = nlohmann::json::parse(full_res.body);
    if (!get.list) {
      partial = nlohmann::json::array({partial});
      full = nlohmann::json::array({full});
      const http::Response whole = fixture.gw.call("GET", path);
      EXPECT_EQ(nlohmann::json::parse(whole.body), full[0]) << "GET " << path << " without selectors is not whole";
    }
    ASSERT_EQ(partial.size(), full.size()) << "GET " << partial_target;
    ASSERT_FALSE(full.empty()) << "GET " << path << " listed nothing";
    const std::string& id_attribute = schema_for(get.kind).id_attribute();
    std::set<std::string> seen;  // documented exclusions present in some complete object
    for (std::size_t i = 0; i < full.size(); ++i) {
      ASSERT_EQ(partial[i].at(id_attribute), full[i].at(id_attribute)) << "GET " << partial_target << " [" << i << "]";
      std::set<std::string> omitted;
      std::set<std::string> expected;
      for (const auto& key : keys_of(full[i])) {
        if (!partial[i].contains(key)) omitted.insert(key);
        if (documented->count(key) != 0) expected.insert(key);
      }
      seen.insert(expected.begin(), expected.end());
      EXPECT_EQ(omitted, expected) << "GET " << partial_target << " [" << i
                                   << "] should omit exactly the documented default exclusions";
      for (const auto& [key, value] : partial[i].items()) {
        EXPECT_EQ(full[i].contains(key) ? full[i][key] : nlohmann::json(), value)
            << "GET " << partial_target << " [" << i << "]." << key << " differs from the complete object";
      }
    }
    EXPECT_EQ(seen, *documented) << "GET " << path
                                 << ": the test inventory should hold every default-excluded attribute";
    ++checked;
  }
  EXPECT_EQ(checked, 30U) << "14 lists and 16 single-object GETs of inventory objects";
}

TEST(OpenApiCoverage, ListsDocumentTheQueryParametersAndSingleObjectsTheSelectors) {
  OpenApiDocument doc;
  for (const auto& get : inventory_gets(doc)) {
    const std::string where = "GET " + get.op->path;
    const auto params = query_parameters(doc, *get.op);
    const auto& expected = get.list ? kListParameters : kSelectorParameters;
    std::set<std::string> names;
    for (const auto& [name, param] : params) names.insert(name);
    EXPECT_EQ(names, std::set<std::string>(expected.begin(), expected.end()))
        << where << " should document exactly the query parameters o2gw reads";
    for (const auto& [name, param] : params) {
      EXPECT_EQ(scalar(child(param, "required")), "false") << where << ": " << name << " is optional";
      EXPECT_FALSE(scalar(child(param, "description")).empty()) << where << ": " << name << " has no description";
      const bool extension = scalar(child(param, "x-o2gw-extension")) == "true";
      EXPECT_EQ(extension, kExtensionParameters.count(name) != 0)
          << where << ": " << name << (extension ? " is" : " is not") << " marked x-o2gw-extension";
    }
    EXPECT_EQ(child(child(doc.response(*get.op, 200), "headers"), "Link").IsDefined(), get.list)
        << where << (get.list ? " does not document" : " documents") << " the Link header of paged lists";
    EXPECT_TRUE(child(child(doc.response(*get.op, 400), "content"), "application/problem+json").IsDefined())
        << where << " does not document the 400 problems of bad query parameters";
  }
}

TEST(OpenApiCoverage, DocumentedQueryParametersAreHonoured) {
  OpenApiDocument doc;
  PopulatedGateway fixture;
  // A value of each parameter the query engine must refuse.
  const std::map<std::string, std::string> bad{
      {"filter", "(eq,noSuchAttribute,1)"},
      {"fields", "noSuchAttribute"},
      {"exclude_fields", "noSuchAttribute"},
      {"all_fields", "maybe"},
      {"exclude_default", "maybe"},
      {"sort", "noSuchAttribute"},
      {"limit", "0"},
      {"nextpage_opaque_marker", "forged"},
  };
  std::size_t checked = 0;
  for (const auto& get : inventory_gets(doc)) {
    const std::string path = fixture.path_of(*get.op);
    for (const auto& [name, param] : query_parameters(doc, *get.op)) {
      auto value = bad.find(name);
      ASSERT_NE(value, bad.end()) << "no bad value for the documented parameter " << name;
      const std::string target = path + "?" + name + "=" + value->second;
      const http::Response res = fixture.gw.call("GET", target);
      EXPECT_EQ(res.status, 400) << "GET " << target << " was not refused: is " << name << " read there?";
      EXPECT_EQ(media_type(res.content_type), "application/problem+json") << "GET " << target;
      EXPECT_NE(res.body.find(name), std::string::npos)
          << "GET " << target << ": the detail should name " << name << ": " << res.body;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 14U * 8U + 16U * 4U);
}

TEST(OpenApiCoverage, ListPagesFollowTheDocumentedLinkHeader) {
  OpenApiDocument doc;
  PopulatedGateway fixture;
  bool paged = false;
  for (const auto& get : inventory_gets(doc)) {
    if (!get.list) continue;
    const std::string path = fixture.path_of(*get.op);
    const std::string& id_attribute = schema_for(get.kind).id_attribute();
    const http::Response all = fixture.gw.call("GET", path);
    ASSERT_EQ(all.status, 200) << "GET " << path;
    EXPECT_TRUE(next_link(all).empty()) << "GET " << path << ": one page holds the test inventory";
    std::vector<std::string> expected;
    for (const auto& o : nlohmann::json::parse(all.body)) expected.push_back(o.at(id_attribute).get<std::string>());

    std::vector<std::string> walked;
    std::string target = path + "?limit=1";
    for (std::size_t page = 0; !target.empty(); ++page) {
      ASSERT_LE(page, expected.size()) << "GET " << path << ": the Link headers do not end";
      const http::Response res = fixture.gw.call("GET", target);
      ASSERT_EQ(res.status, 200) << "GET " << target << ": " << res.body;
      const auto body = nlohmann::json::parse(res.body);
      ASSERT_LE(body.size(), 1U) << "GET " << target;
      for (const auto& o : body) walked.push_back(o.at(id_attribute).get<std::string>());
      const std::string link = header_value(res, "Link");
      target = next_link(res);
      EXPECT_EQ(link.empty(), target.empty()) << "GET " << path << ": malformed Link: " << link;
      if (!target.empty()) {
        paged = true;
        EXPECT_EQ(target.rfind(get.op->path.substr(0, get.op->path.find('{')), 0), 0U)
            << "the Link is a path-absolute reference to the same list: " << target;
        // An altered marker is refused.
        std::string forged = target;
        forged.back() = forged.back() == 'A' ? 'B' : 'A';
        EXPECT_EQ(fixture.gw.call("GET", forged).status, 400) << "GET " << forged;
      }
    }
    EXPECT_EQ(walked, expected) << "GET " << path << ": the walk should return every object once, in order";
  }
  EXPECT_TRUE(paged) << "the test inventory should have a list of more than one object";
}

}  // namespace
}  // namespace o2gw
