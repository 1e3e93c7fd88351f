// O2-IMS Infrastructure Monitoring API (/o2ims-infrastructureMonitoring/v1): alarms,
// alarm subscriptions, the alarm service configuration and probable causes. Reads
// come from the AlarmService's memory; writes go to the store on the delivery loop.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "o2gw/alarms.hpp"
#include "o2gw/api.hpp"
#include "o2gw/events.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/query.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

http::Response json_response(std::string body, int status = 200) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string media_type(std::string_view ct) {
  std::string_view type = ct.substr(0, ct.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// PATCH takes application/merge-patch+json (the spec) or application/json; PUT takes JSON.
std::optional<Problem> check_media_type(const http::Request& req, bool merge_patch) {
  std::string type = media_type(req.header("Content-Type"));
  if (type.empty() || type == "application/json") return std::nullopt;
  if (merge_patch && type == "application/merge-patch+json") return std::nullopt;
  return Problem{415, "Unsupported Media Type",
                 merge_patch ? "the request body must be application/merge-patch+json or application/json"
                             : "the request body must be application/json"};
}

std::shared_ptr<http::Request> shell_of(const http::Request& req) {
  auto shell = std::make_shared<http::Request>();
  shell->path = req.path;
  shell->request_id = req.request_id;
  return shell;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Lists a JSON array of objects through the query engine (filter, selectors, paging).
http::Response list_json(const http::Request& req, const AttributeSchema& schema, const Pager& pager,
                         const std::vector<std::pair<std::string, const nlohmann::json*>>& docs,
                         const std::vector<std::string>& serialised) {
  auto query = ListQuery::from_request(req, schema, pager);
  if (!query) return problem_response(req, query.problem());
  std::vector<QueryItem> items;
  items.reserve(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) items.push_back({docs[i].first, docs[i].second, serialised[i]});
  ListResult result = query->run(items, ListQuery::InputOrder::by_id);
  http::Response r = json_response(std::move(result.body));
  if (!result.link.empty()) r.set_header("Link", std::move(result.link));
  return r;
}

http::Response single_json(const http::Request& req, const AttributeSchema& schema, const nlohmann::json& doc,
                           const std::string& json) {
  if (req.query.empty()) return json_response(json);
  auto query = SingleQuery::from_request(req, schema);
  if (!query) return problem_response(req, query.problem());
  std::string out;
  query->selector().append_selected(doc, json, out);
  return json_response(std::move(out));
}

}  // namespace

void register_monitoring_api(Router& router, const ApiContext& ctx, const EventsApiContext& ev,
                             const MonitoringApiContext& mon) {
  using http::Method;
  AlarmService* alarms = mon.alarms;
  net::EventLoop* loop = mon.loop;
  const Pager* pager = ctx.pager;
  InventoryCache* inventory = ctx.inventory;
  const std::string root(kMonitoringApiRoot);
  const std::string base = root + "/v1";

  std::string all_versions = nlohmann::json{{"uriPrefix", root}, {"apiVersions", {{{"version", "1.0.0"}}}}}.dump();
  router.add(Method::get, root + "/api_versions",
             [all_versions](const http::Request&, const PathParams&) { return json_response(all_versions); });
  std::string versions = nlohmann::json{{"uriPrefix", base}, {"apiVersions", {{{"version", "1.0.0"}}}}}.dump();
  router.add(Method::get, base + "/api_versions",
             [versions](const http::Request&, const PathParams&) { return json_response(versions); });

  // --- alarms
  router.add(Method::get, base + "/alarms", [alarms, pager](const http::Request& req, const PathParams&) {
    auto all = alarms->alarms();
    std::vector<std::pair<std::string, const nlohmann::json*>> docs;
    std::vector<std::string> json;
    docs.reserve(all.size());
    json.reserve(all.size());
    for (const auto& a : all) {
      docs.emplace_back(a->id, &a->doc);
      json.push_back(a->json);
    }
    return list_json(req, alarm_record_schema(), *pager, docs, json);
  });
  router.add(Method::get, base + "/alarms/{alarmEventRecordId}",
             [alarms](const http::Request& req, const PathParams& p) {
               const std::string& id = p.get("alarmEventRecordId");
               if (!is_uuid(id))
                 return problem_response(req, 400, "alarmEventRecordId '" + id + "' is not a valid UUID");
               auto a = alarms->find(lower(id));
               if (!a) return problem_response(req, 404, "no alarm with alarmEventRecordId " + id);
               return single_json(req, alarm_record_schema(), a->doc, a->json);
             });
  router.add_async(Method::patch, base + "/alarms/{alarmEventRecordId}",
                   [alarms, loop](const http::Request& req, const PathParams& p, Responder respond) {
                     std::string id = p.get("alarmEventRecordId");
                     if (!is_uuid(id)) {
                       respond(problem_response(req, 400, "alarmEventRecordId '" + id + "' is not a valid UUID"));
                       return;
                     }
                     if (auto bad = check_media_type(req, true)) {
                       respond(problem_response(req, *bad));
                       return;
                     }
                     auto body = std::make_shared<nlohmann::json>(nlohmann::json::parse(req.body, nullptr, false));
                     if (body->is_discarded()) {
                       respond(problem_response(req, 400, "the request body is not valid JSON"));
                       return;
                     }
                     loop->post([alarms, shell = shell_of(req), respond, body, id = lower(id)] {
                       auto result = alarms->patch(id, *body);
                       if (auto* problem = std::get_if<Problem>(&result)) {
                         respond(problem_response(*shell, *problem));
                         return;
                       }
                       respond(json_response(std::get<nlohmann::json>(result).dump()));
                     });
                   });

  // --- alarm subscriptions: the same code as inventory subscriptions.
  SubscriptionRoutes subs;
  subs.base = base + "/alarmSubscriptions";
  subs.id_attribute = "alarmSubscriptionId";
  subs.object_name = "AlarmSubscriptionInfo";
  subs.service = mon.alarm_subscriptions;
  subs.schema = &alarm_subscription_schema();
  subs.duplicate_status = 409;  // the monitoring spec declares 409 for a duplicate
  register_subscription_routes(router, ctx, ev, subs);

  // --- alarm service configuration
  router.add(Method::get, base + "/alarmServiceConfiguration", [alarms](const http::Request&, const PathParams&) {
    return json_response(alarms->configuration().dump());
  });
  for (bool merge : {false, true}) {
    router.add_async(merge ? Method::patch : Method::put, base + "/alarmServiceConfiguration",
                     [alarms, loop, merge](const http::Request& req, const PathParams&, Responder respond) {
                       if (auto bad = check_media_type(req, merge)) {
                         respond(problem_response(req, *bad));
                         return;
                       }
                       auto body = std::make_shared<nlohmann::json>(nlohmann::json::parse(req.body, nullptr, false));
                       if (body->is_discarded()) {
                         respond(problem_response(req, 400, "the request body is not valid JSON"));
                         return;
                       }
                       loop->post([alarms, shell = shell_of(req), respond, body, merge] {
                         auto result = alarms->update_configuration(*body, merge);
                         if (auto* problem = std::get_if<Problem>(&result)) {
                           respond(problem_response(*shell, *problem));
                           return;
                         }
                         respond(json_response(std::get<nlohmann::json>(result).dump()));
                       });
                     });
  }

  // --- probable causes: one per alarm definition in the inventory's dictionaries.
  router.add(Method::get, base + "/alarmProbableCauses",
             [inventory, pager](const http::Request& req, const PathParams&) {
               nlohmann::json causes = probable_causes(*inventory);
               std::vector<std::pair<std::string, const nlohmann::json*>> docs;
               std::vector<std::string> json;
               docs.reserve(causes.size());
               json.reserve(causes.size());
               for (const auto& c : causes) {
                 docs.emplace_back(c.at("probableCauseId").get<std::string>(), &c);
                 json.push_back(c.dump());
               }
               return list_json(req, probable_cause_schema(), *pager, docs, json);
             });
  router.add(Method::get, base + "/alarmProbableCauses/{probableCauseId}",
             [inventory](const http::Request& req, const PathParams& p) {
               const std::string& id = p.get("probableCauseId");
               if (!is_uuid(id)) return problem_response(req, 400, "probableCauseId '" + id + "' is not a valid UUID");
               const std::string wanted = lower(id);
               for (const auto& c : probable_causes(*inventory)) {
                 if (c.at("probableCauseId") == wanted) {
                   return single_json(req, probable_cause_schema(), c, c.dump());
                 }
               }
               return problem_response(req, 404, "no probable cause with probableCauseId " + id);
             });

  // --- admin: purge cleared alarms past the retention period, optionally as of a given time.
  router.add_async(Method::post, "/admin/v1/alarms/purge",
                   [alarms, loop](const http::Request& req, const PathParams&, Responder respond) {
                     std::optional<AlarmService::Clock::time_point> as_of;
                     std::string text;
                     if (req.query_param("asOf", text)) {
                       as_of = parse_rfc3339(text);
                       if (!as_of) {
                         respond(problem_response(req, 400, "asOf '" + text + "' is not an RFC 3339 date-time"));
                         return;
                       }
                     }
                     loop->post([alarms, respond, as_of] {
                       std::size_t n = as_of ? alarms->purge(*as_of) : alarms->purge();
                       respond(json_response(nlohmann::json{{"purged", n}}.dump()));
                     });
                   });
}

}  // namespace o2gw
