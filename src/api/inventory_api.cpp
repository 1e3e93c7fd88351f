// O2-IMS Infrastructure Inventory API, served under /v1 and /v2 from the cache.
#include <nlohmann/json.hpp>

#include "o2gw/api.hpp"
#include "o2gw/security.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/query.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

http::Response json_response(std::string body) {
  http::Response r;
  r.body = std::move(body);
  return r;
}

// globalLocationId is assigned by the SMO and has no defined syntax: accept any
// bounded string without control characters (the path arrives percent-decoded).
bool valid_location_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

// Returns a 400 response when the id is malformed, otherwise nothing.
bool check_uuid(const http::Request& req, std::string_view param, const std::string& value, http::Response& out) {
  if (is_uuid(value)) return true;
  out = problem_response(req, 400, std::string(param) + " '" + value + "' is not a valid UUID");
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every list goes through the one query engine: filter, selectors, sort, paging.
http::Response list_of(const http::Request& req, const InventoryCache& cache, const Pager& pager, Kind kind,
                       const std::string* parent_id = nullptr) {
  auto query = ListQuery::from_request(req, schema_for(kind), pager);
  if (!query) return problem_response(req, query.problem());
  ListResult result;
  cache.with_objects(kind, parent_id, [&](std::span<const InventoryObject* const> objects, const SnapshotMemo& memo) {
    result = query->run(objects, ListQuery::InputOrder::by_id, &memo);
  });
  http::Response r = json_response(std::move(result.body));
  if (!result.link.empty()) r.set_header("Link", std::move(result.link));
  return r;
}

// A single GET: the pre-serialised object unless attribute selectors ask for less.
http::Response single(const http::Request& req, const InventoryObject& obj) {
  if (req.query.empty()) return json_response(obj.json);
  auto query = SingleQuery::from_request(req, schema_for(obj.kind));
  if (!query) return problem_response(req, query.problem());
  return json_response(query->render(obj));
}

struct Collection {
  std::string_view path;   // "resourceTypes"
  std::string_view param;  // "resourceTypeId"
  Kind kind;
  bool uuid_ids;
  std::string_view noun;  // "resource type", for 404 details
};

constexpr Collection kCollections[] = {
    {"resourceTypes", "resourceTypeId", Kind::resource_type, true, "resource type"},
    {"alarmDictionaries", "alarmDictionaryId", Kind::alarm_dictionary, true, "alarm dictionary"},
    {"resourcePools", "resourcePoolId", Kind::resource_pool, true, "resource pool"},
    {"deploymentManagers", "deploymentManagerId", Kind::deployment_manager, true, "deployment manager"},
    {"locations", "globalLocationId", Kind::location, false, "location"},
    {"oCloudSites", "oCloudSiteId", Kind::ocloud_site, true, "O-Cloud site"},
};

// Deployment-manager credentials (profileData secrets) only for deployers and
// admins: others get the same document with those fields blanked. Deployment
// managers are few, so re-serialising their responses costs little.
void without_credentials(const http::Request& req, http::Response& res) {
  if (res.status != 200 || may_see_credentials(req)) return;
  auto doc = nlohmann::json::parse(res.body, nullptr, false);
  if (doc.is_discarded()) return;
  if (doc.is_array()) {
    for (auto& dm : doc) redact_credentials(dm);
  } else {
    redact_credentials(doc);
  }
  res.body = doc.dump();
}

std::string ocloud_json(const Config& cfg) {
  std::string uri = service_uri(cfg);
  nlohmann::json j = {
      {"oCloudId", cfg.ocloud.id},         {"globalCloudId", cfg.ocloud.global_cloud_id},
      {"name", cfg.ocloud.name},           {"description", cfg.ocloud.description},
      {"serviceUri", uri},                 {"extensions", cfg.ocloud.extensions},
  };
  return j.dump();
}

}  // namespace

std::string service_uri(const Config& cfg) {
  std::string uri = cfg.ocloud.service_uri;
  if (uri.empty()) {
    std::string host = cfg.server.listen_address;
    if (host == "0.0.0.0" || host == "::") host = "localhost";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6 literal in a URI
    uri = std::string(cfg.server.tls.enabled ? "https://" : "http://") + host + ":" + std::to_string(cfg.server.port);
  }
  while (!uri.empty() && uri.back() == '/') uri.pop_back();
  return uri;
}

