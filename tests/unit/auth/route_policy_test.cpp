// The route access table and the deployment-manager credential rule.
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "o2gw/auth.hpp"
#include "o2gw/security.hpp"

namespace o2gw {
namespace {

using http::Method;

TEST(RouteAccess, ProbesAndTheApiDocumentAreAnonymous) {
  for (const char* r : {"/healthz", "/readyz", "/openapi.yaml"}) {
    EXPECT_TRUE(route_access(Method::get, r).anonymous) << r;
  }
  EXPECT_FALSE(route_access(Method::get, "/metrics").anonymous);
}

TEST(RouteAccess, ReadsAcceptAnyRoleWritesNeedTheirOwn) {
  auto inv = route_access(Method::get, "/o2ims-infrastructureInventory/v1/resourcePools");
  EXPECT_TRUE(inv.roles.has(Role::reader));
  EXPECT_TRUE(inv.roles.has(Role::deployer));
  EXPECT_EQ(inv.rate_class, RouteClass::read);

  auto sub = route_access(Method::post, "/o2ims-infrastructureInventory/v1/subscriptions");
  EXPECT_EQ(sub.roles.str(), "subscriber");
  EXPECT_EQ(sub.rate_class, RouteClass::write);
  // Subscriptions are not readable by a plain reader (their callbacks are the subscriber's business).
  EXPECT_EQ(route_access(Method::get, "/o2ims-infrastructureMonitoring/v1/alarmSubscriptions").roles.str(),
            "subscriber");

  EXPECT_EQ(route_access(Method::patch, "/o2ims-infrastructureMonitoring/v1/alarms/{alarmEventRecordId}").roles.str(),
            "maintainer");
  EXPECT_EQ(route_access(Method::put, "/o2ims-infrastructureMonitoring/v1/alarmServiceConfiguration").roles.str(),
            "maintainer");
  EXPECT_EQ(route_access(Method::post, "/internal/v1/alertmanager").roles.str(), "maintainer");
  EXPECT_EQ(route_access(Method::post, "/o2dms-deploymentManagers/v1/x").roles.str(), "deployer");
}

TEST(RouteAccess, AdminAreaAndUnknownRoutesAreAdminOnly) {
  auto admin = route_access(Method::post, "/admin/v1/deadLetters/replay");
  EXPECT_EQ(admin.roles.str(), "admin");
  EXPECT_EQ(admin.rate_class, RouteClass::admin);
  // Fail closed: a template nobody classified.
  EXPECT_EQ(route_access(Method::post, "/something/new").roles.str(), "admin");
  EXPECT_EQ(route_access(Method::post, "/o2ims-infrastructureInventory/v1/somethingNew").roles.str(), "admin");
}

TEST(Roles, NamesRoundTripAndUnknownNamesAreConfigErrors) {
  for (std::size_t i = 0; i < kRoleCount; ++i) {
    auto r = static_cast<Role>(i);
    EXPECT_EQ(parse_role(role_name(r)), r);
  }
  EXPECT_FALSE(parse_role("Admin").has_value());
  EXPECT_EQ(parse_roles({"admin", "reader"}, "k").str(), "reader,admin");
  EXPECT_THROW(parse_roles({"root"}, "auth.api_tokens[0].roles"), ConfigError);
}

http::Request with_roles(RoleSet roles) {
  http::Request req;
  auto p = std::make_shared<Principal>();
  p->roles = roles;
  req.principal = p;
  return req;
}

TEST(Credentials, OnlyDeployersAndAdminsSeeThem) {
  EXPECT_TRUE(may_see_credentials(http::Request{}));  // authentication off
  EXPECT_TRUE(may_see_credentials(with_roles({Role::deployer})));
  EXPECT_TRUE(may_see_credentials(with_roles({Role::admin})));
  EXPECT_FALSE(may_see_credentials(with_roles({Role::reader, Role::subscriber, Role::maintainer, Role::provisioner})));
}

TEST(Credentials, RedactionBlanksSecretsAndKeepsTheRest) {
  nlohmann::json dm = {{"name", "c"},
                       {"extensions",
                        {{"profileName", "native_k8sapi"},
                         {"profileData",
                          {{"cluster_api_endpoint", "https://k"},
                           {"cluster_ca_cert", "CA"},
                           {"admin_user", "admin"},
                           {"admin_client_cert", "CERT"},
                           {"admin_client_key", "KEY"},
                           {"admin_token", "TOKEN"},
                           {"password", "P"}}}}}};
  redact_credentials(dm);
  const auto& p = dm["extensions"]["profileData"];
  EXPECT_EQ(p["cluster_api_endpoint"], "https://k");
  EXPECT_EQ(p["cluster_ca_cert"], "CA");
  EXPECT_EQ(p["admin_user"], "admin");
  EXPECT_EQ(p["admin_client_cert"], "");
  EXPECT_EQ(p["admin_client_key"], "");
  EXPECT_EQ(p["admin_token"], "");
  EXPECT_EQ(p["password"], "");
  // Not a deployment manager with profileData: untouched.
  nlohmann::json other = {{"extensions", {{"token", "x"}}}};
  redact_credentials(other);
  EXPECT_EQ(other["extensions"]["token"], "x");
}

}  // namespace
}  // namespace o2gw
