// Webhook delivery: per-subscription ordered queues over the durable outbox,
// retries with exponential backoff and full jitter, a circuit breaker per host,
// dead letters. Everything here runs on the delivery loop's single thread, so the
// state needs no locks; only stats are read from elsewhere.
#include <spdlog/spdlog.h>

#include <deque>
#include <future>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "o2gw/events.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/metrics.hpp"

namespace o2gw {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Item {
  OutboxEntry entry;
  std::shared_ptr<const EventRecord> event;
};

struct Queue {
  std::string id;
  std::string endpoint;  // "host:port" of the callback, the circuit breaker's key
  std::deque<Item> items;
  bool in_flight = false;
  bool waiting_slot = false;
  bool overflow = false;       // the store holds entries beyond those in memory
  std::int64_t last_seq = 0;   // newest event seq seen (in memory or left in the store)
  std::int64_t mem_tail = 0;   // event seq of the newest entry taken into memory
  net::EventLoop::Timer timer;  // waiting for the head's next attempt
};

struct Breaker {
  int failures = 0;
  std::int64_t open_until = 0;
  bool probing = false;  // half-open: one request is testing the host
  std::unordered_set<std::string> waiting;
  net::EventLoop::Timer timer;
};

struct HostProfile {
  net::TlsOptions tls;
  std::shared_ptr<net::OAuth2TokenSource> oauth;
};

enum class Verdict { delivered, retry, dead, gone };

}  // namespace

struct WebhookDeliverer::Impl : std::enable_shared_from_this<Impl> {
  Deps deps;
  DeliveryOptions opt;
  std::unordered_map<std::string, Queue> queues;
  std::unordered_map<std::string, Breaker> breakers;
  std::unordered_map<std::string, HostProfile> profiles;  // by "host:port" and by "host"
  std::deque<std::string> ready;                            // queues waiting for an in-flight slot
  std::size_t in_flight = 0;
  std::vector<std::string> acks;
  net::EventLoop::Timer ack_timer;
  // Removing delivered entries waits for the store's lock, which a large enqueue may
  // hold for a while: that wait happens here, not on the delivery loop.
  std::unique_ptr<net::EventLoop> ack_loop = std::make_unique<net::EventLoop>(1, "outbox-acks");
  net::EventLoop::Timer housekeeping;
  std::atomic<bool> stopped{false};
  std::mt19937_64 rng{std::random_device{}()};

  std::atomic<std::uint64_t> delivered{0}, retried{0}, failed{0}, dead{0};
  std::atomic<std::size_t> queued{0}, inflight_stat{0};

  void count(std::string_view outcome, std::atomic<std::uint64_t>& c) {
    ++c;
    if (deps.metrics != nullptr) deps.metrics->count_notifications(outcome);
  }

  // Subscription ids are UUIDs allocated by o2gw: unique across families.
  SubscriptionPtr find_subscription(const std::string& id) const {
    if (auto sub = deps.subscriptions->find(id)) return sub;
    if (deps.alarm_subscriptions != nullptr) return deps.alarm_subscriptions->find(id);
    return nullptr;
  }

  const HostProfile* profile_for(const net::UrlParts& u) const {
    auto it = profiles.find(u.host + ":" + std::to_string(u.port));
    if (it == profiles.end()) it = profiles.find(u.host);
    return it == profiles.end() ? nullptr : &it->second;
  }

  Queue& queue_for(const std::string& sub_id) {
    auto [it, fresh] = queues.try_emplace(sub_id);
    if (fresh) {
      it->second.id = sub_id;
      if (auto sub = find_subscription(sub_id)) {
        if (auto u = net::parse_url(sub->record.callback)) it->second.endpoint = u->host + ":" + std::to_string(u->port);
      }
    }
    return it->second;
  }

  void add_items(Queue& q, std::vector<Item> items) {
    for (auto& it : items) {
      if (it.entry.event_seq <= q.last_seq) continue;  // already loaded from the store
      q.last_seq = it.entry.event_seq;
      if (q.overflow || q.items.size() >= opt.queue_memory_limit) {
        // Keep memory flat while a receiver is slow: the store has it, refill() reads it back.
        q.overflow = true;
        continue;
      }
      q.mem_tail = it.entry.event_seq;
      q.items.push_back(std::move(it));
      ++queued;
    }
  }

