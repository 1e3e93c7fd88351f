#include "o2gw/registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace o2gw {

std::string_view status_name(AdapterStatus s) {
  switch (s) {
    case AdapterStatus::starting: return "starting";
    case AdapterStatus::active: return "active";
    case AdapterStatus::disabled: return "disabled";
    case AdapterStatus::failed: return "failed";
    case AdapterStatus::unhealthy: return "unhealthy";
  }
  return "unknown";
}

std::string AdapterContext::derive_id(std::string_view kind, std::string_view backend_key) const {
  std::string name;
  name.reserve(spec.name.size() + kind.size() + backend_key.size() + 2);
  name.append(spec.name).append("/").append(kind).append("/").append(backend_key);
  return Uuid::v5(ocloud_id, name).str();
}

FactoryTable& FactoryTable::global() {
  static FactoryTable table;
  return table;
}

void FactoryTable::add(AdapterFactory f) {
  std::lock_guard lock(mu_);
  for (const auto& existing : factories_) {
    if (existing.category == f.category && existing.type == f.type) {
      throw std::logic_error("adapter factory registered twice: " + std::string(category_name(f.category)) +
                             "/" + f.type);
    }
  }
  factories_.push_back(std::move(f));
}

const AdapterFactory* FactoryTable::find(Category c, std::string_view type) const {
  std::lock_guard lock(mu_);
  for (const auto& f : factories_) {
    if (f.category == c && f.type == type) return &f;
  }
  return nullptr;
}

std::vector<std::pair<Category, std::string>> FactoryTable::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<Category, std::string>> out;
  for (const auto& f : factories_) out.emplace_back(f.category, f.type);
  std::sort(out.begin(), out.end());
  return out;
}

struct Registry::Instance {
  AdapterSpec spec;
  std::unique_ptr<Adapter> adapter;
  mutable std::mutex mu;
  AdapterStatus status = AdapterStatus::starting;
  std::string detail;
  std::chrono::system_clock::time_point last_check{};
};

Registry::Registry(const FactoryTable& factories, Services services)
    : factories_(factories), services_(std::move(services)) {}

Registry::~Registry() { stop(); }

void Registry::validate(const FactoryTable& factories, const std::vector<AdapterSpec>& specs) {
  for (const auto& spec : specs) {
    const AdapterFactory* f = factories.find(spec.category, spec.type);
    if (f == nullptr) {
      std::string known;
      for (const auto& [cat, type] : factories.names()) {
        if (cat != spec.category) continue;
        known += known.empty() ? type : ", " + type;
      }
      throw ConfigError(spec.key + ".type", "no " + std::string(category_name(spec.category)) +
                                                " adapter named '" + spec.type + "' (known: " +
                                                (known.empty() ? "none" : known) + ")");
    }
    try {
      if (f->validate) f->validate(spec.config);
    } catch (const ConfigError& e) {
      throw ConfigError(spec.key + ".config." + e.key(), e.reason());
    }
  }
}

void Registry::start(const std::vector<AdapterSpec>& specs) {
  std::vector<AdapterSpec> ordered = specs;
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const AdapterSpec& a, const AdapterSpec& b) { return a.priority > b.priority; });
  // Every instance is listed (as starting or disabled) before any is created, so
  // /readyz and /admin/v1/adapters show the whole set while a slow one starts.
  std::vector<std::shared_ptr<Instance>> created;
  {
    std::lock_guard lock(mu_);
    for (const auto& spec : ordered) {
      auto inst = std::make_shared<Instance>();
      inst->spec = spec;
      if (!spec.enabled) {
        inst->status = AdapterStatus::disabled;
        inst->detail = "disabled in config";
      }
      instances_.push_back(inst);
      created.push_back(std::move(inst));
    }
  }
  for (auto& inst : created) {
    const AdapterSpec& spec = inst->spec;
    if (!spec.enabled) continue;
    const AdapterFactory* f = factories_.find(spec.category, spec.type);
    std::unique_ptr<Adapter> adapter;
    AdapterStatus status = AdapterStatus::active;
    std::string detail;
    try {
      if (f == nullptr) throw std::runtime_error("no factory for type " + spec.type);
      AdapterContext ctx{spec, services_.ocloud_id, services_.inventory, services_.data_dir, services_.alarms};
      adapter = f->create(ctx);
      adapter->start();
      spdlog::info("adapter {} ({}/{}) started", spec.name, category_name(spec.category), spec.type);
    } catch (const std::exception& e) {
      status = AdapterStatus::failed;
      detail = e.what();
      adapter.reset();
      spdlog::error("adapter {} ({}/{}) failed to start: {}", spec.name, category_name(spec.category), spec.type,
                    e.what());
    }
    std::lock_guard lock(inst->mu);
    inst->adapter = std::move(adapter);
    inst->status = status;
    inst->detail = std::move(detail);
  }
  started_ = true;
}

