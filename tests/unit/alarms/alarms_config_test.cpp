#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "o2gw/config.hpp"

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

TEST(AlarmsConfig, DefaultsAndValues) {
  Config d = parse_config(nlohmann::json::object());
  EXPECT_EQ(d.alarms.retention_days, 30);
  EXPECT_EQ(d.alarms.purge_interval, std::chrono::seconds(3600));
  EXPECT_TRUE(d.alarms.alertmanager.enabled);
  EXPECT_EQ(d.alarms.alertmanager.resource_labels.front(), "o2_resource_id");
  EXPECT_EQ(d.alarms.alertmanager.severity_map.size(), 7U);

  Config c = parse_config({{"alarms",
                            {{"retention_days", 7},
                             {"purge_interval_s", 60},
                             {"alertmanager",
                              {{"enabled", false},
                               {"resource_labels", {"node"}},
                               {"definition_label", "alarm"},
                               {"severity_label", "level"},
                               {"severity_map", {{"P1", 0}, {"p2", 2}}}}}}}});
  EXPECT_EQ(c.alarms.retention_days, 7);
  EXPECT_EQ(c.alarms.purge_interval, std::chrono::seconds(60));
  EXPECT_FALSE(c.alarms.alertmanager.enabled);
  EXPECT_EQ(c.alarms.alertmanager.resource_labels, std::vector<std::string>{"node"});
  EXPECT_EQ(c.alarms.alertmanager.definition_label, "alarm");
  EXPECT_EQ(c.alarms.alertmanager.severity_label, "level");
  EXPECT_EQ(c.alarms.alertmanager.severity_map, (std::vector<std::pair<std::string, int>>{{"p1", 0}, {"p2", 2}}));
}

TEST(AlarmsConfig, BadValuesAreNamed) {
  EXPECT_EQ(error_key({{"alarms", {{"retention_days", 0}}}}), "alarms.retention_days");
  EXPECT_EQ(error_key({{"alarms", {{"purge_interval_s", "soon"}}}}), "alarms.purge_interval_s");
  EXPECT_EQ(error_key({{"alarms", {{"bogus", 1}}}}), "alarms.bogus");
  EXPECT_EQ(error_key({{"alarms", 3}}), "alarms");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"bogus", 1}}}}}}), "alarms.alertmanager.bogus");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"resource_labels", nlohmann::json::array()}}}}}}),
            "alarms.alertmanager.resource_labels");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"resource_labels", {1}}}}}}}),
            "alarms.alertmanager.resource_labels[0]");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"definition_label", ""}}}}}}),
            "alarms.alertmanager.definition_label");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"severity_map", {{"x", 5}}}}}}}}),
            "alarms.alertmanager.severity_map.x");
  EXPECT_EQ(error_key({{"alarms", {{"alertmanager", {{"token_file", "/nonexistent/token"}}}}}}),
            "alarms.alertmanager.token_file");
}

TEST(AlarmsConfig, TokenFileAndEnvironment) {
  char path[] = "/tmp/o2gw-alarms-token-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  { std::ofstream(path) << "s3cret\n"; }
  Config c = parse_config({{"alarms", {{"alertmanager", {{"token_file", path}}}}}});
  std::remove(path);
  EXPECT_EQ(c.alarms.alertmanager.token, "s3cret");

  std::string e1 = "O2GW_ALARMS__RETENTION_DAYS=9";
  char* env[] = {e1.data(), nullptr};
  Config from_env = load_config(std::nullopt, env);
  EXPECT_EQ(from_env.alarms.retention_days, 9);
}

}  // namespace
}  // namespace o2gw