  // Reads the next stored entries of a queue whose memory was trimmed.
  void refill(Queue& q) {
    std::int64_t after = q.mem_tail;
    std::vector<OutboxEntry> rows;
    try {
      rows = deps.store->pending_for(q.id, after, opt.queue_memory_limit);
    } catch (const std::exception& e) {
      spdlog::error("outbox read for subscription {} failed: {}", q.id, e.what());
      return;
    }
    q.overflow = rows.size() >= opt.queue_memory_limit;
    std::unordered_map<std::int64_t, std::shared_ptr<const EventRecord>> events;
    for (auto& r : rows) {
      auto& ev = events[r.event_seq];
      if (!ev) {
        auto loaded = deps.store->event(r.event_seq);
        if (!loaded) continue;
        ev = std::make_shared<const EventRecord>(std::move(*loaded));
      }
      q.last_seq = std::max(q.last_seq, r.event_seq);
      q.mem_tail = r.event_seq;
      q.items.push_back({std::move(r), ev});
      ++queued;
    }
  }

  void pump(Queue& q) {
    if (stopped || q.in_flight || q.timer.active()) return;
    if (q.items.empty() && q.overflow) refill(q);
    if (q.items.empty()) return;
    const std::int64_t now = now_ms();
    const Item& head = q.items.front();
    if (head.entry.next_attempt_ms > now) {
      std::weak_ptr<Impl> weak = weak_from_this();
      std::string id = q.id;
      q.timer = deps.loop->post_after(std::chrono::milliseconds(head.entry.next_attempt_ms - now), [weak, id] {
        if (auto self = weak.lock()) self->pump_id(id);
      });
      return;
    }
    if (!breaker_allows(q)) return;
    if (in_flight >= opt.max_in_flight) {
      if (!q.waiting_slot) {
        q.waiting_slot = true;
        ready.push_back(q.id);
      }
      return;
    }
    send(q);
  }

  void pump_id(const std::string& id) {
    auto it = queues.find(id);
    if (it != queues.end()) pump(it->second);
  }

  bool breaker_allows(Queue& q) {
    auto it = breakers.find(q.endpoint);
    if (it == breakers.end()) return true;
    Breaker& b = it->second;
    if (b.open_until == 0) return true;
    const std::int64_t now = now_ms();
    if (now >= b.open_until && !b.probing) {
      b.probing = true;  // half-open: this queue tests the host
      return true;
    }
    b.waiting.insert(q.id);
    if (now < b.open_until && !b.timer.active()) {
      std::weak_ptr<Impl> weak = weak_from_this();
      std::string endpoint = q.endpoint;
      b.timer = deps.loop->post_after(std::chrono::milliseconds(b.open_until - now), [weak, endpoint] {
        if (auto self = weak.lock()) self->wake_endpoint(endpoint);
      });
    }
    return false;
  }

  void wake_endpoint(const std::string& endpoint) {
    auto it = breakers.find(endpoint);
    if (it == breakers.end()) return;
    auto waiting = std::move(it->second.waiting);
    it->second.waiting.clear();
    for (const auto& id : waiting) pump_id(id);
  }

  void breaker_result(const std::string& endpoint, bool host_failed) {
    if (endpoint.empty()) return;
    Breaker& b = breakers[endpoint];
    bool was_open = b.open_until != 0;
    b.probing = false;
    if (!host_failed) {
      if (was_open) spdlog::info("webhook receiver {} answers again; circuit closed", endpoint);
      b.failures = 0;
      b.open_until = 0;
      wake_endpoint(endpoint);
      return;
    }
    ++b.failures;
    if (b.failures >= opt.breaker_threshold) {
      if (!was_open) {
        spdlog::warn("webhook receiver {} failed {} times in a row; pausing deliveries to it for {} ms", endpoint,
                     b.failures, opt.breaker_open.count());
      }
      b.open_until = now_ms() + opt.breaker_open.count();
      wake_endpoint(endpoint);  // waiting queues re-register against the new deadline
    }
  }

  void release_slot() {
    --in_flight;
    inflight_stat = in_flight;
    while (in_flight < opt.max_in_flight && !ready.empty()) {
      std::string id = std::move(ready.front());
      ready.pop_front();
      auto it = queues.find(id);
      if (it == queues.end()) continue;
      it->second.waiting_slot = false;
      pump(it->second);
    }
  }