void Registry::stop() {
  if (health_thread_.joinable()) {
    health_thread_.request_stop();
    health_cv_.notify_all();
    health_thread_.join();
  }
  std::vector<std::shared_ptr<Instance>> insts;
  {
    std::lock_guard lock(mu_);
    insts = instances_;
  }
  for (auto& inst : insts) {
    if (inst->adapter) {
      try {
        inst->adapter->stop();
      } catch (const std::exception& e) {
        spdlog::warn("adapter {} stop failed: {}", inst->spec.name, e.what());
      }
    }
  }
}

void Registry::check_all(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<Instance>> insts;
  {
    std::lock_guard lock(mu_);
    insts = instances_;
  }
  struct Pending {
    std::shared_ptr<Instance> inst;
    std::future<Health> result;
  };
  std::vector<Pending> pending;
  for (auto& inst : insts) {
    if (!inst->adapter) continue;
    // Each check runs on its own thread so one slow back end does not delay the rest.
    pending.push_back({inst, std::async(std::launch::async, [inst] { return inst->adapter->check_health(); })});
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& p : pending) {
    Health h;
    if (p.result.wait_until(deadline) != std::future_status::ready) {
      h = {false, "health check timed out after " + std::to_string(timeout.count()) + " ms"};
    } else {
      try {
        h = p.result.get();
      } catch (const std::exception& e) {
        h = {false, std::string("health check threw: ") + e.what()};
      }
    }
    std::lock_guard lock(p.inst->mu);
    AdapterStatus next = h.ok ? AdapterStatus::active : AdapterStatus::unhealthy;
    if (next != p.inst->status) {
      spdlog::log(h.ok ? spdlog::level::info : spdlog::level::warn, "adapter {} is now {}{}{}", p.inst->spec.name,
                  status_name(next), h.detail.empty() ? "" : ": ", h.detail);
    }
    p.inst->status = next;
    p.inst->detail = h.detail;
    p.inst->last_check = std::chrono::system_clock::now();
  }
  // A timed-out std::async future blocks in its destructor; detach the wait onto a thread.
  for (auto& p : pending) {
    if (p.result.valid() && p.result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      std::thread([f = std::move(p.result)]() mutable { f.wait(); }).detach();
    }
  }
  const std::vector<AdapterState> now = states();
  if (on_states_) on_states_(now);
  std::vector<std::function<void(const std::vector<AdapterState>&)>> listeners;
  {
    std::lock_guard lock(mu_);
    listeners = states_listeners_;
  }
  for (const auto& listener : listeners) listener(now);
}

void Registry::start_health_loop(std::chrono::milliseconds interval) {
  health_thread_ = std::jthread([this, interval](std::stop_token st) {
    while (!st.stop_requested()) {
      check_all(std::max(interval / 2, std::chrono::milliseconds(100)));
      std::unique_lock lock(health_mu_);
      health_cv_.wait_for(lock, st, interval, [] { return false; });
    }
  });
}

std::vector<AdapterState> Registry::states() const {
  std::vector<std::shared_ptr<Instance>> insts;
  {
    std::lock_guard lock(mu_);
    insts = instances_;
  }
  std::vector<AdapterState> out;
  for (const auto& inst : insts) {
    AdapterState s;
    s.name = inst->spec.name;
    s.category = inst->spec.category;
    s.type = inst->spec.type;
    s.priority = inst->spec.priority;
    std::lock_guard lock(inst->mu);
    s.synced = inst->adapter && inst->adapter->synced();
    s.status = inst->status;
    s.detail = inst->detail;
    s.last_check = inst->last_check;
    out.push_back(std::move(s));
  }
  return out;
}

bool Registry::all_synced() const {
  if (!started_) return false;
  for (const auto& s : states()) {
    if (s.status == AdapterStatus::disabled || s.status == AdapterStatus::failed) continue;
    if (!s.synced) return false;
  }
  return true;
}

void Registry::on_states(std::function<void(const std::vector<AdapterState>&)> fn) { on_states_ = std::move(fn); }

void Registry::add_states_listener(std::function<void(const std::vector<AdapterState>&)> fn) {
  std::lock_guard lock(mu_);
  states_listeners_.push_back(std::move(fn));
}

}  // namespace o2gw
