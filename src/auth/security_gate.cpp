// The gate in front of the router: authentication, rate limiting,
// authorization and the audit trail, in that order, for every API request.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "o2gw/audit.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/security.hpp"

namespace o2gw {

namespace {

bool mutating(http::Method m) {
  return m == http::Method::post || m == http::Method::put || m == http::Method::patch ||
         m == http::Method::del || m == http::Method::other;
}

// RFC 6750 §3: the challenge names the error only when credentials were presented.
std::string challenge(const AuthOutcome* failure) {
  std::string h = "Bearer realm=\"o2gw\"";
  if (failure != nullptr && !failure->error.empty()) {
    h += ", error=\"" + failure->error + "\"";
    std::string desc;
    for (char c : failure->detail) {
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) desc += c;  // quoted-string safe
    }
    h += ", error_description=\"" + desc + "\"";
  }
  return h;
}

AuditRecord audit_base(const http::Request& req) {
  AuditRecord r;
  r.request_id = req.request_id;
  if (req.principal) {
    r.subject = req.principal->subject;
    r.auth_method = std::string(req.principal->method_name());
    r.roles = req.principal->roles.str();
    r.tenant = req.principal->tenant;
  }
  if (req.conn) r.peer = req.conn->peer_ip;
  r.method = req.method_text;
  r.path = req.path;
  return r;
}

std::string rate_identity(const http::Request& req) {
  if (req.principal) return std::string(req.principal->method_name()) + ":" + req.principal->subject;
  return "peer:" + (req.conn ? req.conn->peer_ip : std::string());
}

}  // namespace

SecurityGate::SecurityGate(Deps deps, const AuthConfig& cfg) : deps_(deps), cfg_(cfg) {}

void SecurityGate::refuse(const http::Request& req, http::Response res, std::string_view outcome,
                          std::string_view reason, const std::function<void(http::Response)>& respond) {
  if (deps_.audit != nullptr) {
    AuditRecord r = audit_base(req);
    r.route = std::string(res.route);
    r.status = res.status;
    r.outcome = std::string(outcome);
    r.reason = std::string(reason);
    deps_.audit->record(std::move(r));
  }
  respond(std::move(res));
}

void SecurityGate::handle(http::Request& req, std::function<void(http::Response)> respond) {
  if (deps_.authenticator == nullptr ||
      std::find(cfg_.anonymous_paths.begin(), cfg_.anonymous_paths.end(), req.path) != cfg_.anonymous_paths.end()) {
    after_authentication(req, AuthOutcome{}, std::move(respond));
    return;
  }
  // The request outlives the authenticator's callback: the session keeps it until `respond` runs.
  deps_.authenticator->authenticate(req, [this, &req, respond = std::move(respond)](AuthOutcome outcome) mutable {
    after_authentication(req, std::move(outcome), std::move(respond));
  });
}

void SecurityGate::after_authentication(http::Request& req, AuthOutcome outcome,
                                        std::function<void(http::Response)> respond) {
  if (outcome.kind == AuthOutcome::Kind::failed) {
    // Refused credentials still cost the peer's unauthenticated budget, so guessing is slow.
    if (deps_.limiter != nullptr) {
      RateDecision d = deps_.limiter->take(rate_identity(req), RouteClass::unauthenticated);
      if (!d.allowed) {
        http::Response res = problem_response(req, 429, "too many requests with refused credentials; retry later");
        add_rate_limit_headers(d, res);
        refuse(req, std::move(res), "rate_limited", "unauthenticated", respond);
        return;
      }
    }
    http::Response res = problem_response(req, outcome.status, outcome.detail);
    res.set_header("WWW-Authenticate", challenge(&outcome));
    refuse(req, std::move(res), "unauthenticated", outcome.reason, respond);
    return;
  }
  if (outcome.kind == AuthOutcome::Kind::authenticated) req.principal = std::move(outcome.principal);

  Router::Match m = deps_.router->match(req.method, req.path);
  RouteAccess access = m.outcome == Router::Outcome::not_found ? RouteAccess{.anonymous = false, .roles = {}, .rate_class = RouteClass::read}
                                                                : route_access(req.method, m.route);
  const bool anonymous_path = deps_.authenticator == nullptr ||
                              std::find(cfg_.anonymous_paths.begin(), cfg_.anonymous_paths.end(), req.path) !=
                                  cfg_.anonymous_paths.end();
  if (deps_.authenticator != nullptr && !req.principal && !anonymous_path && !access.anonymous) {
    if (deps_.metrics != nullptr) deps_.metrics->count_auth_failure("missing");
    http::Response res =
        problem_response(req, 401, "authentication required: send a bearer token in the Authorization header");
    res.set_header("WWW-Authenticate", challenge(nullptr));
    refuse(req, std::move(res), "unauthenticated", "missing", respond);
    return;
  }

  RateDecision decision;
  bool limited = false;
  if (deps_.limiter != nullptr) {
    RouteClass cls = req.principal ? access.rate_class : RouteClass::unauthenticated;
    decision = deps_.limiter->take(rate_identity(req), cls);
    limited = decision.limit > 0;
    if (!decision.allowed) {
      http::Response res = problem_response(req, 429, "rate limit exceeded for " + std::string(route_class_name(cls)) +
                                                          " requests; retry after the time in Retry-After");
      add_rate_limit_headers(decision, res);
      res.route = m.route.empty() ? std::string_view("unmatched") : m.route;
      refuse(req, std::move(res), "rate_limited", route_class_name(cls), respond);
      return;
    }
  }

  // Authorization: only with authentication on, and only for routes that exist (404/405 are not secrets).
  if (deps_.authenticator != nullptr && req.principal && m.outcome == Router::Outcome::matched &&
      !access.anonymous && !req.principal->roles.has(Role::admin) && !req.principal->roles.intersects(access.roles)) {
    if (deps_.metrics != nullptr) deps_.metrics->count_forbidden();
    std::string have = req.principal->roles.str();
    http::Response res = problem_response(
        req, 403, "this operation needs one of the roles " + access.roles.str() + "; the caller has " +
                      (have.empty() ? std::string("none") : have));
    res.route = m.route;
    refuse(req, std::move(res), "forbidden", "role", respond);
    return;
  }

  if (limited) {
    respond = [decision, respond = std::move(respond)](http::Response r) {
      add_rate_limit_headers(decision, r);
      respond(std::move(r));
    };
  }
  if (deps_.audit != nullptr && mutating(req.method)) {
    respond = [this, rec = audit_base(req), respond = std::move(respond)](http::Response r) mutable {
      rec.time = std::chrono::system_clock::now();
      rec.route = std::string(r.route);
      rec.status = r.status;
      rec.outcome = "allowed";
      deps_.audit->record(std::move(rec));
      respond(std::move(r));
    };
  }
  dispatch(req, std::move(m), std::move(respond));
}

void SecurityGate::dispatch(http::Request& req, Router::Match m, std::function<void(http::Response)> respond) {
  deps_.router->dispatch_matched(req, std::move(m), std::move(respond));
}

}  // namespace o2gw
