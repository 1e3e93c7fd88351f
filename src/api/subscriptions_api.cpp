// Inventory subscriptions (O2-IMS, under /v1 and /v2) and the admin dead-letter
// endpoints. Reads come from the in-memory snapshot; writes go to the store on
// the delivery loop and answer through the Responder.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "o2gw/api.hpp"
#include "o2gw/auth.hpp"
#include "o2gw/events.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/query.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

constexpr std::size_t kMaxCallbackLength = 2048;
constexpr std::size_t kMaxFilterLength = 4096;

http::Response json_response(std::string body, int status = 200) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool json_media_type(std::string_view ct) {
  if (ct.empty()) return true;  // curl -d without -H: accept, the body must still be JSON
  auto semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

// A validated subscription request, or the 400 that says what is wrong.
struct NewSubscription {
  SubscriptionRecord record;
  Filter filter;
};

Parsed<NewSubscription> parse_subscription(const http::Request& req, const SubscriptionRoutes& kind,
                                           const CallbackGuard& guard) {
  auto bad = [](std::string detail) { return Problem{400, "Bad Request", std::move(detail)}; };
  if (!json_media_type(req.header("Content-Type"))) {
    return Problem{415, "Unsupported Media Type", "the request body must be application/json"};
  }
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return bad("the request body is not valid JSON");
  if (!body.is_object()) return bad("the request body must be a JSON object (" + kind.object_name + ")");
  NewSubscription out;
  for (const auto& [key, value] : body.items()) {
    if (key == kind.id_attribute) return bad(kind.id_attribute + " is allocated by the O-Cloud and must not be sent");
    if (key == "callback") {
      if (!value.is_string()) return bad("callback must be a string");
      out.record.callback = value.get<std::string>();
    } else if (key == "consumerSubscriptionId") {
      if (value.is_null()) continue;
      if (!value.is_string() || !is_uuid(value.get<std::string>())) {
        return bad("consumerSubscriptionId must be a UUID string");
      }
      out.record.consumer_subscription_id = value.get<std::string>();
    } else if (key == "filter") {
      if (value.is_null()) continue;
      if (!value.is_string()) return bad("filter must be a string");
      out.record.filter = value.get<std::string>();
    } else {
      return bad("unknown field '" + key + "' (" + kind.object_name + " has callback, consumerSubscriptionId and filter)");
    }
  }
  if (!body.contains("callback")) return bad("callback is required");
  if (out.record.callback.size() > kMaxCallbackLength) {
    return bad("callback is longer than " + std::to_string(kMaxCallbackLength) + " characters");
  }
  if (auto why = guard.check_url(out.record.callback)) return bad("callback refused: " + *why);
  if (out.record.filter.size() > kMaxFilterLength) {
    return bad("filter is longer than " + std::to_string(kMaxFilterLength) + " characters");
  }
  auto filter = kind.service->parse_filter(out.record.filter);
  if (!filter) return bad("invalid filter: " + filter.problem().detail);
  out.filter = std::move(*filter);
  return out;
}

// With auth.multi_tenant, a caller with a tenant sees only its tenant's
// subscriptions (admins see all). nullopt: no scoping.
std::optional<std::string> tenant_scope(const http::Request& req, const Config& cfg) {
  if (!cfg.auth.multi_tenant || !req.principal || req.principal->roles.has(Role::admin)) return std::nullopt;
  return req.principal->tenant;
}

bool visible(const Subscription& s, const std::optional<std::string>& scope) {
  return !scope || s.record.tenant == *scope;
}

// Lists through the query engine (filter, selectors, sort, paging) like every list.
http::Response list_subscriptions(const http::Request& req, const SubscriptionService& service,
                                  const AttributeSchema& schema, const Pager& pager,
                                  const std::optional<std::string>& scope) {
  auto query = ListQuery::from_request(req, schema, pager);
  if (!query) return problem_response(req, query.problem());
  auto snap = service.snapshot();
  std::vector<QueryItem> items;
  items.reserve(snap->size());
  for (const auto& s : *snap) {
    if (visible(*s, scope)) items.push_back({s->record.id, &s->doc, s->json});
  }
  ListResult result = query->run(items, ListQuery::InputOrder::by_id);
  http::Response r = json_response(std::move(result.body));
  if (!result.link.empty()) r.set_header("Link", std::move(result.link));
  return r;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Optional reachability check of a new callback: a GET that must answer 2xx in time.
void verify_callback(net::HttpClient& client, const std::string& callback, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<std::string> why)> done) {
  net::ClientRequest check;
  check.method = http::Method::get;
  check.url = callback;
  check.timeout = timeout;
  check.max_response_bytes = 64 * 1024;
  client.request(std::move(check), [callback, done = std::move(done)](net::ClientResult r) {
    if (r.ok() && r.response->status >= 200 && r.response->status < 300) {
      done(std::nullopt);
    } else if (r.ok()) {
      done("callback " + callback + " answered the check GET with HTTP " + std::to_string(r.response->status));
    } else {
      done("callback " + callback + " did not answer the check GET: " + r.error->message);
    }
  });
}

}  // namespace

