// A minimal inventory file for tests that drive the file adapter: one location,
// site, resource type and pool ("pool"), and one resource per (key, description).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace o2gw::test {

inline std::string lab_inventory_yaml(const std::vector<std::pair<std::string, std::string>>& resources) {
  std::string out =
      "version: 1\n"
      "locations:\n"
      "  - globalLocationId: lab-1\n"
      "    name: Lab\n"
      "    address: Building 4\n"
      "sites:\n"
      "  - key: lab\n"
      "    location: lab-1\n"
      "    name: Lab site\n"
      "resourceTypes:\n"
      "  - key: server\n"
      "    name: Server\n"
      "    vendor: Acme\n"
      "    model: S1\n"
      "    version: \"1\"\n"
      "    resourceKind: PHYSICAL\n"
      "    resourceClass: COMPUTE\n"
      "resourcePools:\n"
      "  - key: pool\n"
      "    site: lab\n"
      "    name: Pool\n"
      "resources:\n";
  for (const auto& [key, description] : resources) {
    nlohmann::json quoted = description;  // a JSON string is a valid YAML double-quoted scalar
    out += "  - key: " + key + "\n    pool: pool\n    type: server\n    description: " + quoted.dump() + "\n";
  }
  return out;
}

}  // namespace o2gw::test
