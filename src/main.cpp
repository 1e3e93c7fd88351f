// o2gw entry point: parse the command line, load the config, then wire the
// components together. Reads as a wiring diagram; the logic lives elsewhere.
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <thread>

#include "o2gw/alarms.hpp"
#include "o2gw/alertmanager.hpp"
#include "o2gw/api.hpp"
#include "o2gw/audit.hpp"
#include "o2gw/auth.hpp"
#include "o2gw/config.hpp"
#include "o2gw/events.hpp"
#include "o2gw/health_alarms.hpp"
#include "o2gw/http_client.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/logging.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/problem.hpp"
#include "o2gw/query.hpp"
#include "o2gw/registry.hpp"
#include "o2gw/rate_limit.hpp"
#include "o2gw/router.hpp"
#include "o2gw/security.hpp"
#include "o2gw/server.hpp"
#include "o2gw/store.hpp"
#include "o2gw/uuid.hpp"
#include "o2gw/webhook.hpp"

extern char** environ;

namespace po = boost::program_options;

namespace {

constexpr std::string_view kUsage = R"(usage: o2gw [check-config] [options]

Serves the O-RAN O2-IMS API. With no options, serves the example inventory
(deploy/inventory/example-inventory.yaml) on 0.0.0.0:8080.

  check-config        validate the configuration (and every adapter section), then exit
)";

struct Flags {
  bool check_only = false;
  std::optional<std::filesystem::path> config;
  std::optional<std::string> listen;
  std::optional<std::string> inventory;
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
  std::optional<unsigned> threads;
};

// Returns an exit code when the process should stop (help, version, bad flags).
std::optional<int> parse_flags(int argc, char** argv, Flags& flags) {
  po::options_description opts("options");
  opts.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("config,c", po::value<std::string>(), "YAML configuration file (default: built-in defaults)")
      ("listen,l", po::value<std::string>(), "address to listen on, host:port (overrides server.listen)")
      ("inventory,i", po::value<std::string>(), "inventory YAML for the file adapter")
      ("data-dir,d", po::value<std::string>(), "directory for persistent state (overrides data_dir)")
      ("log-level", po::value<std::string>(), "trace, debug, info, warn, error, critical or off")
      ("threads", po::value<unsigned>(), "I/O threads (0 = one per core)");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "o2gw: " << e.what() << "\n" << kUsage << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << kUsage << opts;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "o2gw " << O2GW_VERSION << "\n";
    return 0;
  }
  if (vm.count("command")) {
    if (vm["command"].as<std::string>() != "check-config") {
      std::cerr << "o2gw: unknown command '" << vm["command"].as<std::string>() << "'\n" << kUsage;
      return 2;
    }
    flags.check_only = true;
  }
  if (vm.count("config")) flags.config = vm["config"].as<std::string>();
  if (vm.count("listen")) flags.listen = vm["listen"].as<std::string>();
  if (vm.count("inventory")) flags.inventory = vm["inventory"].as<std::string>();
  if (vm.count("data-dir")) flags.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("log-level")) flags.log_level = vm["log-level"].as<std::string>();
  if (vm.count("threads")) flags.threads = vm["threads"].as<unsigned>();
  return std::nullopt;
}

