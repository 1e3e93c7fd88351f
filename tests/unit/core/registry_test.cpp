#include "o2gw/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "o2gw/inventory.hpp"

namespace o2gw {
namespace {

using namespace std::chrono_literals;

struct Behaviour {
  std::chrono::milliseconds health_delay{0};
  bool healthy = true;
  bool throw_on_start = false;
  bool synced = true;
};

class FakeAdapter : public Adapter {
 public:
  explicit FakeAdapter(Behaviour b) : b_(b) {}
  void start() override {
    if (b_.throw_on_start) throw std::runtime_error("back end refused");
  }
  void stop() override { stopped = true; }
  Health check_health() override {
    std::this_thread::sleep_for(b_.health_delay);
    return {b_.healthy, b_.healthy ? "" : "back end down"};
  }
  bool synced() const override { return b_.synced; }
  std::atomic<bool> stopped{false};

 private:
  Behaviour b_;
};

void add_fake(FactoryTable& t) {
  t.add({Category::ims, "fake", "test adapter",
         [](const nlohmann::json& cfg) {
           SectionReader r(cfg, "");
           r.integer("delay_ms", 0, 0, 10000);
           r.boolean("healthy", true);
           r.boolean("throw", false);
           r.boolean("synced", true);
           r.finish();
         },
         [](const AdapterContext& ctx) {
           Behaviour b;
           b.health_delay = std::chrono::milliseconds(ctx.spec.config.value("delay_ms", 0));
           b.healthy = ctx.spec.config.value("healthy", true);
           b.throw_on_start = ctx.spec.config.value("throw", false);
           b.synced = ctx.spec.config.value("synced", true);
           return std::make_unique<FakeAdapter>(b);
         }});
}

AdapterSpec spec(std::string name, nlohmann::json cfg = nlohmann::json::object(), std::string type = "fake") {
  AdapterSpec s;
  s.name = std::move(name);
  s.type = std::move(type);
  s.config = std::move(cfg);
  s.key = "adapters[0]";
  return s;
}

AdapterStatus status_of(const Registry& r, const std::string& name) {
  for (const auto& s : r.states()) {
    if (s.name == name) return s.status;
  }
  return AdapterStatus::starting;
}

TEST(Registry, ValidateNamesUnknownTypeAndBadSection) {
  FactoryTable table;
  add_fake(table);
  try {
    Registry::validate(table, {spec("a", {}, "nope")});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "adapters[0].type");
    EXPECT_NE(e.reason().find("fake"), std::string::npos) << "lists known types: " << e.reason();
  }
  try {
    Registry::validate(table, {spec("a", {{"delay_ms", "slow"}})});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "adapters[0].config.delay_ms");
  }
}

TEST(Registry, DuplicateFactoryIsRejected) {
  FactoryTable table;
  add_fake(table);
  EXPECT_THROW(table.add({Category::ims, "fake", "", nullptr, nullptr}), std::logic_error);
  EXPECT_NO_THROW(table.add({Category::dms, "fake", "", nullptr, nullptr}));
}

TEST(Registry, TracksActiveFailedDisabledAndUnhealthy) {
  FactoryTable table;
  add_fake(table);
  InventoryCache cache;
  Registry reg(table, {Uuid::v4(), &cache, "/tmp"});
  auto disabled = spec("off");
  disabled.enabled = false;
  reg.start({spec("ok"), spec("broken", {{"throw", true}}), disabled, spec("sick", {{"healthy", false}})});
  EXPECT_EQ(status_of(reg, "ok"), AdapterStatus::active);
  EXPECT_EQ(status_of(reg, "broken"), AdapterStatus::failed);
  EXPECT_EQ(status_of(reg, "off"), AdapterStatus::disabled);
  reg.check_all(1s);
  EXPECT_EQ(status_of(reg, "ok"), AdapterStatus::active);
  EXPECT_EQ(status_of(reg, "sick"), AdapterStatus::unhealthy);
  EXPECT_TRUE(reg.all_synced());  // failed and disabled instances do not hold readiness back
}

TEST(Registry, ReadinessWaitsForFirstSync) {
  FactoryTable table;
  add_fake(table);
  InventoryCache cache;
  Registry reg(table, {Uuid::v4(), &cache, "/tmp"});
  reg.start({spec("ok"), spec("lagging", {{"synced", false}})});
  EXPECT_FALSE(reg.all_synced());
}

TEST(Registry, HealthChecksRunConcurrentlyWithATimeout) {
  FactoryTable table;
  add_fake(table);
  InventoryCache cache;
  Registry reg(table, {Uuid::v4(), &cache, "/tmp"});
  reg.start({spec("a", {{"delay_ms", 300}}), spec("b", {{"delay_ms", 300}}), spec("c", {{"delay_ms", 300}}),
             spec("stuck", {{"delay_ms", 3000}})});
  auto t0 = std::chrono::steady_clock::now();
  reg.check_all(800ms);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1500ms) << "checks ran one after another";
  EXPECT_EQ(status_of(reg, "a"), AdapterStatus::active);
  EXPECT_EQ(status_of(reg, "stuck"), AdapterStatus::unhealthy);
}

TEST(Registry, StartsInPriorityOrderAndStopsAll) {
  FactoryTable table;
  add_fake(table);
  InventoryCache cache;
  Registry reg(table, {Uuid::v4(), &cache, "/tmp"});
  auto low = spec("low");
  low.priority = 1;
  auto high = spec("high");
  high.priority = 900;
  reg.start({low, high});
  auto states = reg.states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name, "high");
  reg.stop();
}

TEST(AdapterContext, DerivedIdsAreStablePerInstanceAndKey) {
  AdapterContext a{spec("site-a"), *Uuid::parse("11111111-2222-3333-4444-555555555555"), nullptr, {}};
  AdapterContext b{spec("site-b"), a.ocloud_id, nullptr, {}};
  EXPECT_EQ(a.derive_id("resource", "node-1"), a.derive_id("resource", "node-1"));
  EXPECT_NE(a.derive_id("resource", "node-1"), b.derive_id("resource", "node-1"));
  EXPECT_NE(a.derive_id("resource", "node-1"), a.derive_id("resourcePool", "node-1"));
  EXPECT_TRUE(is_uuid(a.derive_id("resource", "node-1")));
}

}  // namespace
}  // namespace o2gw
