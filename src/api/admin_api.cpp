// Operational endpoints: liveness, readiness (with adapter detail), metrics,
// the OpenAPI document and the registry's adapters.
#include <nlohmann/json.hpp>

#include <chrono>

#include "o2gw/api.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/registry.hpp"

namespace o2gw {

namespace {

nlohmann::json adapters_json(const Registry& registry) {
  auto arr = nlohmann::json::array();
  for (const auto& s : registry.states()) {
    nlohmann::json a = {{"name", s.name},
                        {"category", std::string(category_name(s.category))},
                        {"type", s.type},
                        {"priority", s.priority},
                        {"status", std::string(status_name(s.status))},
                        {"synced", s.synced}};
    if (!s.detail.empty()) a["detail"] = s.detail;
    if (s.last_check.time_since_epoch().count() != 0) {
      a["lastHealthCheck"] =
          std::chrono::duration_cast<std::chrono::seconds>(s.last_check.time_since_epoch()).count();
    }
    arr.push_back(std::move(a));
  }
  return arr;
}

}  // namespace

void register_admin_api(Router& router, const ApiContext& ctx) {
  using http::Method;
  Registry* registry = ctx.registry;
  Metrics* metrics = ctx.metrics;
  const std::atomic<bool>* stopping = ctx.shutting_down;

  router.add(Method::get, "/healthz", [](const http::Request&, const PathParams&) {
    http::Response r;
    r.body = R"({"status":"ok"})";
    return r;
  });

  router.add(Method::get, "/readyz", [registry, stopping, metrics](const http::Request& req, const PathParams&) {
    bool synced = registry->all_synced();
    bool draining = stopping->load();
    bool ready = synced && !draining;
    metrics->set_ready(ready);
    auto adapters = adapters_json(*registry);
    if (ready) {
      http::Response r;
      r.body = nlohmann::json{{"status", "ready"}, {"adapters", adapters}}.dump();
      return r;
    }
    http::Response r = problem_response(
        req, 503, draining ? "shutting down" : "waiting for the first sync of every enabled adapter");
    auto body = nlohmann::json::parse(r.body);
    body["adapters"] = std::move(adapters);
    r.body = body.dump();
    return r;
  });

  router.add(Method::get, "/metrics", [metrics](const http::Request&, const PathParams&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics->render();
    return r;
  });

  router.add(Method::get, "/openapi.yaml", [](const http::Request&, const PathParams&) {
    http::Response r;
    r.content_type = "application/yaml";
    r.body = std::string(openapi_document());
    return r;
  });

  router.add(Method::get, "/admin/v1/adapters", [registry](const http::Request&, const PathParams&) {
    http::Response r;
    r.body = adapters_json(*registry).dump();
    return r;
  });
}

}  // namespace o2gw
