// Prometheus metrics (prometheus-cpp stays inside metrics.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace o2gw {

struct Change;
struct AdapterState;
enum class Kind;

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // `route` must outlive the process (router templates and literals do).
  void observe_request(std::string_view route, std::string_view method, int status, double seconds);
  void add_in_flight(int delta);
  void count_change(const Change& c);
  // Webhook delivery: outcome is enqueued, delivered, retried, failed or dead_lettered.
  void count_notifications(std::string_view outcome, double n = 1);
  void set_outbox_depth(const std::string& subscription_id, double n);
  void remove_outbox_depth(const std::string& subscription_id);
  void observe_delivery_latency(double seconds);
  void count_rejected_connection_request(std::string_view reason);  // 400/413/431 before routing
  void set_inventory_count(Kind kind, double n);
  void set_inventory_conflicts(double n);
  void set_adapter_states(const std::vector<AdapterState>& states);
  void set_ready(bool ready);
  // Alarm events: "raised", "changed", "cleared", "acknowledged"; and the active alarms.
  void count_alarm(std::string_view event);
  void set_active_alarms(double n);
  // Security: refused credentials by reason ("expired", "bad_signature", ...),
  // 403s, 429s by route class, rate-limit buckets held, audit records dropped,
  // TLS events ("reload_ok", "reload_failed", "handshake_failed", ...) and JWKS
  // refreshes by outcome ("ok", "failed").
  void count_auth_failure(std::string_view reason);
  void count_forbidden();
  void count_rate_limited(std::string_view route_class);
  void set_rate_limit_buckets(double n);
  void count_audit_dropped();
  void count_tls_event(std::string_view event);
  void count_jwks_refresh(std::string_view outcome);

  // Runs before each scrape to refresh gauges that are cheaper to read than to track.
  void set_collect_hook(std::function<void()> hook);
  [[nodiscard]] std::string render();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace o2gw