  void send(Queue& q) {
    Item& head = q.items.front();
    const std::int64_t now = now_ms();
    auto sub = find_subscription(q.id);
    if (!sub) {  // deleted meanwhile: its outbox rows went with it
      drop_queue(q.id);
      return;
    }
    if (now - head.entry.enqueued_ms > std::chrono::duration_cast<std::chrono::milliseconds>(opt.max_age).count()) {
      to_dead_letter(q, "older than the maximum age (" + std::to_string(opt.max_age.count()) + " s)", 0);
      pump(q);
      return;
    }
    auto url = net::parse_url(sub->record.callback);
    net::ClientRequest req;
    req.method = http::Method::post;
    req.url = sub->record.callback;
    req.timeout = opt.timeout;
    req.body = head.event->family == SubscriptionFamily::alarm && deps.render_alarm
                   ? deps.render_alarm(head.entry, *sub, *head.event)
                   : deps.render(head.entry, *sub, *head.event);
    req.headers = {{"Content-Type", "application/json"},
                   {"X-O2-Notification-Id", head.entry.notification_id},
                   {"X-O2-Subscription-Id", q.id},
                   {"X-O2-Signature", deps.keys->sign(req.body, now / 1000)}};
    q.in_flight = true;
    ++in_flight;
    inflight_stat = in_flight;
    const HostProfile* profile = url ? profile_for(*url) : nullptr;
    net::TlsOptions tls = profile != nullptr ? profile->tls : net::TlsOptions{};
    std::weak_ptr<Impl> weak = weak_from_this();
    std::string id = q.id;
    std::string nid = head.entry.notification_id;
    bool has_oauth = profile != nullptr && profile->oauth;
    auto finish = [weak, id, nid, endpoint = q.endpoint, has_oauth](net::ClientResult r) {
      if (auto self = weak.lock()) self->post_result(id, nid, endpoint, std::move(r), has_oauth);
    };
    if (profile != nullptr && profile->oauth) {
      auto client = deps.client;
      profile->oauth->get([client, req = std::move(req), tls, finish](std::string token, std::string error) mutable {
        if (token.empty()) {
          net::ClientResult r;
          r.error = net::ClientError{net::ClientError::Kind::connect, "OAuth2 token request failed: " + error};
          finish(std::move(r));
          return;
        }
        req.headers.push_back({"Authorization", "Bearer " + token});
        client->request(std::move(req), tls, std::move(finish));
      });
    } else {
      deps.client->request(std::move(req), tls, std::move(finish));
    }
  }

  // Client callbacks may arrive on any loop thread; results are handled in loop order.
  void post_result(const std::string& id, const std::string& nid, const std::string& endpoint, net::ClientResult r,
                   bool has_oauth) {
    std::weak_ptr<Impl> weak = weak_from_this();
    deps.loop->post([weak, id, nid, endpoint, r = std::move(r), has_oauth]() mutable {
      if (auto self = weak.lock()) self->on_result(id, nid, endpoint, std::move(r), has_oauth);
    });
  }

  void on_result(const std::string& id, const std::string& nid, const std::string& endpoint, net::ClientResult r,
                 bool has_oauth) {
    auto qit = queues.find(id);
    bool ours = qit != queues.end() && qit->second.in_flight && !qit->second.items.empty() &&
                qit->second.items.front().entry.notification_id == nid;
    if (!ours) {  // the queue was dropped or reloaded while this was in flight
      // A half-open probe that nobody will judge must not keep its host paused forever.
      if (auto b = breakers.find(endpoint); b != breakers.end() && b->second.probing) {
        b->second.probing = false;
        wake_endpoint(endpoint);
      }
      release_slot();
      return;
    }
    Queue& q = qit->second;
    q.in_flight = false;
    int status = r.response ? r.response->status : 0;
    Verdict v = Verdict::retry;
    std::string reason;
    bool host_failed = false;
    std::optional<std::chrono::seconds> retry_after;
    if (r.response) {
      if (status >= 200 && status < 300) {
        v = Verdict::delivered;
      } else if (status == 410) {
        v = Verdict::gone;
      } else if (status >= 500 || status == 429 || status == 408) {
        host_failed = status >= 500;
        reason = "HTTP " + std::to_string(status);
        retry_after = parse_retry_after(r.response->header("Retry-After"), now_ms() / 1000);
      } else if (status == 401 && has_oauth) {
        reason = "HTTP 401 (token refreshed)";
        invalidate_token(q);
      } else if (status >= 300 && status < 400) {
        v = Verdict::dead;
        reason = "HTTP " + std::to_string(status) + " (redirects are not followed)";
      } else {
        v = Verdict::dead;
        reason = "HTTP " + std::to_string(status);
      }
    } else {
      const auto& e = *r.error;
      reason = std::string(net::client_error_kind_name(e.kind)) + ": " + e.message;
      if (e.kind == net::ClientError::Kind::bad_url || e.kind == net::ClientError::Kind::refused_address) {
        v = Verdict::dead;
      } else {
        host_failed = true;
      }
    }
    breaker_result(q.endpoint, host_failed);
    switch (v) {
      case Verdict::delivered:
        deliver_ok(q);
        break;
      case Verdict::gone: {
        spdlog::warn("subscription {}: callback answered 410 Gone; deleting the subscription", id);
        release_slot();
        try {
          if (deps.subscriptions->find(id)) {
            deps.subscriptions->remove(id);  // its listeners call forget()
          } else if (deps.alarm_subscriptions != nullptr) {
            deps.alarm_subscriptions->remove(id);
          }
        } catch (const std::exception& e) {
          spdlog::error("deleting subscription {} after 410 failed: {}", id, e.what());
        }
        drop_queue(id);
        return;
      }
      case Verdict::dead:
        count("failed", failed);
        ++q.items.front().entry.attempts;  // the attempt that was refused counts
        to_dead_letter(q, reason, status);
        break;
      case Verdict::retry:
        count("failed", failed);
        schedule_retry(q, reason, status, retry_after);
        break;
    }
    release_slot();
    auto again = queues.find(id);
    if (again != queues.end()) pump(again->second);
  }

