#include "o2gw/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"

namespace o2gw {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("o2gw_http_requests_total")
          .Help("HTTP requests by route template, method and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("o2gw_http_request_duration_seconds")
          .Help("Time from a complete request to its response being handed to the socket")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& in_flight_family =
      prometheus::BuildGauge().Name("o2gw_http_requests_in_flight").Help("Requests being handled").Register(*registry);
  prometheus::Gauge& in_flight = in_flight_family.Add({});
  prometheus::Family<prometheus::Counter>& rejected =
      prometheus::BuildCounter()
          .Name("o2gw_http_rejected_requests_total")
          .Help("Requests rejected before routing (malformed, too large, timed out)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& changes =
      prometheus::BuildCounter()
          .Name("o2gw_inventory_changes_total")
          .Help("Inventory change events by object kind and change type")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& objects =
      prometheus::BuildGauge().Name("o2gw_inventory_objects").Help("Objects in the inventory cache").Register(*registry);
  prometheus::Family<prometheus::Gauge>& conflicts_family =
      prometheus::BuildGauge()
          .Name("o2gw_inventory_conflicts")
          .Help("Objects skipped because another adapter instance already owns their id")
          .Register(*registry);
  prometheus::Gauge& conflicts = conflicts_family.Add({});
  prometheus::Family<prometheus::Gauge>& adapter_up =
      prometheus::BuildGauge()
          .Name("o2gw_adapter_up")
          .Help("1 when the adapter instance is active and healthy")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& adapter_status =
      prometheus::BuildGauge()
          .Name("o2gw_adapter_status")
          .Help("1 for the adapter instance's current status label")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& ready_family =
      prometheus::BuildGauge().Name("o2gw_ready").Help("1 when /readyz answers 200").Register(*registry);
  prometheus::Gauge& ready = ready_family.Add({});

  prometheus::Family<prometheus::Counter>& alarm_events =
      prometheus::BuildCounter()
          .Name("o2gw_alarm_events_total")
          .Help("Alarm events by type: raised, changed, cleared, acknowledged")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& active_alarms_family =
      prometheus::BuildGauge().Name("o2gw_alarms_active").Help("Alarms raised and not cleared").Register(*registry);
  prometheus::Gauge& active_alarms = active_alarms_family.Add({});

  prometheus::Family<prometheus::Counter>& auth_failures =
      prometheus::BuildCounter()
          .Name("o2gw_auth_failures_total")
          .Help("Requests refused by authentication (401/400), by reason")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& forbidden_family =
      prometheus::BuildCounter()
          .Name("o2gw_authz_denied_total")
          .Help("Requests refused by authorization (403)")
          .Register(*registry);
  prometheus::Counter& forbidden = forbidden_family.Add({});
  prometheus::Family<prometheus::Counter>& rate_limited =
      prometheus::BuildCounter()
          .Name("o2gw_rate_limited_total")
          .Help("Requests refused by the rate limiter (429), by route class")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& rate_buckets_family =
      prometheus::BuildGauge()
          .Name("o2gw_rate_limit_buckets")
          .Help("Token buckets held by the rate limiter")
          .Register(*registry);
  prometheus::Gauge& rate_buckets = rate_buckets_family.Add({});
  prometheus::Family<prometheus::Counter>& audit_dropped_family =
      prometheus::BuildCounter()
          .Name("o2gw_audit_dropped_total")
          .Help("Audit records dropped because the writer fell behind")
          .Register(*registry);
  prometheus::Counter& audit_dropped = audit_dropped_family.Add({});
  prometheus::Family<prometheus::Counter>& tls_events =
      prometheus::BuildCounter()
          .Name("o2gw_tls_events_total")
          .Help("TLS certificate reloads and handshake failures, by event")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& jwks_refreshes =
      prometheus::BuildCounter()
          .Name("o2gw_jwks_refreshes_total")
          .Help("JWKS loads by outcome")
          .Register(*registry);

  prometheus::Family<prometheus::Counter>& notifications =
      prometheus::BuildCounter()
          .Name("o2gw_notifications_total")
          .Help("Webhook notifications by outcome: enqueued, delivered, retried, failed (an attempt), dead_lettered")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& outbox_depth =
      prometheus::BuildGauge()
          .Name("o2gw_outbox_depth")
          .Help("Notifications waiting for delivery, per subscription")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& delivery_latency_family =
      prometheus::BuildHistogram()
          .Name("o2gw_notification_delivery_seconds")
          .Help("Time from the change to its notification's 2xx")
          .Register(*registry);
  prometheus::Histogram& delivery_latency = delivery_latency_family.Add(
      {}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                                  300, 3600});

  std::vector<std::pair<std::string_view, prometheus::Counter*>> notification_outcomes = [this] {
    std::vector<std::pair<std::string_view, prometheus::Counter*>> v;
    for (std::string_view o : {"enqueued", "delivered", "retried", "failed", "dead_lettered"}) {
      v.emplace_back(o, &notifications.Add({{"outcome", std::string(o)}}));
    }
    return v;
  }();

  std::mutex mu;  // guards Family::Add and the hook
  std::function<void()> hook;

  struct Series {
    prometheus::Counter* counter;
    prometheus::Histogram* histogram;
  };
  struct Key {
    const char* route;
    std::string_view method;
    int status;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.route) ^ (std::hash<std::string_view>()(k.method) * 31) ^
             static_cast<std::size_t>(k.status) * 131;
    }
  };
  std::unordered_map<Key, Series, KeyHash> series;

  // Identifies this instance in the per-thread caches (tests create several).
  inline static std::atomic<std::uint64_t> next_id{1};
  const std::uint64_t id = next_id++;

  // Per-thread cache in front of the shared map: the request path takes no lock
  // once a thread has seen a (route, method, status).
  Series lookup(std::string_view route, std::string_view method, int status) {
    thread_local std::uint64_t owner = 0;
    thread_local std::unordered_map<Key, Series, KeyHash> local;
    if (owner != id) {
      local.clear();
      owner = id;
    }
    Key key{route.data(), method, status};
    if (auto it = local.find(key); it != local.end()) return it->second;
    Series s = shared_lookup(key, route, method, status);
    local.emplace(key, s);
    return s;
  }

  Series& shared_lookup(const Key& key, std::string_view route, std::string_view method, int status) {
    std::lock_guard lock(mu);
    auto it = series.find(key);
    if (it != series.end()) return it->second;
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    std::string r(route);
    std::string m(method);
    Series s{&requests.Add({{"route", r}, {"method", m}, {"status", std::to_string(status)}}),
             &latency.Add({{"route", r}, {"method", m}}, kBuckets)};
    return series.emplace(key, s).first->second;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view route, std::string_view method, int status, double seconds) {
  auto s = impl_->lookup(route, method, status);
  s.counter->Increment();
  s.histogram->Observe(seconds);
}

