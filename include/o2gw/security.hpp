// The security gate: runs before the router for every request on the API
// listener. Order: authentication (401 before anything else looks at the
// request) -> rate limit (per identity, or per peer address when anonymous) ->
// authorization (the route's roles; 403) -> the handler. Failures and mutating
// requests go to the audit log.
#pragma once

#include <functional>
#include <string_view>

#include "o2gw/auth.hpp"
#include "o2gw/config.hpp"
#include "o2gw/http.hpp"
#include "o2gw/rate_limit.hpp"
#include "o2gw/router.hpp"

namespace o2gw {

class AuditLog;
class Metrics;

// What a route requires: any one of `roles` (admin always passes), or nothing.
struct RouteAccess {
  bool anonymous = false;
  RoleSet roles;
  RouteClass rate_class = RouteClass::read;
};

// The access table: every (method, route template) the gateway serves maps to
// its RouteAccess. Unknown templates need admin (fail closed).
RouteAccess route_access(http::Method method, std::string_view route_template);

// True when the principal may see deployment-manager credentials (profileData secrets).
bool may_see_credentials(const http::Request& req);
// Blanks the credential fields of a deploymentManager's extensions.profileData
// (tokens, keys, client certificates, passwords) in place.
void redact_credentials(nlohmann::json& deployment_manager);

class SecurityGate {
 public:
  struct Deps {
    const Router* router = nullptr;
    Authenticator* authenticator = nullptr;  // null: authentication disabled
    RateLimiter* limiter = nullptr;          // null: no rate limiting
    AuditLog* audit = nullptr;               // null: no audit log
    Metrics* metrics = nullptr;
  };
  SecurityGate(Deps deps, const AuthConfig& cfg);

  // The ServerHooks::handle of the API listener. Mutating requests are
  // audited when their response is ready; refusals when they are made.
  void handle(http::Request& req, std::function<void(http::Response)> respond);

 private:
  void after_authentication(http::Request& req, AuthOutcome outcome, std::function<void(http::Response)> respond);
  void refuse(const http::Request& req, http::Response res, std::string_view outcome, std::string_view reason,
              const std::function<void(http::Response)>& respond);
  void dispatch(http::Request& req, Router::Match m, std::function<void(http::Response)> respond);
  Deps deps_;
  AuthConfig cfg_;
};

}  // namespace o2gw
