// The file IMS adapter in the real binary: edits to the inventory file are
// served within a bound, a broken edit keeps the last good inventory and is
// reported (file and line) until it is fixed, and readiness waits for a first
// good load.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

const std::string kV2 = "/o2ims-infrastructureInventory/v2";
const std::string kInstance = "reload-file";
constexpr auto kReloadBound = 3s;  // poll every 100 ms, health every 100 ms: generous

std::string reload_config(const std::filesystem::path& inventory) {
  return "registry:\n"
         "  health_interval_ms: 100\n"
         "adapters:\n"
         "  - name: " +
         kInstance +
         "\n"
         "    category: ims\n"
         "    type: file\n"
         "    config:\n"
         "      path: " +
         inventory.string() +
         "\n"
         "      poll_interval_ms: 100\n";
}

std::string example_text() {
  return read_file_text(source_dir() / "deploy" / "inventory" / "example-inventory.yaml");
}

// Rewrites the description of resources[index] in the inventory text, keeping
// the rest byte for byte. Works on whatever form the value has (plain, quoted,
// folded over several lines): the value's lines are replaced by one quoted line.
std::string with_resource_description(const std::string& text, std::size_t index, const std::string& description) {
  YAML::Node root = YAML::Load(text);
  YAML::Node resource = root["resources"][index];
  if (!resource.IsMap()) throw std::runtime_error("the inventory has no resources[" + std::to_string(index) + "]");
  std::optional<YAML::Mark> key_mark;
  for (const auto& kv : resource) {
    if (kv.first.as<std::string>() == "description") key_mark = kv.first.Mark();
  }
  if (!key_mark) throw std::runtime_error("resources[" + std::to_string(index) + "] has no description");
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  auto line = static_cast<std::size_t>(key_mark->line);
  auto column = static_cast<std::size_t>(key_mark->column);
  lines[line] = lines[line].substr(0, column) + "description: \"" + description + "\"";
  // Continuation lines of the old value are more indented than the key.
  std::size_t end = line + 1;
  while (end < lines.size()) {
    const std::string& l = lines[end];
    auto indent = l.find_first_not_of(' ');
    if (indent != std::string::npos && indent <= column) break;
    ++end;
  }
  // Keep trailing blank lines of the removed range (they separate entries).
  while (end > line + 1 && lines[end - 1].find_first_not_of(' ') == std::string::npos) --end;
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(line + 1), lines.begin() + static_cast<std::ptrdiff_t>(end));
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 < lines.size()) out += '\n';
  }
  return out;
}

// The id of resources[0] as served: found by its unique description.
struct ServedResource {
  std::string pool_id;
  std::string resource_id;
  std::string path;
};

ServedResource find_resource_by_description(std::uint16_t port, const std::string& description) {
  for (const auto& pool : http_get(port, kV2 + "/resourcePools").json()) {
    std::string pool_id = pool["resourcePoolId"].get<std::string>();
    for (const auto& r : http_get(port, kV2 + "/resourcePools/" + pool_id + "/resources").json()) {
      if (r.value("description", "") == description) {
        std::string id = r["resourceId"].get<std::string>();
        return {pool_id, id, kV2 + "/resourcePools/" + pool_id + "/resources/" + id};
      }
    }
  }
  throw std::runtime_error("no served resource has the description '" + description + "'");
}

std::string served_description(std::uint16_t port, const std::string& path) {
  HttpResponse res = http_get(port, path);
  if (res.status != 200) return "<status " + std::to_string(res.status) + ">";
  return res.json().value("description", "");
}

nlohmann::json adapter_state(std::uint16_t port) {
  for (const auto& a : http_get(port, "/admin/v1/adapters").json()) {
    if (a.value("name", "") == kInstance) return a;
  }
  return nullptr;
}

double changes(std::uint16_t port, const std::string& type) {
  return metric_sum(scrape_metrics(port), "o2gw_inventory_changes_total", {{"kind", "resource"}, {"type", type}});
}

