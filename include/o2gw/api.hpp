// Route registration for each API family. Handlers read from the inventory
// cache and the registry; they never call a back end.
#pragma once

#include <atomic>
#include <string>

#include "o2gw/config.hpp"
#include "o2gw/router.hpp"

namespace o2gw {

class InventoryCache;
class Registry;
class Metrics;
class Pager;

struct ApiContext {
  const Config* config = nullptr;
  InventoryCache* inventory = nullptr;
  Registry* registry = nullptr;
  Metrics* metrics = nullptr;
  const std::atomic<bool>* shutting_down = nullptr;
  const Pager* pager = nullptr;  // signs and checks paging markers for every list
};

inline constexpr std::string_view kInventoryApiRoot = "/o2ims-infrastructureInventory";

void register_inventory_api(Router& router, const ApiContext& ctx);
void register_admin_api(Router& router, const ApiContext& ctx);

// The OpenAPI document (api/o2gw.openapi.yaml), embedded at build time.
std::string_view openapi_document();

}  // namespace o2gw