  void invalidate_token(Queue& q) {
    auto sub = find_subscription(q.id);
    if (!sub) return;
    auto u = net::parse_url(sub->record.callback);
    if (!u) return;
    if (const HostProfile* p = profile_for(*u); p != nullptr && p->oauth) p->oauth->invalidate();
  }

  void deliver_ok(Queue& q) {
    Item& head = q.items.front();
    double seconds = static_cast<double>(now_ms() - head.event->created_ms) / 1000.0;
    if (deps.metrics != nullptr) deps.metrics->observe_delivery_latency(std::max(0.0, seconds));
    count("delivered", delivered);
    acks.push_back(head.entry.notification_id);
    pop_head(q);
    schedule_ack_flush();
  }

  void pop_head(Queue& q) {
    q.items.pop_front();
    --queued;
  }

  void schedule_retry(Queue& q, const std::string& reason, int status, std::optional<std::chrono::seconds> retry_after) {
    Item& head = q.items.front();
    int attempts = head.entry.attempts + 1;
    if (attempts >= opt.max_attempts) {
      head.entry.attempts = attempts;  // the dead letter counts the attempt that just failed
      to_dead_letter(q, reason + "; gave up after " + std::to_string(attempts) + " attempts", status);
      return;
    }
    double unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    auto delay = retry_delay(opt, attempts, retry_after, unit);
    std::int64_t next = now_ms() + delay.count();
    if (next - head.entry.enqueued_ms > std::chrono::duration_cast<std::chrono::milliseconds>(opt.max_age).count()) {
      to_dead_letter(q, reason + "; the next attempt would pass the maximum age", status);
      return;
    }
    head.entry.attempts = attempts;
    head.entry.next_attempt_ms = next;
    count("retried", retried);
    spdlog::debug("notification {} to subscription {}: {}; retry {} in {} ms", head.entry.notification_id, q.id,
                  reason, attempts, delay.count());
    try {
      deps.store->reschedule(head.entry.notification_id, attempts, next);
    } catch (const std::exception& e) {
      spdlog::error("outbox reschedule failed: {}", e.what());
    }
  }

  void to_dead_letter(Queue& q, const std::string& reason, int status) {
    Item& head = q.items.front();
    DeadLetter d{head.entry, reason, status, now_ms()};
    spdlog::warn("notification {} to subscription {} dead-lettered: {}", head.entry.notification_id, q.id, reason);
    try {
      deps.store->dead_letter(d);
    } catch (const std::exception& e) {
      spdlog::error("dead-lettering {} failed: {}", head.entry.notification_id, e.what());
    }
    count("dead_lettered", dead);
    pop_head(q);
  }

  void schedule_ack_flush() {
    if (ack_timer.active()) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    ack_timer = deps.loop->post_after(opt.ack_flush, [weak] {
      if (auto self = weak.lock()) self->flush_acks();
    });
  }

  void flush_acks() {
    if (acks.empty()) return;
    auto batch = std::make_shared<std::vector<std::string>>();
    batch->swap(acks);
    Store* store = deps.store;
    ack_loop->post([store, batch] {
      try {
        store->complete(*batch);
      } catch (const std::exception& e) {
        // Not fatal: the entries stay in the outbox and are delivered again after a restart.
        spdlog::error("removing {} delivered notifications from the outbox failed: {}", batch->size(), e.what());
      }
    });
  }

