// The route access table: which roles each (method, route template) needs, and
// which rate-limit class it falls in. One table, read top to bottom, so a
// reviewer sees the whole policy at once; anything it does not name needs admin.
#include <nlohmann/json.hpp>

#include "o2gw/auth.hpp"
#include "o2gw/security.hpp"

namespace o2gw {

namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

constexpr RoleSet kAnyRole{Role::reader,   Role::subscriber,  Role::maintainer,
                           Role::deployer, Role::provisioner, Role::admin};

}  // namespace

RouteAccess route_access(http::Method method, std::string_view route) {
  const bool read = method == http::Method::get || method == http::Method::head;
  const RouteClass cls = read ? RouteClass::read : RouteClass::write;
  // Public by nature: probes and the API description.
  if (route == "/healthz" || route == "/readyz" || route == "/openapi.yaml") {
    return {.anonymous = true, .roles = {}, .rate_class = RouteClass::read};
  }
  // Metrics name subscriptions and adapters: admin on the API listener (scrape the ops listener instead).
  if (route == "/metrics" || route.starts_with("/admin/")) {
    return {.anonymous = false, .roles = {Role::admin}, .rate_class = RouteClass::admin};
  }
  // Alertmanager posting alerts raises alarms: a maintainer's act.
  if (route.starts_with("/internal/v1/alertmanager")) {
    return {.anonymous = false, .roles = {Role::maintainer}, .rate_class = RouteClass::write};
  }
  if (route.starts_with("/o2ims-infrastructureInventory/") || route.starts_with("/o2ims-infrastructureMonitoring/")) {
    // Subscriptions (inventory and alarm): seeing or changing them is the subscriber's business.
    if (contains(route, "/subscriptions") || contains(route, "/alarmSubscriptions")) {
      return {.anonymous = false, .roles = {Role::subscriber}, .rate_class = cls};
    }
    if (read) return {.anonymous = false, .roles = kAnyRole, .rate_class = cls};
    // Acknowledging or clearing alarms and the alarm service configuration.
    if (contains(route, "/alarms") || contains(route, "/alarmServiceConfiguration")) {
      return {.anonymous = false, .roles = {Role::maintainer}, .rate_class = cls};
    }
  }
  if (route.starts_with("/o2dms-")) {
    if (read) return {.anonymous = false, .roles = kAnyRole, .rate_class = cls};
    return {.anonymous = false, .roles = {Role::deployer}, .rate_class = cls};
  }
  // Fail closed: a route nobody classified is admin-only.
  return {.anonymous = false, .roles = {Role::admin}, .rate_class = read ? RouteClass::read : RouteClass::admin};
}

bool may_see_credentials(const http::Request& req) {
  if (!req.principal) return true;  // authentication off: the adapter's expose_credentials decides
  return req.principal->roles.has(Role::deployer) || req.principal->roles.has(Role::admin);
}

namespace {

bool credential_field(std::string_view name) {
  for (std::string_view marker : {"token", "key", "password", "secret", "client_cert", "credential"}) {
    if (contains(name, marker)) return true;
  }
  return false;
}

}  // namespace

void redact_credentials(nlohmann::json& dm) {
  if (!dm.is_object()) return;
  auto ext = dm.find("extensions");
  if (ext == dm.end() || !ext->is_object()) return;
  auto profile = ext->find("profileData");
  if (profile == ext->end() || !profile->is_object()) return;
  for (auto& [name, value] : profile->items()) {
    // Blanked, not removed: the conformance schema lists the fields.
    if (credential_field(name) && !(value.is_string() && value.get_ref<const std::string&>().empty())) value = "";
  }
}

}  // namespace o2gw
