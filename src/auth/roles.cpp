// Role names and sets: the vocabulary shared by configuration, the
// authenticator and the route access table.
#include <array>

#include "o2gw/auth.hpp"

namespace o2gw {

namespace {
constexpr std::array<std::string_view, kRoleCount> kRoleNames{"reader",   "subscriber",  "maintainer",
                                                              "deployer", "provisioner", "admin"};
}  // namespace

std::string_view role_name(Role r) { return kRoleNames[static_cast<std::size_t>(r)]; }

std::optional<Role> parse_role(std::string_view name) {
  for (std::size_t i = 0; i < kRoleNames.size(); ++i) {
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  }
  return std::nullopt;
}

std::string RoleSet::str() const {
  std::string out;
  for (std::size_t i = 0; i < kRoleCount; ++i) {
    if (!has(static_cast<Role>(i))) continue;
    if (!out.empty()) out += ',';
    out += kRoleNames[i];
  }
  return out;
}

RoleSet parse_roles(const std::vector<std::string>& names, const std::string& key) {
  RoleSet set;
  for (const auto& n : names) {
    auto r = parse_role(n);
    if (!r) {
      throw ConfigError(key, "unknown role '" + n +
                                 "' (one of reader, subscriber, maintainer, deployer, provisioner, admin)");
    }
    set.add(*r);
  }
  return set;
}

std::string_view Principal::method_name() const {
  switch (method) {
    case Method::jwt:
      return "jwt";
    case Method::api_token:
      return "api_token";
    case Method::client_certificate:
      return "client_certificate";
    case Method::trusted_proxy:
      return "trusted_proxy";
  }
  return "unknown";
}

}  // namespace o2gw
