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
class SubscriptionService;
class WebhookDeliverer;
class Store;
class CallbackGuard;
class AttributeSchema;
class AlarmService;
namespace net {
class EventLoop;
class HttpClient;
}  // namespace net

struct ApiContext {
  const Config* config = nullptr;
  InventoryCache* inventory = nullptr;
  Registry* registry = nullptr;
  Metrics* metrics = nullptr;
  const std::atomic<bool>* shutting_down = nullptr;
  const Pager* pager = nullptr;  // signs and checks paging markers for every list
};

inline constexpr std::string_view kInventoryApiRoot = "/o2ims-infrastructureInventory";

// What the subscription and dead-letter handlers need. Store work runs on `loop`
// (never on an I/O thread); handlers answer through their Responder.
struct EventsApiContext {
  SubscriptionService* inventory_subscriptions = nullptr;
  WebhookDeliverer* deliverer = nullptr;
  Store* store = nullptr;
  net::EventLoop* loop = nullptr;
  net::HttpClient* client = nullptr;  // for the optional callback check
  const CallbackGuard* guard = nullptr;
};

void register_inventory_api(Router& router, const ApiContext& ctx);
void register_admin_api(Router& router, const ApiContext& ctx);
// Inventory subscriptions under /v1 and /v2, and the admin dead-letter endpoints.
void register_subscriptions_api(Router& router, const ApiContext& ctx, const EventsApiContext& events);

// One family's subscription collection: POST, GET list, GET one, DELETE, with the
// shared body validation (callback, consumerSubscriptionId, filter) and store work.
struct SubscriptionRoutes {
  std::string base;          // ".../v1/subscriptions"
  std::string id_attribute;  // "subscriptionId", "alarmSubscriptionId"
  std::string object_name;   // for messages: "a Subscription", "AlarmSubscriptionInfo"
  SubscriptionService* service = nullptr;  // also compiles the filter
  const AttributeSchema* schema = nullptr;  // of the subscription object (list queries)
  int duplicate_status = 400;               // an identical subscription exists
};
void register_subscription_routes(Router& router, const ApiContext& ctx, const EventsApiContext& events,
                                  const SubscriptionRoutes& routes);

// O2-IMS infrastructure monitoring (/o2ims-infrastructureMonitoring): alarms, alarm
// subscriptions, the alarm service configuration and probable causes; and the
// admin purge (POST /admin/v1/alarms/purge).
struct MonitoringApiContext {
  AlarmService* alarms = nullptr;
  SubscriptionService* alarm_subscriptions = nullptr;
  net::EventLoop* loop = nullptr;  // store writes run here, never on an I/O thread
};
void register_monitoring_api(Router& router, const ApiContext& ctx, const EventsApiContext& events,
                             const MonitoringApiContext& monitoring);

// The O-Cloud's serviceUri: configured, or http://<listen address>:<port>; no trailing slash.
std::string service_uri(const Config& cfg);

// The OpenAPI document (api/o2gw.openapi.yaml), embedded at build time.
std::string_view openapi_document();

}  // namespace o2gw
