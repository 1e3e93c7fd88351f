#include "o2gw/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace o2gw {
namespace {

std::string error_key(const nlohmann::json& doc) {
  try {
    parse_config(doc);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}

TEST(Config, DefaultsServeTheExampleInventory) {
  Config c = parse_config(default_config_document());
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.listen_address, "0.0.0.0");
  ASSERT_EQ(c.adapters.size(), 1u);
  EXPECT_EQ(c.adapters[0].type, "file");
  EXPECT_EQ(c.adapters[0].config["path"], "deploy/inventory/example-inventory.yaml");
  EXPECT_TRUE(c.ocloud.id.size() == 36);
}

TEST(Config, OCloudIdIsStableForAName) {
  auto a = parse_config(nlohmann::json{{"ocloud", {{"name", "east"}}}});
  auto b = parse_config(nlohmann::json{{"ocloud", {{"name", "east"}}}});
  auto c = parse_config(nlohmann::json{{"ocloud", {{"name", "west"}}}});
  EXPECT_EQ(a.ocloud.id, b.ocloud.id);
  EXPECT_NE(a.ocloud.id, c.ocloud.id);
}

TEST(Config, UnknownKeysAreNamed) {
  EXPECT_EQ(error_key({{"server", {{"limits", {{"header_byts", 1}}}}}}), "server.limits.header_byts");
  EXPECT_EQ(error_key({{"sever", nlohmann::json::object()}}), "sever");
  EXPECT_EQ(error_key({{"adapters", {{{"name", "x"}, {"type", "file"}, {"colour", "red"}}}}}), "adapters[0].colour");
}

TEST(Config, BadValuesAreNamed) {
  EXPECT_EQ(error_key({{"server", {{"listen", "nohostport"}}}}), "server.listen");
  EXPECT_EQ(error_key({{"server", {{"listen", "0.0.0.0:70000"}}}}), "server.listen");
  EXPECT_EQ(error_key({{"server", {{"limits", {{"header_bytes", 10}}}}}}), "server.limits.header_bytes");
  EXPECT_EQ(error_key({{"server", {{"threads", "many"}}}}), "server.threads");
  EXPECT_EQ(error_key({{"ocloud", {{"id", "not-a-uuid"}}}}), "ocloud.id");
  EXPECT_EQ(error_key({{"log", {{"level", "loud"}}}}), "log.level");
  EXPECT_EQ(error_key({{"adapters", {{{"type", "file"}}}}}), "adapters[0].name");
  EXPECT_EQ(error_key({{"adapters", {{{"name", "a"}, {"type", "file"}, {"category", "xyz"}}}}}),
            "adapters[0].category");
  EXPECT_EQ(error_key({{"adapters", {{{"name", "a"}, {"type", "file"}}, {{"name", "a"}, {"type", "file"}}}}}),
            "adapters[1].name");
}

TEST(Config, YamlSyntaxErrorNamesFileAndLine) {
  try {
    yaml_to_json("server:\n  listen: [1, 2\n", "o2gw.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key().rfind("o2gw.yaml:", 0), 0u) << e.key();
  }
}

TEST(Config, YamlScalarsAreTyped) {
  auto j = yaml_to_json("a: 12\nb: true\nc: '12'\nd: hello\ne: 1.5\n", "t");
  EXPECT_TRUE(j["a"].is_number_integer());
  EXPECT_TRUE(j["b"].is_boolean());
  EXPECT_TRUE(j["c"].is_string());
  EXPECT_EQ(j["d"], "hello");
  EXPECT_DOUBLE_EQ(j["e"].get<double>(), 1.5);
}

TEST(Config, EnvironmentOverridesFile) {
  char path[] = "/tmp/o2gw-config-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "server:\n  listen: 127.0.0.1:9000\nadapters:\n  - name: f\n    type: file\n    config: {path: a.yaml}\n";
  }
  std::string e1 = "O2GW_SERVER__LIMITS__HEADER_BYTES=2048";
  std::string e2 = "O2GW_ADAPTERS__0__CONFIG__PATH=b.yaml";
  std::string e3 = "O2GW_LOG__LEVEL=debug";
  std::string e4 = "UNRELATED=1";
  char* env[] = {e1.data(), e2.data(), e3.data(), e4.data(), nullptr};
  Config c = load_config(std::filesystem::path(path), env);
  std::remove(path);
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.header_limit, 2048u);
  EXPECT_EQ(c.adapters[0].config["path"], "b.yaml");
  EXPECT_EQ(c.log_level, "debug");
}

TEST(Config, EnvironmentOverrideWithBadValueIsNamed) {
  std::string e1 = "O2GW_SERVER__THREADS=lots";
  char* env[] = {e1.data(), nullptr};
  try {
    load_config(std::nullopt, env);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "server.threads");
  }
}

TEST(SectionReader, RejectsUnreadKeys) {
  SectionReader r(nlohmann::json{{"path", "x"}, {"poll_msec", 5}}, "adapters[0].config");
  EXPECT_EQ(r.string("path"), "x");
  EXPECT_EQ(r.integer("poll_ms", 100, 1, 1000), 100);
  try {
    r.finish();
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "adapters[0].config.poll_msec");
  }
}

}  // namespace
}  // namespace o2gw