// Flags win over the file and the environment: they go into the document before validation.
o2gw::Config load_with_flags(const Flags& flags) {
  o2gw::Config base = o2gw::load_config(flags.config, environ);
  if (flags.listen) {
    auto colon = flags.listen->rfind(':');
    if (colon == std::string::npos) throw o2gw::ConfigError("--listen", "must be host:port");
    nlohmann::json probe = {{"server", {{"listen", *flags.listen}}}};
    auto parsed = o2gw::parse_config(probe);
    base.server.listen_address = parsed.server.listen_address;
    base.server.port = parsed.server.port;
  }
  if (flags.threads) {
    nlohmann::json probe = {{"server", {{"threads", *flags.threads}}}};
    base.server.threads = o2gw::parse_config(probe).server.threads;
  }
  if (flags.data_dir) base.data_dir = *flags.data_dir;
  if (flags.log_level) {
    nlohmann::json probe = {{"log", {{"level", *flags.log_level}}}};
    base.log_level = o2gw::parse_config(probe).log_level;
  }
  if (flags.inventory) {
    bool replaced = false;
    for (auto& a : base.adapters) {
      if (a.category == o2gw::Category::ims && a.type == "file" && a.enabled) {
        a.config["path"] = *flags.inventory;
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      o2gw::AdapterSpec spec;
      spec.name = "inventory-file";
      spec.type = "file";
      spec.key = "--inventory";
      spec.config = {{"path", *flags.inventory}};
      base.adapters.push_back(std::move(spec));
    }
  }
  return base;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (auto rc = parse_flags(argc, argv, flags)) return *rc;

  o2gw::Config cfg;
  try {
    cfg = load_with_flags(flags);
    o2gw::Registry::validate(o2gw::FactoryTable::global(), cfg.adapters);
  } catch (const o2gw::ConfigError& e) {
    std::cerr << "o2gw: configuration error: " << e.key() << ": " << e.reason() << "\n";
    return 2;
  }
  if (flags.check_only) {
    std::cout << "configuration OK (" << cfg.source << "): " << cfg.adapters.size() << " adapter instance(s)\n";
    return 0;
  }

  auto started = std::chrono::steady_clock::now();
  o2gw::setup_logging(cfg.log_level);
  spdlog::info("o2gw {} starting; config from {}; oCloudId {}", O2GW_VERSION, cfg.source, cfg.ocloud.id);
  std::error_code dir_ec;
  std::filesystem::create_directories(cfg.data_dir, dir_ec);
  if (dir_ec) spdlog::warn("cannot create data directory {}: {}", cfg.data_dir.string(), dir_ec.message());

  // Subscriptions and the outbox live in SQLite; signing keys in their key ring.
  std::unique_ptr<o2gw::Store> store;
  std::shared_ptr<const o2gw::SigningKeyRing> signing_keys;
  std::optional<o2gw::CallbackGuard> guard;
  try {
    store = o2gw::open_sqlite_store(cfg.data_dir / "o2gw.db");
    bool default_dir = cfg.webhooks.signing_key_dir.empty();
    auto key_dir = default_dir ? cfg.data_dir / "signing-keys" : cfg.webhooks.signing_key_dir;
    signing_keys = std::make_shared<const o2gw::SigningKeyRing>(o2gw::SigningKeyRing::load(key_dir, default_dir));
    spdlog::info("webhooks signed with key '{}' from {}", signing_keys->signing_key().id, key_dir.string());
    guard.emplace(o2gw::CallbackGuardOptions{cfg.subscriptions.callback_allow, cfg.subscriptions.callback_deny});
  } catch (const std::exception& e) {
    spdlog::critical("cannot start the event pipeline: {}", e.what());
    o2gw::flush_logs();
    return 1;
  }
  spdlog::info("state in {} (schema version {})", (cfg.data_dir / "o2gw.db").string(), store->schema_version());

  o2gw::Metrics metrics;
  o2gw::InventoryCache inventory;

  // Outbound: one loop thread for webhook delivery and the store work of the subscription API.
  o2gw::net::EventLoop delivery_loop(1, "webhooks");
  o2gw::net::ClientOptions client_options;
  // Many subscribers often share one receiver host: keep a connection per delivery in flight.
  client_options.max_idle_per_endpoint = cfg.webhooks.max_in_flight;
  client_options.address_check = [&guard](const std::string& host, const std::string& ip) {
    return guard->check_address(host, ip);
  };
  o2gw::net::HttpClient webhook_client(delivery_loop, client_options);
  o2gw::SubscriptionService inventory_subscriptions(*store, o2gw::SubscriptionFamily::inventory,
                                                    o2gw::inventory_event_schema(),
                                                    cfg.subscriptions.max_subscriptions);
  inventory_subscriptions.load();
  // Alarm subscriptions: their own family, filters over the AlarmEventNotification.
  o2gw::SubscriptionService alarm_subscriptions(*store, o2gw::SubscriptionFamily::alarm, o2gw::alarm_event_schema(),
                                                cfg.subscriptions.max_subscriptions);
  alarm_subscriptions.set_filter_parser(o2gw::parse_alarm_subscription_filter);
  alarm_subscriptions.load();
  o2gw::WebhookDeliverer::Deps delivery_deps;
  delivery_deps.store = store.get();
  delivery_deps.loop = &delivery_loop;
  delivery_deps.client = &webhook_client;
  delivery_deps.metrics = &metrics;
  delivery_deps.subscriptions = &inventory_subscriptions;
  delivery_deps.keys = signing_keys;
  delivery_deps.render = [](const o2gw::OutboxEntry& e, const o2gw::Subscription& s, const o2gw::EventRecord& ev) {
    return o2gw::render_inventory_notification(e.notification_id, s.record.consumer_subscription_id, ev);
  };
  // One deliverer for both families: one outbox, one set of queues, breakers and dead letters.
  delivery_deps.alarm_subscriptions = &alarm_subscriptions;
  delivery_deps.render_alarm = [global_cloud_id = cfg.ocloud.global_cloud_id](
                                   const o2gw::OutboxEntry&, const o2gw::Subscription& s, const o2gw::EventRecord& ev) {
    return o2gw::render_alarm_notification(global_cloud_id, s.record.consumer_subscription_id, ev);
  };
  o2gw::WebhookDeliverer deliverer(std::move(delivery_deps), o2gw::DeliveryOptions::from(cfg.webhooks));
  inventory_subscriptions.on_removed([&deliverer](const std::string& id) { deliverer.forget(id); });
  alarm_subscriptions.on_removed([&deliverer](const std::string& id) { deliverer.forget(id); });
  deliverer.start();
  spdlog::info("{} inventory subscription(s) loaded", inventory_subscriptions.snapshot()->size());
  inventory.add_listener([&metrics](const o2gw::Change& c) { metrics.count_change(c); });

  // Alarms: kept in the store, raised by the adapters through AlarmSink.
  o2gw::AlarmServiceOptions alarm_options;
  alarm_options.filter_mode = cfg.subscriptions.filter_mode;
  alarm_options.default_retention_days = cfg.alarms.retention_days;
  o2gw::AlarmService alarms(*store, inventory, alarm_options, &metrics);
  try {
    alarms.load();
  } catch (const std::exception& e) {
    spdlog::critical("cannot load the alarms: {}", e.what());
    o2gw::flush_logs();
    return 1;
  }
  spdlog::info("{} alarm subscription(s) loaded", alarm_subscriptions.snapshot()->size());

  o2gw::Registry registry(o2gw::FactoryTable::global(),
                          {*o2gw::Uuid::parse(cfg.ocloud.id), &inventory, cfg.data_dir, &alarms});
  registry.on_states([&metrics](const auto& states) { metrics.set_adapter_states(states); });
  // An unhealthy adapter instance is an alarm on its deployment manager.
  o2gw::AdapterHealthAlarms health_alarms(registry, inventory, alarms, *o2gw::Uuid::parse(cfg.ocloud.id));
  metrics.set_collect_hook([&] {
    for (std::size_t k = 0; k < o2gw::kKindCount; ++k) {
      auto kind = static_cast<o2gw::Kind>(k);
      metrics.set_inventory_count(kind, static_cast<double>(inventory.count(kind)));
    }
    metrics.set_adapter_states(registry.states());
    metrics.set_inventory_conflicts(static_cast<double>(inventory.conflicts()));
  });

  std::atomic<bool> shutting_down{false};
  o2gw::Router router;

  // Security: authentication, rate limiting and the audit log sit in the gate before the router.
  std::unique_ptr<o2gw::AuditLog> audit;
  std::unique_ptr<o2gw::RateLimiter> limiter;
  std::unique_ptr<o2gw::Authenticator> authenticator;
  o2gw::net::HttpClient jwks_client(delivery_loop, o2gw::net::ClientOptions{});
  try {
    if (cfg.audit.enabled) {
      o2gw::AuditConfig audit_cfg = cfg.audit;
      if (audit_cfg.path.empty()) audit_cfg.path = cfg.data_dir / "audit.log";
      audit = std::make_unique<o2gw::AuditLog>(audit_cfg, &metrics);
      spdlog::info("audit log: {}", audit_cfg.path.string());
    }
    if (cfg.rate_limit.enabled) limiter = std::make_unique<o2gw::RateLimiter>(cfg.rate_limit, &metrics);
    if (cfg.auth.enabled) {
      authenticator = std::make_unique<o2gw::Authenticator>(cfg.auth, &jwks_client, &metrics);
      authenticator->start();
      spdlog::info("authentication on: JWT {}, {} API token(s), {} client identity rule(s), {} trusted proxy range(s)",
                   cfg.auth.jwt.enabled ? "on" : "off", cfg.auth.api_tokens.size(), cfg.auth.client_identities.size(),
                   cfg.auth.trusted_proxies.size());
    } else {
      spdlog::warn("authentication is off (auth.enabled: false): every caller may read and change everything");
    }
  } catch (const o2gw::ConfigError& e) {
    spdlog::critical("configuration error: {}: {}", e.key(), e.reason());
    o2gw::flush_logs();
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start the security layer: {}", e.what());
    o2gw::flush_logs();
    return 1;
  }
  o2gw::SecurityGate gate({&router, authenticator.get(), limiter.get(), audit.get(), &metrics}, cfg.auth);

  o2gw::ServerHooks hooks;
  hooks.handle = [&router, &gate](o2gw::http::Request& req, std::function<void(o2gw::http::Response)> respond) {
    if (req.conn && req.conn->ops_listener) {
      // The ops listener serves probes and metrics only, without credentials.
      if (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics") {
        router.dispatch_async(req, std::move(respond));
      } else {
        respond(o2gw::problem_response(req, 404, "the ops listener serves /healthz, /readyz and /metrics only"));
      }
      return;
    }
    gate.handle(req, std::move(respond));
  };
  hooks.tls_event = [&metrics](std::string_view event) { metrics.count_tls_event(event); };
  bool access_log = cfg.server.access_log;
  hooks.completed = [&metrics, access_log](const auto& req, const auto& res, double seconds, std::string_view peer) {
    metrics.observe_request(res.route, o2gw::http::method_name(req.method), res.status, seconds);
    if (access_log) o2gw::log_access(req, res, seconds, peer);
  };
  hooks.rejected = [&metrics](int status, std::string_view reason, std::string_view peer) {
    metrics.count_rejected_connection_request(reason);
    spdlog::info("rejected request from {}: {} ({})", peer, status, reason);
  };
  hooks.in_flight = [&metrics](int d) { metrics.add_in_flight(d); };
  hooks.shutdown_started = [&] {
    shutting_down = true;
    metrics.set_ready(false);
  };

  o2gw::HttpServer server(cfg.server, hooks);
  try {
    // The bound port (meaningful with port 0) goes into the O-Cloud's default serviceUri.
    cfg.server.port = server.listen();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg.server.listen_address, cfg.server.port, e.what());
    return 1;
  }
  spdlog::info("listening on {}:{}{}", cfg.server.listen_address, cfg.server.port,
               cfg.server.tls.enabled ? " (TLS)" : "");
  if (cfg.server.ops_enabled) {
    cfg.server.ops_port = server.ops_port();
    spdlog::info("ops listener on {}:{}", cfg.server.ops_listen_address, cfg.server.ops_port);
  }

  o2gw::PagerOptions paging{cfg.query.default_page_size, cfg.query.max_page_size, cfg.query.marker_key};
  o2gw::Pager pager(paging);
  o2gw::ApiContext api{&cfg, &inventory, &registry, &metrics, &shutting_down, &pager};
  o2gw::register_inventory_api(router, api);
  o2gw::register_admin_api(router, api);
  o2gw::EventsApiContext events_api{&inventory_subscriptions, &deliverer, store.get(), &delivery_loop,
                                    &webhook_client, &*guard};
  o2gw::register_subscriptions_api(router, api, events_api);
  o2gw::register_monitoring_api(router, api, events_api, {&alarms, &alarm_subscriptions, &delivery_loop});
  // Alertmanager alerts become alarms; their store writes run on the delivery loop.
  o2gw::register_alertmanager_receiver(router, alarms, inventory, cfg.alarms.alertmanager, &metrics,
                                       [&delivery_loop](std::function<void()> work) {
                                         delivery_loop.post(std::move(work));
                                       });
  alarms.connect(&alarm_subscriptions, &deliverer,
                 o2gw::service_uri(cfg) + std::string(o2gw::kMonitoringApiRoot) + "/v1/alarms");
  // Cleared alarms past the retention period go every alarms.purge_interval.
  std::jthread alarm_purger([&alarms, interval = cfg.alarms.purge_interval](std::stop_token st) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait_for(lock, st, interval, [] { return false; });
      if (st.stop_requested()) return;
      alarms.purge();
    }
  });
  // Every inventory change is matched and in the outbox before the adapter's write returns.
  o2gw::InventoryNotifier notifier(*store, inventory_subscriptions, deliverer, cfg.subscriptions.filter_mode,
                                   o2gw::service_uri(cfg) + std::string(o2gw::kInventoryApiRoot) + "/v1", &metrics,
                                   &inventory);
  inventory.add_batch_listener([&notifier](std::span<const o2gw::Change> changes) { notifier.on_changes(changes); });

  // Adapters start off the I/O threads: a large first sync must not delay /healthz.
  std::jthread adapter_starter([&] {
    registry.start(cfg.adapters);
    registry.start_health_loop(cfg.health_interval);
  });

  // Report the moment readiness is reached (the embedded default aims at < 1 s).
  std::jthread ready_watch([&](std::stop_token st) {
    while (!st.stop_requested()) {
      if (registry.all_synced()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        metrics.set_ready(true);
        spdlog::info("ready in {} ms", ms.count());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  server.run();
  ready_watch.request_stop();
  alarm_purger.request_stop();
  alarm_purger.join();
  spdlog::info("server stopped; stopping adapters");
  if (adapter_starter.joinable()) adapter_starter.join();
  registry.stop();
  if (authenticator) authenticator->stop();
  deliverer.stop();
  spdlog::info("bye");
  o2gw::flush_logs();
  return 0;
}
