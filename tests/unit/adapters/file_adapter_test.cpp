#include "ims/file/file_adapter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
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
using test::write_file_atomically;

std::string inventory_with_servers(int count, const std::string& description_suffix = "") {
  std::string text = R"(locations:
  - globalLocationId: lab-1
    name: Lab
    address: Bench 4
sites:
  - key: lab
    location: lab-1
    name: Lab site
resourceTypes:
  - key: server
    name: Server
    vendor: Acme
    model: S1
    version: "1"
    resourceKind: PHYSICAL
    resourceClass: COMPUTE
resourcePools:
  - key: rack
    site: lab
    name: Rack
resources:
)";
  for (int i = 0; i < count; ++i) {
    text += "  - key: server-" + std::to_string(i) + "\n    pool: rack\n    type: server\n    description: Server " +
            std::to_string(i) + description_suffix + "\n";
  }
  return text;
}

constexpr std::string_view kBrokenTail = "  - key: broken\n    pool: rack\n    type: toaster\n";

class FileAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() / "inventory.yaml";
    cache_.add_listener([this](const Change& c) {
      if (c.type == ChangeType::create) ++created_;
      if (c.type == ChangeType::modify) ++modified_;
      if (c.type == ChangeType::remove) ++removed_;
    });
  }

  std::unique_ptr<Adapter> make_adapter(std::int64_t poll_ms = 50) {
    const AdapterFactory* factory = FactoryTable::global().find(Category::ims, "file");
    if (factory == nullptr) throw std::runtime_error("file adapter not registered");
    json config = {{"path", path_.string()}, {"poll_interval_ms", poll_ms}};
    factory->validate(config);
    return factory->create(make_adapter_context("lab-file", &cache_, config));
  }

  test::TempDir dir_;
  std::filesystem::path path_;
  InventoryCache cache_;
  std::atomic<int> created_{0};
  std::atomic<int> modified_{0};
  std::atomic<int> removed_{0};
};

TEST_F(FileAdapterTest, FollowsEditsAndKeepsTheLastGoodVersion) {
  write_file_atomically(path_, inventory_with_servers(3));
  auto adapter = make_adapter();
  adapter->start();
  // The first load happens inside start(): synced at once.
  EXPECT_TRUE(adapter->synced());
  EXPECT_TRUE(adapter->check_health().ok) << adapter->check_health().detail;
  EXPECT_EQ(cache_.count(Kind::resource), 3u);

  write_file_atomically(path_, inventory_with_servers(5));
  ASSERT_TRUE(eventually([&] { return cache_.count(Kind::resource) == 5; }));
  EXPECT_EQ(removed_.load(), 0);

  // A broken edit: an unknown type on a known line.
  const std::string broken = inventory_with_servers(5) + std::string(kBrokenTail);
  const int broken_line = test::line_containing(broken, "type: toaster");
  write_file_atomically(path_, broken);
  ASSERT_TRUE(eventually([&] { return !adapter->check_health().ok; }));
  const Health unhealthy = adapter->check_health();
  EXPECT_NE(unhealthy.detail.find(path_.string() + ":" + std::to_string(broken_line) + ":"), std::string::npos)
      << unhealthy.detail;
  EXPECT_NE(unhealthy.detail.find("toaster"), std::string::npos) << unhealthy.detail;
  EXPECT_TRUE(adapter->synced()) << "a bad edit must not take readiness away";
  EXPECT_EQ(cache_.count(Kind::resource), 5u) << "the last good version is still served";
  EXPECT_EQ(removed_.load(), 0);

  // Fixed, with one description changed and one server fewer.
  modified_ = 0;
  write_file_atomically(path_, inventory_with_servers(4, " (moved)"));
  ASSERT_TRUE(eventually([&] { return adapter->check_health().ok; })) << adapter->check_health().detail;
  EXPECT_EQ(cache_.count(Kind::resource), 4u);
  EXPECT_EQ(removed_.load(), 1);
  EXPECT_EQ(modified_.load(), 4);
  adapter->stop();
}

