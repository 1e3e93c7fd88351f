#include "ims/simulator/simulator_adapter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"
#include "unit/adapters/adapter_test_support.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using test::eventually;
using test::make_adapter_context;

std::unique_ptr<Adapter> make_simulator(InventoryCache& cache, const json& config, const std::string& name = "sim") {
  const AdapterFactory* factory = FactoryTable::global().find(Category::ims, "simulator");
  if (factory == nullptr) throw std::runtime_error("simulator adapter not registered");
  factory->validate(config);
  return factory->create(make_adapter_context(name, &cache, config));
}

std::map<std::pair<Kind, std::string>, std::string> snapshot(const InventoryCache& cache) {
  std::map<std::pair<Kind, std::string>, std::string> out;
  for (std::size_t k = 0; k < kKindCount; ++k) {
    cache.visit(static_cast<Kind>(k), [&](const InventoryObject& o) { out[{o.kind, o.id}] = o.json; });
  }
  return out;
}

TEST(SimulatorAdapterTest, GeneratesPoolsTimesResourcesPerPool) {
  InventoryCache cache;
  auto sim = make_simulator(cache, json{{"pools", 3}, {"resources_per_pool", 50}, {"sites", 2}});
  sim->start();
  EXPECT_TRUE(sim->synced());
  EXPECT_TRUE(sim->check_health().ok);
  EXPECT_EQ(cache.count(Kind::resource), 3u * 50u);
  EXPECT_EQ(cache.count(Kind::resource_pool), 3u);
  EXPECT_EQ(cache.count(Kind::ocloud_site), 2u);
  EXPECT_EQ(cache.count(Kind::location), 2u);
  EXPECT_EQ(cache.count(Kind::deployment_manager), 2u);
  EXPECT_GE(cache.count(Kind::resource_type), 3u);
  EXPECT_EQ(cache.count(Kind::alarm_dictionary), cache.count(Kind::resource_type));

  // Every resource sits in a pool that exists and has a type that exists.
  std::size_t with_elements = 0;
  cache.visit(Kind::resource, [&](const InventoryObject& r) {
    EXPECT_NE(cache.get(Kind::resource_pool, r.parent_id), nullptr) << r.id;
    EXPECT_NE(cache.get(Kind::resource_type, r.doc["resourceTypeId"].get<std::string>()), nullptr);
    EXPECT_TRUE(r.doc["extensions"].contains("hostname"));
    if (!r.doc["elements"].empty()) ++with_elements;
  });
  EXPECT_GT(with_elements, 0u);
  // Computed references hold together.
  cache.visit(Kind::ocloud_site, [&](const InventoryObject& site) {
    EXPECT_FALSE(site.doc["resourcePools"].empty());
    EXPECT_NE(cache.get(Kind::location, site.doc["globalLocationId"].get<std::string>()), nullptr);
  });
  sim->stop();
}

TEST(SimulatorAdapterTest, SameSeedSameInventoryOtherSeedOtherContent) {
  const json config = {{"pools", 2}, {"resources_per_pool", 30}, {"seed", 7}};
  InventoryCache a;
  InventoryCache b;
  InventoryCache c;
  make_simulator(a, config)->start();
  make_simulator(b, config)->start();
  json other = config;
  other["seed"] = 8;
  make_simulator(c, other)->start();
  const auto first = snapshot(a);
  EXPECT_EQ(first, snapshot(b));
  const auto third = snapshot(c);
  ASSERT_EQ(first.size(), third.size());
  std::size_t differing = 0;
  for (const auto& [key, json_text] : first) {
    auto it = third.find(key);
    ASSERT_NE(it, third.end()) << "ids come from names, not from the seed";
    if (it->second != json_text) ++differing;
  }
  EXPECT_GT(differing, 0u);
}