  // Waits until every acknowledgement handed to the ack loop is written.
  void drain_acks() {
    std::promise<void> done;
    ack_loop->post([&done] { done.set_value(); });
    done.get_future().wait();
  }

  void drop_queue(const std::string& id) {
    auto it = queues.find(id);
    if (it == queues.end()) return;
    it->second.timer.cancel();
    queued -= it->second.items.size();
    queues.erase(it);
    if (deps.metrics != nullptr) deps.metrics->remove_outbox_depth(id);
  }

  // Re-reads a queue from the store (after a replay put older entries back).
  void reload(Queue& q) {
    std::optional<Item> head;
    if (q.in_flight && !q.items.empty()) head = std::move(q.items.front());
    queued -= q.items.size();
    q.items.clear();
    q.timer.cancel();
    if (head) {
      q.items.push_back(std::move(*head));
      ++queued;
    }
    std::vector<OutboxEntry> rows;
    try {
      rows = deps.store->pending_for(q.id, 0, opt.queue_memory_limit);
    } catch (const std::exception& e) {
      spdlog::error("outbox read for subscription {} failed: {}", q.id, e.what());
      return;
    }
    q.overflow = rows.size() >= opt.queue_memory_limit;
    for (auto& r : rows) {
      if (head && r.notification_id == head->entry.notification_id) continue;
      auto ev = deps.store->event(r.event_seq);
      if (!ev) continue;
      q.last_seq = std::max(q.last_seq, r.event_seq);
      q.mem_tail = r.event_seq;
      q.items.push_back({std::move(r), std::make_shared<const EventRecord>(std::move(*ev))});
      ++queued;
    }
  }

  // Garbage collection and the depth gauge scan the outbox, which is large exactly when a
  // receiver is down: they run on the ack thread, so delivery never waits for them.
  void housekeep() {
    if (stopped) return;
    std::vector<std::string> ids;
    ids.reserve(queues.size());
    for (const auto& [id, q] : queues) ids.push_back(id);
    const bool collect = ++housekeeping_rounds % 6 == 0;  // events: every 30 s
    Store* store = deps.store;
    Metrics* metrics = deps.metrics;
    ack_loop->post([store, metrics, ids = std::move(ids), collect] {
      try {
        if (collect) store->collect_garbage();
        if (metrics != nullptr) {
          std::unordered_map<std::string, std::size_t> depth;
          for (const auto& id : ids) depth[id] = 0;  // drained queues report 0, not a stale value
          for (auto& [id, n] : store->outbox_depths()) depth[id] = n;
          for (const auto& [id, n] : depth) metrics->set_outbox_depth(id, static_cast<double>(n));
        }
      } catch (const std::exception& e) {
        spdlog::error("outbox housekeeping failed: {}", e.what());
      }
    });
    std::weak_ptr<Impl> weak = weak_from_this();
    housekeeping = deps.loop->post_after(std::chrono::seconds(5), [weak] {
      if (auto self = weak.lock()) self->housekeep();
    });
  }
  std::uint64_t housekeeping_rounds = 0;
};

WebhookDeliverer::WebhookDeliverer(Deps deps, DeliveryOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->deps = std::move(deps);
  impl_->opt = std::move(options);
  for (const auto& h : impl_->opt.hosts) {
    HostProfile p;
    p.tls.ca_file = h.ca_file;
    p.tls.client_cert_file = h.client_cert_file;
    p.tls.client_key_file = h.client_key_file;
    if (!h.oauth2_token_url.empty()) {
      net::OAuth2ClientCredentials creds{h.oauth2_token_url, h.oauth2_client_id, h.oauth2_client_secret,
                                         h.oauth2_scope, net::TlsOptions{}};
      creds.tls.ca_file = h.oauth2_ca_file;
      p.oauth = std::make_shared<net::OAuth2TokenSource>(*impl_->deps.client, std::move(creds));
    }
    impl_->profiles[h.host] = std::move(p);
  }
}

WebhookDeliverer::~WebhookDeliverer() { stop(); }