TEST_F(FileAdapterTest, SeesAnInPlaceRewrite) {
  write_file_atomically(path_, inventory_with_servers(2));
  auto adapter = make_adapter();
  adapter->start();
  ASSERT_EQ(cache_.count(Kind::resource), 2u);
  {
    // Same inode, truncated and rewritten, as `cat > file` does.
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << inventory_with_servers(7);
  }
  EXPECT_TRUE(eventually([&] { return cache_.count(Kind::resource) == 7; }));
  adapter->stop();
}

TEST_F(FileAdapterTest, BadFirstFileStartsUnsyncedUntilFixed) {
  const std::string broken = inventory_with_servers(1) + std::string(kBrokenTail);
  write_file_atomically(path_, broken);
  auto adapter = make_adapter();
  EXPECT_NO_THROW(adapter->start());
  EXPECT_FALSE(adapter->synced());
  const Health health = adapter->check_health();
  EXPECT_FALSE(health.ok);
  EXPECT_NE(health.detail.find(":" + std::to_string(test::line_containing(broken, "toaster")) + ":"), std::string::npos)
      << health.detail;
  EXPECT_EQ(cache_.count(Kind::resource), 0u);

  write_file_atomically(path_, inventory_with_servers(2));
  EXPECT_TRUE(eventually([&] { return adapter->synced() && adapter->check_health().ok; }));
  EXPECT_EQ(cache_.count(Kind::resource), 2u);
  adapter->stop();
}

TEST_F(FileAdapterTest, MissingFileIsReportedAndPickedUpWhenItAppears) {
  auto adapter = make_adapter();
  adapter->start();
  EXPECT_FALSE(adapter->synced());
  EXPECT_NE(adapter->check_health().detail.find("cannot read"), std::string::npos) << adapter->check_health().detail;

  write_file_atomically(path_, inventory_with_servers(1));
  EXPECT_TRUE(eventually([&] { return adapter->synced(); }));
  EXPECT_EQ(cache_.count(Kind::resource), 1u);
  adapter->stop();
}

TEST_F(FileAdapterTest, StopIsPromptEvenWithALongPollInterval) {
  write_file_atomically(path_, inventory_with_servers(1));
  auto adapter = make_adapter(600000);
  adapter->start();
  const auto began = std::chrono::steady_clock::now();
  adapter->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(1));
  adapter->stop();  // idempotent
}

TEST(FileAdapterConfigTest, ValidatesItsSection) {
  const AdapterFactory* factory = FactoryTable::global().find(Category::ims, "file");
  ASSERT_NE(factory, nullptr);
  EXPECT_NO_THROW(factory->validate(json{{"path", "inventory.yaml"}}));
  EXPECT_NO_THROW(factory->validate(json{{"path", "x.yaml"}, {"poll_interval_ms", 50}}));

  auto key_of_error = [&](const json& config) -> std::string {
    try {
      factory->validate(config);
    } catch (const ConfigError& e) {
      return e.key();
    }
    return "(accepted)";
  };
  EXPECT_EQ(key_of_error(json::object()), "path");
  EXPECT_EQ(key_of_error(json{{"path", ""}}), "path");
  EXPECT_EQ(key_of_error(json{{"path", "x.yaml"}, {"poll_msec", 100}}), "poll_msec");
  EXPECT_EQ(key_of_error(json{{"path", "x.yaml"}, {"poll_interval_ms", 10}}), "poll_interval_ms");
  EXPECT_EQ(key_of_error(json{{"path", "x.yaml"}, {"poll_interval_ms", 600001}}), "poll_interval_ms");
}

TEST(FileAdapterConfigTest, OptionsCarryTheDefaults) {
  const FileAdapterOptions options = FileAdapterOptions::parse(json{{"path", "a/b.yaml"}});
  EXPECT_EQ(options.path, std::filesystem::path("a/b.yaml"));
  EXPECT_EQ(options.poll_interval, std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace o2gw::ims