void register_subscription_routes(Router& router, const ApiContext& ctx, const EventsApiContext& ev,
                                  const SubscriptionRoutes& kind_in) {
  using http::Method;
  auto kind = std::make_shared<const SubscriptionRoutes>(kind_in);
  SubscriptionService* service = kind->service;
  const Pager* pager = ctx.pager;
  const Config* cfg = ctx.config;
  const std::string& base = kind->base;
  const std::string param = kind->id_attribute;
  {
    router.add(Method::get, base, [service, pager, kind, cfg](const http::Request& req, const PathParams&) {
      return list_subscriptions(req, *service, *kind->schema, *pager, tenant_scope(req, *cfg));
    });

    router.add(Method::get, base + "/{" + param + "}",
               [service, kind, cfg](const http::Request& req, const PathParams& p) {
      const std::string& id = p.get(kind->id_attribute);
      if (!is_uuid(id)) return problem_response(req, 400, kind->id_attribute + " '" + id + "' is not a valid UUID");
      auto sub = service->find(lower(id));
      if (!sub || !visible(*sub, tenant_scope(req, *cfg))) return problem_response(req, 404, "no subscription with " + kind->id_attribute + " " + id);
      if (req.query.empty()) return json_response(sub->json);
      auto query = SingleQuery::from_request(req, *kind->schema);
      if (!query) return problem_response(req, query.problem());
      std::string out;
      query->selector().append_selected(sub->doc, sub->json, out);
      return json_response(std::move(out));
    });

    router.add_async(Method::post, base, [service, cfg, ev, kind](const http::Request& req, const PathParams&,
                                                                   Responder respond) {
      auto parsed = parse_subscription(req, *kind, *ev.guard);
      if (!parsed) {
        respond(problem_response(req, parsed.problem()));
        return;
      }
      // The subscription belongs to the caller's tenant (stored, so it survives restarts).
      if (cfg->auth.multi_tenant && req.principal) parsed->record.tenant = req.principal->tenant;
      // The request is gone once the handler returns: carry what the answer needs.
      std::string path = req.path;
      while (path.size() > 1 && path.back() == '/') path.pop_back();
      auto shell = std::make_shared<http::Request>();
      shell->path = path;
      shell->request_id = req.request_id;
      std::string callback = parsed->record.callback;
      const int duplicate_status = kind->duplicate_status;
      auto create = [service, ev, shell, respond, duplicate_status,
                     sub = std::make_shared<NewSubscription>(std::move(*parsed))] {
        ev.loop->post([service, shell, respond, sub, duplicate_status] {
          SubscriptionService::CreateResult result = Problem{};
          try {
            result = service->create(std::move(sub->record), std::move(sub->filter), duplicate_status);
          } catch (const std::exception& e) {
            spdlog::error("creating a subscription failed: {}", e.what());
            respond(problem_response(*shell, 500, "the subscription could not be stored; see the server log"));
            return;
          }
          if (auto* p = std::get_if<Problem>(&result)) {
            respond(problem_response(*shell, *p));
            return;
          }
          const auto& created = std::get<SubscriptionPtr>(result);
          http::Response r = json_response(created->json, 201);
          r.set_header("Location", shell->path + "/" + created->record.id);
          respond(std::move(r));
        });
      };
      if (!cfg->subscriptions.verify_callback) {
        create();
        return;
      }
      verify_callback(*ev.client, callback, cfg->subscriptions.verify_timeout,
                      [shell, respond, create](std::optional<std::string> why) {
                        if (why) {
                          respond(problem_response(*shell, 400, *why));
                        } else {
                          create();
                        }
                      });
    });

    router.add_async(Method::del, base + "/{" + param + "}",
                     [service, ev, kind, cfg](const http::Request& req, const PathParams& p, Responder respond) {
                       std::string id = p.get(kind->id_attribute);
                       if (!is_uuid(id)) {
                         respond(problem_response(req, 400, kind->id_attribute + " '" + id + "' is not a valid UUID"));
                         return;
                       }
                       // Another tenant's subscription answers as if it did not exist.
                       auto existing = service->find(lower(id));
                       if (existing && !visible(*existing, tenant_scope(req, *cfg))) {
                         respond(problem_response(req, 404, "no subscription with " + kind->id_attribute + " " + id));
                         return;
                       }
                       auto shell = std::make_shared<http::Request>();
                       shell->path = req.path;
                       shell->request_id = req.request_id;
                       ev.loop->post([service, shell, respond, kind, id = lower(id)] {
                         bool removed = false;
                         try {
                           removed = service->remove(id);
                         } catch (const std::exception& e) {
                           spdlog::error("deleting subscription {} failed: {}", id, e.what());
                           respond(problem_response(*shell, 500, "the subscription could not be deleted; see the server log"));
                           return;
                         }
                         if (!removed) {
                           respond(problem_response(*shell, 404, "no subscription with " + kind->id_attribute + " " + id));
                           return;
                         }
                         http::Response r;
                         r.status = 200;
                         respond(std::move(r));
                       });
                     });
  }
}

