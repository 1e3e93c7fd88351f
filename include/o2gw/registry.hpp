// One registry for every adapter category (ims, dms, smo). Adapters register a
// factory by (category, type) from their own folder; the config names the
// instances to create. The registry validates each instance's section, starts
// the instances, health-checks them concurrently and reports their status.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "o2gw/config.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

class InventoryCache;
class AlarmSink;

enum class AdapterStatus { starting, active, disabled, failed, unhealthy };
std::string_view status_name(AdapterStatus s);

struct Health {
  bool ok = true;
  std::string detail;
};

// What an adapter instance gets from the process: its spec and the shared services.
struct AdapterContext {
  AdapterSpec spec;
  Uuid ocloud_id;
  InventoryCache* inventory = nullptr;  // for ims adapters
  std::filesystem::path data_dir;
  AlarmSink* alarms = nullptr;  // where adapters raise and clear alarms (null: alarms off)

  // Deterministic O2 id: UUIDv5(oCloudId, "<instance>/<kind>/<backend key>").
  [[nodiscard]] std::string derive_id(std::string_view kind, std::string_view backend_key) const;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  // Begins work without blocking; the first full sync is reported by synced().
  virtual void start() = 0;
  // Stops background work; must return promptly.
  virtual void stop() = 0;
  // Called from the registry's health loop, concurrently with other adapters.
  virtual Health check_health() = 0;
  [[nodiscard]] virtual bool synced() const = 0;
};

struct AdapterFactory {
  Category category = Category::ims;
  std::string type;
  std::string summary;
  // Throws ConfigError naming the key (relative to the instance's "config" section).
  std::function<void(const nlohmann::json& config)> validate;
  std::function<std::unique_ptr<Adapter>(const AdapterContext& ctx)> create;
};

class FactoryTable {
 public:
  static FactoryTable& global();
  void add(AdapterFactory f);  // a duplicate (category, type) throws
  [[nodiscard]] const AdapterFactory* find(Category c, std::string_view type) const;
  [[nodiscard]] std::vector<std::pair<Category, std::string>> names() const;

 private:
  mutable std::mutex mu_;
  std::vector<AdapterFactory> factories_;
};

// Static registration from an adapter's translation unit. Adapters are linked as
// OBJECT libraries so these objects are never dropped by the linker.
struct AdapterRegistration {
  explicit AdapterRegistration(AdapterFactory f) { FactoryTable::global().add(std::move(f)); }
};

struct AdapterState {
  std::string name;
  Category category = Category::ims;
  std::string type;
  int priority = 0;
  AdapterStatus status = AdapterStatus::starting;
  bool synced = false;
  std::string detail;
  std::chrono::system_clock::time_point last_check{};
};

class Registry {
 public:
  struct Services {
    Uuid ocloud_id;
    InventoryCache* inventory = nullptr;
    std::filesystem::path data_dir;
    AlarmSink* alarms = nullptr;
  };
  Registry(const FactoryTable& factories, Services services);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Validates every spec against its factory (unknown type, duplicate name, bad
  // section all throw ConfigError naming adapters[i]...). Does not create anything.
  static void validate(const FactoryTable& factories, const std::vector<AdapterSpec>& specs);

  // Creates and starts the enabled instances in priority order. An instance whose
  // create() or start() throws is marked failed; the others still start.
  void start(const std::vector<AdapterSpec>& specs);
  void stop();

  // Runs check_health on every active instance concurrently, waits at most `timeout`.
  void check_all(std::chrono::milliseconds timeout);
  void start_health_loop(std::chrono::milliseconds interval);

  [[nodiscard]] std::vector<AdapterState> states() const;
  // True once start() has returned and every enabled, non-failed instance finished its first sync.
  [[nodiscard]] bool all_synced() const;

  // Notified (from the health loop thread) after each round, for metrics.
  void on_states(std::function<void(const std::vector<AdapterState>&)> fn);
  // Any number of listeners, called after on_states's, in the order added.
  // Add them before start_health_loop.
  void add_states_listener(std::function<void(const std::vector<AdapterState>&)> fn);

 private:
  struct Instance;
  const FactoryTable& factories_;
  Services services_;
  std::vector<std::shared_ptr<Instance>> instances_;
  std::atomic<bool> started_{false};
  mutable std::mutex mu_;
  std::function<void(const std::vector<AdapterState>&)> on_states_;
  std::vector<std::function<void(const std::vector<AdapterState>&)>> states_listeners_;  // guarded by mu_
  std::jthread health_thread_;
  std::condition_variable_any health_cv_;
  std::mutex health_mu_;
};

}  // namespace o2gw