TEST(SimulatorAdapterTest, ChurnModifiesResources) {
  InventoryCache cache;
  std::atomic<int> modified{0};
  std::atomic<int> other_changes{0};
  cache.add_listener([&](const Change& c) {
    if (c.type == ChangeType::modify && c.kind == Kind::resource) {
      ++modified;
    } else if (c.type != ChangeType::create) {
      ++other_changes;
    }
  });
  auto sim = make_simulator(cache, json{{"pools", 2}, {"resources_per_pool", 100}, {"churn_per_second", 200}});
  sim->start();
  EXPECT_TRUE(eventually([&] { return modified.load() >= 10; }, std::chrono::seconds(5))) << modified.load();
  sim->stop();
  EXPECT_EQ(other_changes.load(), 0);
  EXPECT_EQ(cache.count(Kind::resource), 200u);
}

TEST(SimulatorAdapterTest, ChurnStepChangesDistinctResources) {
  InventoryCache cache;
  AdapterContext ctx = make_adapter_context("sim", &cache);
  SimulatorOptions options;
  options.pools = 1;
  options.resources_per_pool = 40;
  SimulatorAdapter sim(ctx, options);
  sim.start();
  const auto before = snapshot(cache);
  EXPECT_EQ(sim.churn(10), 10u);
  const auto after = snapshot(cache);
  std::size_t changed = 0;
  for (const auto& [key, text] : before) changed += after.at(key) != text ? 1 : 0;
  EXPECT_EQ(changed, 10u);
  EXPECT_EQ(sim.churn(1000), 40u) << "a step never exceeds the resources there are";
  sim.stop();
}

TEST(SimulatorAdapterConfigTest, ValidatesItsSection) {
  const AdapterFactory* factory = FactoryTable::global().find(Category::ims, "simulator");
  ASSERT_NE(factory, nullptr);
  EXPECT_NO_THROW(factory->validate(json::object()));
  auto key_of_error = [&](const json& config) -> std::string {
    try {
      factory->validate(config);
    } catch (const ConfigError& e) {
      return e.key();
    }
    return "(accepted)";
  };
  EXPECT_EQ(key_of_error(json{{"pool", 3}}), "pool");
  EXPECT_EQ(key_of_error(json{{"pools", -1}}), "pools");
  EXPECT_EQ(key_of_error(json{{"sites", 0}}), "sites");
  EXPECT_EQ(key_of_error(json{{"churn_per_second", -5}}), "churn_per_second");
  EXPECT_EQ(key_of_error(json{{"pools", 100000}, {"resources_per_pool", 1000000}}), "resources_per_pool");
  const SimulatorOptions defaults = SimulatorOptions::parse(json::object());
  EXPECT_EQ(defaults.pools, 10);
  EXPECT_EQ(defaults.resources_per_pool, 1000);
  EXPECT_EQ(defaults.sites, 2);
  EXPECT_EQ(defaults.churn_per_second, 0);
  EXPECT_EQ(defaults.seed, 1u);
}

TEST(SimulatorAdapterTest, LoadsTenThousandResourcesQuickly) {
  // A loose bound that holds in a debug build; the release figure for 100,000
  // resources is recorded in docs/inventory-file.md.
  InventoryCache cache;
  auto sim = make_simulator(cache, json{{"pools", 10}, {"resources_per_pool", 1000}});
  const auto began = std::chrono::steady_clock::now();
  sim->start();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(20));
  EXPECT_EQ(cache.count(Kind::resource), 10000u);
}

TEST(InventoryAdapterRegistrationTest, ImsAdaptersAreRegistered) {
  const FactoryTable& table = FactoryTable::global();
  for (const char* type : {"file", "simulator"}) {
    const AdapterFactory* factory = table.find(Category::ims, type);
    ASSERT_NE(factory, nullptr) << type;
    EXPECT_EQ(factory->type, type);
    EXPECT_EQ(factory->category, Category::ims);
    EXPECT_FALSE(factory->summary.empty());
  }
  EXPECT_EQ(table.find(Category::dms, "file"), nullptr);
  EXPECT_EQ(table.find(Category::ims, "no-such-adapter"), nullptr);
}

}  // namespace
}  // namespace o2gw::ims