TEST(FileReloadTest, EditsAreServedAndABrokenFileKeepsTheLastGoodInventory) {
  TempDir dir;
  const std::string original = example_text();
  auto inventory = dir.write("inventory.yaml", original);
  GatewayProcess gw({.config_yaml = reload_config(inventory)});

  const std::string first_description = YAML::Load(original)["resources"][0]["description"].as<std::string>();
  ServedResource target = find_resource_by_description(gw.port(), first_description);
  const auto pools_before = http_get(gw.port(), kV2 + "/resourcePools").json();
  double modified_before = changes(gw.port(), "modify");
  EXPECT_EQ(adapter_state(gw.port()).value("status", ""), "active");

  // 1. An edit is served within the bound, as one modify change.
  const std::string edited = with_resource_description(original, 0, "edited by the reload test, step 1");
  ASSERT_NE(edited, original);
  write_file_atomically(inventory, edited);
  EXPECT_TRUE(eventually(
      [&] { return served_description(gw.port(), target.path) == "edited by the reload test, step 1"; }, kReloadBound))
      << "still serving: " << served_description(gw.port(), target.path);
  EXPECT_TRUE(eventually([&] { return changes(gw.port(), "modify") == modified_before + 1; }, 2s))
      << "o2gw_inventory_changes_total{kind=resource,type=modify} is " << changes(gw.port(), "modify") << ", was "
      << modified_before;
  // Same object, same id: an edit is not a delete and create.
  EXPECT_EQ(http_get(gw.port(), target.path).json().value("resourceId", ""), target.resource_id);

  // 2. A broken file: the last good inventory keeps being served, the adapter
  // reports the file and line, and readiness stays (the cache is still good).
  std::string broken = edited;
  if (broken.back() != '\n') broken += '\n';
  const auto bad_line = std::count(broken.begin(), broken.end(), '\n') + 1;
  broken += "resourcePoolz: []\n";  // an unknown top-level key on a known line
  write_file_atomically(inventory, broken);
  nlohmann::json state;
  EXPECT_TRUE(eventually(
      [&] {
        state = adapter_state(gw.port());
        return state.value("status", "") == "unhealthy";
      },
      kReloadBound))
      << "adapter state: " << state.dump();
  std::string detail = state.value("detail", "");
  EXPECT_NE(detail.find(inventory.string() + ":" + std::to_string(bad_line)), std::string::npos)
      << "detail should name " << inventory.string() << ":" << bad_line << ": " << detail;
  EXPECT_NE(detail.find("resourcePoolz"), std::string::npos) << detail;
  EXPECT_EQ(served_description(gw.port(), target.path), "edited by the reload test, step 1");
  EXPECT_EQ(http_get(gw.port(), kV2 + "/resourcePools").json(), pools_before);
  EXPECT_EQ(http_get(gw.port(), "/readyz").status, 200);
  EXPECT_EQ(metric_sum(scrape_metrics(gw.port()), "o2gw_adapter_up", {{"instance", kInstance}}), 0.0);

  // 3. Fixed: healthy again and the new content is served.
  write_file_atomically(inventory, with_resource_description(original, 0, "fixed by the reload test, step 3"));
  EXPECT_TRUE(eventually(
      [&] { return served_description(gw.port(), target.path) == "fixed by the reload test, step 3"; }, kReloadBound));
  EXPECT_TRUE(eventually([&] { return adapter_state(gw.port()).value("status", "") == "active"; }, kReloadBound))
      << adapter_state(gw.port()).dump();
  EXPECT_TRUE(eventually([&] { return changes(gw.port(), "modify") == modified_before + 2; }, 2s));
  EXPECT_EQ(metric_sum(scrape_metrics(gw.port()), "o2gw_adapter_up", {{"instance", kInstance}}), 1.0);

  // 4. Back to the original: the first description again.
  write_file_atomically(inventory, original);
  EXPECT_TRUE(
      eventually([&] { return served_description(gw.port(), target.path) == first_description; }, kReloadBound));
}