void register_subscriptions_api(Router& router, const ApiContext& ctx, const EventsApiContext& ev) {
  using http::Method;
  const std::string root(kInventoryApiRoot);
  for (const char* major : {"v1", "v2"}) {
    SubscriptionRoutes kind;
    kind.base = root + "/" + major + "/subscriptions";
    kind.id_attribute = "subscriptionId";
    kind.object_name = "a Subscription";
    kind.service = ev.inventory_subscriptions;
    kind.schema = &subscription_schema();
    kind.duplicate_status = 400;
    register_subscription_routes(router, ctx, ev, kind);
  }

  // Admin: the dead-letter list and its replay.
  router.add_async(Method::get, "/admin/v1/deadLetters", [ev](const http::Request& req, const PathParams&,
                                                              Responder respond) {
    std::size_t limit = 1000;
    std::string text;
    if (req.query_param("limit", text)) {
      char* end = nullptr;
      unsigned long v = std::strtoul(text.c_str(), &end, 10);
      if (text.empty() || end == nullptr || *end != '\0' || v == 0 || v > 100000) {
        respond(problem_response(req, 400, "limit must be an integer from 1 to 100000"));
        return;
      }
      limit = v;
    }
    auto shell = std::make_shared<http::Request>();
    shell->path = req.path;
    shell->request_id = req.request_id;
    ev.loop->post([ev, shell, respond, limit] {
      try {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& d : ev.store->dead_letters(limit)) {
          out.push_back({{"notificationId", d.entry.notification_id},
                         {"subscriptionId", d.entry.subscription_id},
                         {"eventSeq", d.entry.event_seq},
                         {"attempts", d.entry.attempts},
                         {"enqueuedMs", d.entry.enqueued_ms},
                         {"deadMs", d.dead_ms},
                         {"lastStatus", d.last_status},
                         {"reason", d.reason}});
        }
        respond(json_response(out.dump()));
      } catch (const std::exception& e) {
        spdlog::error("listing dead letters failed: {}", e.what());
        respond(problem_response(*shell, 500, "the dead letters could not be read; see the server log"));
      }
    });
  });

  router.add_async(Method::post, "/admin/v1/deadLetters/replay", [ev](const http::Request& req, const PathParams&,
                                                                      Responder respond) {
    std::vector<std::string> ids;
    if (!req.body.empty()) {
      nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      bool ok = body.is_object() && body.size() == 1 && body.contains("notificationIds") &&
                body["notificationIds"].is_array();
      if (ok) {
        for (const auto& v : body["notificationIds"]) {
          if (!v.is_string() || !is_uuid(v.get<std::string>())) {
            ok = false;
            break;
          }
          ids.push_back(lower(v.get<std::string>()));
        }
      }
      if (!ok) {
        respond(problem_response(
            req, 400, "the body must be {\"notificationIds\": [<uuid>, ...]}, or empty to replay every dead letter"));
        return;
      }
    }
    auto shell = std::make_shared<http::Request>();
    shell->path = req.path;
    shell->request_id = req.request_id;
    ev.deliverer->replay_async(std::move(ids), [shell, respond](std::optional<std::size_t> n) {
      if (!n) {
        respond(problem_response(*shell, 500, "the replay failed; see the server log"));
        return;
      }
      respond(json_response(nlohmann::json{{"replayed", *n}}.dump()));
    });
  });
}

}  // namespace o2gw