void register_inventory_api(Router& router, const ApiContext& ctx) {
  InventoryCache* cache = ctx.inventory;
  const Pager* pager = ctx.pager;
  const std::string root(kInventoryApiRoot);
  using http::Method;

  std::string all_versions = nlohmann::json{{"uriPrefix", root},
                                            {"apiVersions", {{{"version", "1.0.0"}}, {{"version", "2.0.0"}}}}}
                                 .dump();
  router.add(Method::get, root + "/api_versions",
             [all_versions](const http::Request&, const PathParams&) { return json_response(all_versions); });

  std::string ocloud = ocloud_json(*ctx.config);
  for (const auto& [major, version] : {std::pair{"v1", "1.0.0"}, std::pair{"v2", "2.0.0"}}) {
    const std::string base = root + "/" + major;
    std::string versions =
        nlohmann::json{{"uriPrefix", base}, {"apiVersions", {{{"version", version}}}}}.dump();
    router.add(Method::get, base + "/api_versions",
               [versions](const http::Request&, const PathParams&) { return json_response(versions); });
    router.add(Method::get, base, [ocloud](const http::Request&, const PathParams&) { return json_response(ocloud); });

    for (const Collection& col : kCollections) {
      const std::string list_path = base + "/" + std::string(col.path);
      const bool credentials = col.kind == Kind::deployment_manager;
      router.add(Method::get, list_path,
                 [cache, pager, col, credentials](const http::Request& req, const PathParams&) {
                   auto res = list_of(req, *cache, *pager, col.kind);
                   if (credentials) without_credentials(req, res);
                   return res;
                 });
      router.add(Method::get, list_path + "/{" + std::string(col.param) + "}",
                 [cache, col, credentials](const http::Request& req, const PathParams& p) {
                   std::string id = p.get(col.param);
                   http::Response bad;
                   if (col.uuid_ids) {
                     if (!check_uuid(req, col.param, id, bad)) return bad;
                     id = lower(std::move(id));
                   } else if (!valid_location_id(id)) {
                     return problem_response(req, 400, std::string(col.param) + " '" + id +
                                                           "' is not a valid identifier");
                   }
                   auto obj = cache->get(col.kind, id);
                   if (!obj) {
                     return problem_response(req, 404, "no " + std::string(col.noun) + " with " +
                                                           std::string(col.param) + " " + id);
                   }
                   auto res = single(req, *obj);
                   if (credentials) without_credentials(req, res);
                   return res;
                 });
    }

    router.add(Method::get, base + "/resourceTypes/{resourceTypeId}/alarmDictionary",
               [cache](const http::Request& req, const PathParams& p) {
                 std::string id = p.get("resourceTypeId");
                 http::Response bad;
                 if (!check_uuid(req, "resourceTypeId", id, bad)) return bad;
                 auto type = cache->get(Kind::resource_type, lower(id));
                 if (!type) return problem_response(req, 404, "no resource type with resourceTypeId " + id);
                 auto dict_id = type->doc.find("alarmDictionaryId");
                 if (dict_id == type->doc.end() || !dict_id->is_string()) {
                   return problem_response(req, 404, "resource type " + id + " has no alarm dictionary");
                 }
                 auto dict = cache->get(Kind::alarm_dictionary, dict_id->get<std::string>());
                 if (!dict) return problem_response(req, 404, "the alarm dictionary of resource type " + id +
                                                                  " is not in the inventory");
                 return single(req, *dict);
               });

    const std::string resources = base + "/resourcePools/{resourcePoolId}/resources";
    router.add(Method::get, resources, [cache, pager](const http::Request& req, const PathParams& p) {
      std::string pool = p.get("resourcePoolId");
      http::Response bad;
      if (!check_uuid(req, "resourcePoolId", pool, bad)) return bad;
      pool = lower(std::move(pool));
      if (!cache->get(Kind::resource_pool, pool)) {
        return problem_response(req, 404, "no resource pool with resourcePoolId " + pool);
      }
      return list_of(req, *cache, *pager, Kind::resource, &pool);
    });
    router.add(Method::get, resources + "/{resourceId}", [cache](const http::Request& req, const PathParams& p) {
      std::string pool = p.get("resourcePoolId");
      std::string id = p.get("resourceId");
      http::Response bad;
      if (!check_uuid(req, "resourcePoolId", pool, bad) || !check_uuid(req, "resourceId", id, bad)) return bad;
      pool = lower(std::move(pool));
      id = lower(std::move(id));
      auto obj = cache->get(Kind::resource, id);
      if (!obj || obj->parent_id != pool) {
        if (!cache->get(Kind::resource_pool, pool)) {
          return problem_response(req, 404, "no resource pool with resourcePoolId " + pool);
        }
        return problem_response(req, 404, "no resource with resourceId " + id + " in resource pool " + pool);
      }
      return single(req, *obj);
    });
  }
}

}  // namespace o2gw
