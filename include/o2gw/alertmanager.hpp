// Prometheus Alertmanager webhook receiver (POST /internal/v1/alertmanager).
//
// Alertmanager posts its webhook payload (version "4") for every group
// notification. Firing alerts become alarms of source "alertmanager" keyed by
// the alert's fingerprint; resolved ones clear them. The parser is pure (text
// in, alerts out) so the unit tests and the fuzzer share it; the route needs
// only the Router, so it lives beside the parser in o2gw_core.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "o2gw/alarms.hpp"
#include "o2gw/config.hpp"
#include "o2gw/router.hpp"

namespace o2gw {

class InventoryCache;
class Metrics;

inline constexpr std::string_view kAlertmanagerReceiverPath = "/internal/v1/alertmanager";
inline constexpr std::string_view kAlertmanagerSource = "alertmanager";

// Bounds on one payload, so an oversized or hostile body is rejected before it
// costs more than its parse.
struct AlertmanagerLimits {
  std::size_t max_alerts = 10'000;
  std::size_t max_labels = 128;        // per map (labels, annotations)
  std::size_t max_string = 16 * 1024;  // any one string
};

struct AlertmanagerAlert {
  bool firing = true;  // status "firing" (false: "resolved")
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;  // RFC 3339, as sent
  std::string ends_at;
  std::string generator_url;
  std::string fingerprint;  // Alertmanager's, or a stable hash of the labels when absent
};

struct AlertmanagerPayload {
  std::string receiver;
  std::string group_key;
  bool firing = true;
  std::vector<AlertmanagerAlert> alerts;
};

// Parses and validates a webhook body. On failure, a one-line public reason
// ("alerts[3].labels.severity: must be a string").
std::variant<AlertmanagerPayload, std::string> parse_alertmanager_payload(std::string_view body,
                                                                          const AlertmanagerLimits& limits = {});

// Stable 16-hex-digit hash of a label set (the key when an alert has no fingerprint).
std::string alertmanager_label_fingerprint(const std::map<std::string, std::string>& labels);

// An alert time (RFC 3339) -> time point; nullopt when malformed or Alertmanager's zero time
// (0001-01-01). Separate from alarms.hpp's parse_rfc3339 so the fuzz build (o2gw_core only) has it.
std::optional<std::chrono::system_clock::time_point> parse_alert_time(std::string_view text);

// Label value -> severity through config.severity_map (case-insensitive); unknown: indeterminate.
Severity map_alert_severity(const AlertmanagerConfig& config, std::string_view value);

// Finds the O2 resource an alert is about: the first of config.resource_labels
// present whose value is a resource id in the cache, or a resource's name
// (extensions.nodeName, extensions.name, globalAssetId; an "instance" value's
// host part without the port). The name index is built lazily under the
// cache's visit() and rebuilt at most every few seconds on a miss.
class AlertResourceResolver {
 public:
  AlertResourceResolver(const InventoryCache& cache, const AlertmanagerConfig& config);
  ~AlertResourceResolver();
  AlertResourceResolver(const AlertResourceResolver&) = delete;
  AlertResourceResolver& operator=(const AlertResourceResolver&) = delete;

  // The resource id, or empty when no label resolves.
  [[nodiscard]] std::string resolve(const std::map<std::string, std::string>& labels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct AlertmanagerOutcome {
  std::size_t raised = 0;
  std::size_t cleared = 0;
  std::size_t unmapped = 0;
};

// Applies a parsed payload to the sink. Unmapped alerts (no resource, or a
// rejection from raise) are counted and logged once per key.
class AlertmanagerReceiver {
 public:
  AlertmanagerReceiver(AlarmSink& sink, const InventoryCache& cache, AlertmanagerConfig config);
  ~AlertmanagerReceiver();
  AlertmanagerReceiver(const AlertmanagerReceiver&) = delete;
  AlertmanagerReceiver& operator=(const AlertmanagerReceiver&) = delete;

  AlertmanagerOutcome apply(const AlertmanagerPayload& payload);
  // The report a firing alert becomes, or nullopt when its resource is unknown.
  std::optional<AlarmReport> to_report(const AlertmanagerAlert& alert, const std::string& receiver);
  [[nodiscard]] const AlertmanagerConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs work off the I/O threads (main passes the delivery EventLoop's post).
using WorkPoster = std::function<void(std::function<void()>)>;

// POST /internal/v1/alertmanager: 200 {"raised","cleared","unmapped"}; 400 for a
// bad payload, 401 (WWW-Authenticate: Bearer) when a token is configured and the
// request lacks it, 415 for a non-JSON content type. Does nothing when disabled.
// With `post_work`, the sink is called there (it writes the store) and the route
// answers asynchronously; without, on the I/O thread. The sink and the cache
// must outlive the router.
void register_alertmanager_receiver(Router& router, AlarmSink& sink, const InventoryCache& cache,
                                    const AlertmanagerConfig& config, Metrics* metrics = nullptr,
                                    WorkPoster post_work = {});

}  // namespace o2gw