void Metrics::add_in_flight(int delta) { impl_->in_flight.Increment(delta); }

void Metrics::count_notifications(std::string_view outcome, double n) {
  // The delivery loop counts every attempt: the known outcomes take no lock.
  for (const auto& [name, counter] : impl_->notification_outcomes) {
    if (name == outcome) {
      counter->Increment(n);
      return;
    }
  }
  std::lock_guard lock(impl_->mu);
  impl_->notifications.Add({{"outcome", std::string(outcome)}}).Increment(n);
}

void Metrics::count_alarm(std::string_view event) {
  std::lock_guard lock(impl_->mu);
  impl_->alarm_events.Add({{"event", std::string(event)}}).Increment();
}

void Metrics::set_active_alarms(double n) { impl_->active_alarms.Set(n); }

void Metrics::count_auth_failure(std::string_view reason) {
  std::lock_guard lock(impl_->mu);
  impl_->auth_failures.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::count_forbidden() { impl_->forbidden.Increment(); }

void Metrics::count_rate_limited(std::string_view route_class) {
  std::lock_guard lock(impl_->mu);
  impl_->rate_limited.Add({{"class", std::string(route_class)}}).Increment();
}

void Metrics::set_rate_limit_buckets(double n) { impl_->rate_buckets.Set(n); }

void Metrics::count_audit_dropped() { impl_->audit_dropped.Increment(); }

void Metrics::count_tls_event(std::string_view event) {
  std::lock_guard lock(impl_->mu);
  impl_->tls_events.Add({{"event", std::string(event)}}).Increment();
}

void Metrics::count_jwks_refresh(std::string_view outcome) {
  std::lock_guard lock(impl_->mu);
  impl_->jwks_refreshes.Add({{"outcome", std::string(outcome)}}).Increment();
}

void Metrics::set_outbox_depth(const std::string& subscription_id, double n) {
  std::lock_guard lock(impl_->mu);
  impl_->outbox_depth.Add({{"subscription", subscription_id}}).Set(n);
}

void Metrics::remove_outbox_depth(const std::string& subscription_id) {
  std::lock_guard lock(impl_->mu);
  auto& g = impl_->outbox_depth.Add({{"subscription", subscription_id}});
  impl_->outbox_depth.Remove(&g);
}

void Metrics::observe_delivery_latency(double seconds) { impl_->delivery_latency.Observe(seconds); }

void Metrics::count_change(const Change& c) {
  std::lock_guard lock(impl_->mu);
  impl_->changes.Add({{"kind", std::string(kind_name(c.kind))}, {"type", std::string(change_type_name(c.type))}})
      .Increment();
}

void Metrics::count_rejected_connection_request(std::string_view reason) {
  std::lock_guard lock(impl_->mu);
  impl_->rejected.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::set_inventory_count(Kind kind, double n) {
  std::lock_guard lock(impl_->mu);
  impl_->objects.Add({{"kind", std::string(kind_name(kind))}}).Set(n);
}

void Metrics::set_adapter_states(const std::vector<AdapterState>& states) {
  static constexpr AdapterStatus kAll[] = {AdapterStatus::starting, AdapterStatus::active, AdapterStatus::disabled,
                                           AdapterStatus::failed, AdapterStatus::unhealthy};
  std::lock_guard lock(impl_->mu);
  for (const auto& s : states) {
    std::map<std::string, std::string> labels{
        {"instance", s.name}, {"category", std::string(category_name(s.category))}, {"type", s.type}};
    impl_->adapter_up.Add(labels).Set(s.status == AdapterStatus::active ? 1 : 0);
    for (AdapterStatus st : kAll) {
      auto l = labels;
      l["status"] = std::string(status_name(st));
      impl_->adapter_status.Add(l).Set(s.status == st ? 1 : 0);
    }
  }
}

void Metrics::set_inventory_conflicts(double n) { impl_->conflicts.Set(n); }

void Metrics::set_ready(bool ready) { impl_->ready.Set(ready ? 1 : 0); }

void Metrics::set_collect_hook(std::function<void()> hook) {
  std::lock_guard lock(impl_->mu);
  impl_->hook = std::move(hook);
}

std::string Metrics::render() {
  std::function<void()> hook;
  {
    std::lock_guard lock(impl_->mu);
    hook = impl_->hook;
  }
  if (hook) hook();
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->registry->Collect());
}

}  // namespace o2gw