TEST(FileReloadTest, RemovedAndAddedResourcesAreServed) {
  TempDir dir;
  const std::string original = example_text();
  auto inventory = dir.write("inventory.yaml", original);
  GatewayProcess gw({.config_yaml = reload_config(inventory)});
  const std::string first_description = YAML::Load(original)["resources"][0]["description"].as<std::string>();
  ServedResource target = find_resource_by_description(gw.port(), first_description);
  double removed_before = changes(gw.port(), "delete");
  double created_before = changes(gw.port(), "create");

  // Renaming the key of resources[0] is a removal plus a creation (ids derive from keys).
  YAML::Node root = YAML::Load(original);
  const std::string old_key = root["resources"][0]["key"].as<std::string>();
  std::string renamed = original;
  const std::string needle = "key: " + old_key + "\n";
  auto at = renamed.find(needle, renamed.find("\nresources:"));
  ASSERT_NE(at, std::string::npos) << "cannot find '" << needle << "' under resources";
  renamed.replace(at, needle.size(), "key: " + old_key + "-renamed\n");
  write_file_atomically(inventory, renamed);

  EXPECT_TRUE(eventually([&] { return http_get(gw.port(), target.path).status == 404; }, kReloadBound));
  EXPECT_TRUE(IsProblem(http_get(gw.port(), target.path), 404, target.path));
  ServedResource moved = find_resource_by_description(gw.port(), first_description);
  EXPECT_NE(moved.resource_id, target.resource_id);
  EXPECT_EQ(moved.pool_id, target.pool_id);
  EXPECT_TRUE(eventually(
      [&] {
        return changes(gw.port(), "delete") == removed_before + 1 && changes(gw.port(), "create") == created_before + 1;
      },
      2s));
}

TEST(FileReloadTest, ReadinessWaitsForAFirstGoodLoad) {
  TempDir dir;
  auto inventory = dir.write("inventory.yaml", "resources: [\n  {key: broken\n");  // YAML syntax error
  GatewayOptions opts{.config_yaml = reload_config(inventory), .wait_ready = false};
  GatewayProcess gw(opts);

  // The adapter is registered a moment after the port opens (adapters start off the I/O threads).
  HttpResponse res;
  EXPECT_TRUE(eventually(
      [&] {
        res = http_get(gw.port(), "/readyz");
        return res.body.find(kInstance) != std::string::npos;
      },
      5s));
  EXPECT_TRUE(IsProblem(res, 503, "/readyz"));
  auto body = res.json();
  ASSERT_TRUE(body.contains("adapters")) << res.body;
  bool listed = false;
  for (const auto& a : body["adapters"]) {
    if (a.value("name", "") != kInstance) continue;
    listed = true;
    EXPECT_FALSE(a.value("synced", true));
  }
  EXPECT_TRUE(listed) << res.body;
  EXPECT_TRUE(eventually(
      [&] {
        auto s = adapter_state(gw.port());
        return s.value("status", "") == "unhealthy" &&
               s.value("detail", "").find(inventory.string() + ":") != std::string::npos;
      },
      kReloadBound))
      << adapter_state(gw.port()).dump();
  EXPECT_EQ(http_get(gw.port(), kV2 + "/resourcePools").json(), nlohmann::json::array());

  write_file_atomically(inventory, example_text());
  EXPECT_TRUE(gw.wait_ready(kReloadBound)) << http_get(gw.port(), "/readyz").body;
  EXPECT_FALSE(http_get(gw.port(), kV2 + "/resourcePools").json().empty());
}

// A globalLocationId is SMO-assigned free text: every listed location must be
// retrievable by its id (percent-encoded in the path).
TEST(FileInventoryTest, EveryListedLocationCanBeFetchedById) {
  TempDir dir;
  const std::string location_id = "urn:o-ran:loc+west@acme,1";
  auto inventory = dir.write("inventory.yaml",
                             "version: 1\n"
                             "locations:\n"
                             "  - globalLocationId: \"" +
                                 location_id +
                                 "\"\n"
                                 "    name: West\n"
                                 "    address: Storgatan 1, Umea\n"
                                 "sites:\n"
                                 "  - key: west\n"
                                 "    location: \"" +
                                 location_id +
                                 "\"\n"
                                 "    name: West site\n");
  GatewayProcess gw({.config_yaml = reload_config(inventory)});
  // Whole objects, as the single GET returns them (a plain list leaves out extensions).
  auto list = http_get(gw.port(), kV2 + "/locations?all_fields").json();
  ASSERT_EQ(list.size(), 1u);
  ASSERT_EQ(list[0].value("globalLocationId", ""), location_id);
  std::string encoded;
  for (char c : location_id) {
    bool unreserved = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      encoded += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      encoded += buf;
    }
  }
  HttpResponse res = http_get(gw.port(), kV2 + "/locations/" + encoded);
  EXPECT_EQ(res.status, 200) << "GET /locations/" << encoded << ": " << res.body;
  if (res.status == 200) {
    EXPECT_EQ(res.json(), list[0]);
  }
}

}  // namespace
}  // namespace o2gw::test