void WebhookDeliverer::start() {
  auto impl = impl_;
  std::promise<void> done;
  impl->deps.loop->post([impl, &done] {
    // Everything the outbox held when we stopped (or crashed): delivered first, in order.
    std::size_t total = 0;
    try {
      auto rows = impl->deps.store->pending(impl->opt.queue_memory_limit);
      std::unordered_map<std::int64_t, std::shared_ptr<const EventRecord>> events;
      std::unordered_map<std::string, std::vector<Item>> by_sub;
      for (auto& r : rows) {
        auto& ev = events[r.event_seq];
        if (!ev) {
          auto loaded = impl->deps.store->event(r.event_seq);
          if (!loaded) continue;
          ev = std::make_shared<const EventRecord>(std::move(*loaded));
        }
        by_sub[r.subscription_id].push_back({std::move(r), ev});
      }
      for (auto& [id, items] : by_sub) {
        Queue& q = impl->queue_for(id);
        bool full = items.size() >= impl->opt.queue_memory_limit;
        total += items.size();
        impl->add_items(q, std::move(items));
        q.overflow = full;
      }
    } catch (const std::exception& e) {
      spdlog::error("loading the outbox failed: {}", e.what());
    }
    if (total > 0) spdlog::info("outbox: {} notification(s) pending from before the restart", total);
    for (auto& [id, q] : impl->queues) impl->pump(q);
    impl->housekeep();
    done.set_value();
  });
  done.get_future().wait();
}

void WebhookDeliverer::stop() {
  auto impl = impl_;
  if (!impl || impl->stopped) return;
  std::promise<void> done;
  impl->deps.loop->post([impl, &done] {
    impl->stopped = true;
    impl->flush_acks();
    impl->ack_timer.cancel();
    impl->housekeeping.cancel();
    for (auto& [id, q] : impl->queues) q.timer.cancel();
    for (auto& [e, b] : impl->breakers) b.timer.cancel();
    done.set_value();
  });
  done.get_future().wait();
  impl->drain_acks();
}

void WebhookDeliverer::submit(std::vector<OutboxEntry> entries, std::vector<std::shared_ptr<const EventRecord>> events) {
  auto impl = impl_;
  impl->deps.loop->post([impl, entries = std::move(entries), events = std::move(events)]() mutable {
    std::unordered_map<std::int64_t, std::shared_ptr<const EventRecord>> by_seq;
    for (auto& e : events) by_seq[e->seq] = e;
    std::unordered_map<std::string, std::vector<Item>> by_sub;
    for (auto& e : entries) {
      auto ev = by_seq[e.event_seq];
      by_sub[e.subscription_id].push_back({std::move(e), std::move(ev)});
    }
    for (auto& [id, items] : by_sub) {
      if (!impl->find_subscription(id)) continue;  // deleted between match and now
      Queue& q = impl->queue_for(id);
      impl->add_items(q, std::move(items));
      impl->pump(q);
    }
  });
}

void WebhookDeliverer::forget(const std::string& subscription_id) {
  auto impl = impl_;
  impl->deps.loop->post([impl, subscription_id] { impl->drop_queue(subscription_id); });
}

void WebhookDeliverer::replay_async(std::vector<std::string> notification_ids,
                                    std::function<void(std::optional<std::size_t>)> done) {
  auto impl = impl_;
  impl->deps.loop->post([impl, ids = std::move(notification_ids), done = std::move(done)] {
    std::size_t n = 0;
    try {
      auto moved = impl->deps.store->replay(ids, now_ms());
      n = moved.size();
      std::unordered_set<std::string> subs;
      for (const auto& e : moved) subs.insert(e.subscription_id);
      for (const auto& id : subs) {
        Queue& q = impl->queue_for(id);
        impl->reload(q);
        impl->pump(q);
      }
      if (n > 0) spdlog::info("replayed {} dead letter(s)", n);
    } catch (const std::exception& e) {
      spdlog::error("replaying dead letters failed: {}", e.what());
      done(std::nullopt);
      return;
    }
    done(n);
  });
}

std::size_t WebhookDeliverer::replay(std::span<const std::string> notification_ids) {
  std::promise<std::optional<std::size_t>> done;
  replay_async({notification_ids.begin(), notification_ids.end()},
               [&done](std::optional<std::size_t> n) { done.set_value(n); });
  auto n = done.get_future().get();
  if (!n) throw StoreError("replaying dead letters failed; see the log");
  return *n;
}

WebhookDeliverer::Stats WebhookDeliverer::stats() const {
  Stats s;
  s.delivered = impl_->delivered;
  s.retried = impl_->retried;
  s.failed = impl_->failed;
  s.dead_lettered = impl_->dead;
  s.queued = impl_->queued;
  s.in_flight = impl_->inflight_stat;
  return s;
}

}  // namespace o2gw
