// Operational endpoints of the real binary: /healthz, /readyz, /metrics,
// /openapi.yaml and /admin/v1/adapters.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

const std::string kV2 = "/o2ims-infrastructureInventory/v2";
// The built-in default config's adapter instance (serving the example inventory).
const std::string kDefaultInstance = "example-file";

// One gateway on the built-in default config for the whole suite.
class AdminApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gateway_ = std::make_unique<GatewayProcess>(); }
  static void TearDownTestSuite() { gateway_.reset(); }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }
  static std::uint16_t port() { return gateway_->port(); }
  static inline std::unique_ptr<GatewayProcess> gateway_;
};

nlohmann::json find_adapter(const nlohmann::json& list, const std::string& name) {
  for (const auto& a : list) {
    if (a.value("name", "") == name) return a;
  }
  return nullptr;
}

TEST_F(AdminApiTest, HealthzAnswersOk) {
  HttpResponse res = http_get(port(), "/healthz");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type").rfind("application/json", 0), 0u);
  EXPECT_EQ(res.json(), nlohmann::json({{"status", "ok"}}));
}

TEST_F(AdminApiTest, ReadyzListsTheSyncedAdapters) {
  HttpResponse res = http_get(port(), "/readyz");
  ASSERT_EQ(res.status, 200) << res.body;
  auto body = res.json();
  EXPECT_EQ(body.value("status", ""), "ready");
  ASSERT_TRUE(body.contains("adapters") && body["adapters"].is_array()) << res.body;
  auto a = find_adapter(body["adapters"], kDefaultInstance);
  ASSERT_FALSE(a.is_null()) << res.body;
  EXPECT_EQ(a.value("synced", false), true);
  EXPECT_EQ(a.value("status", ""), "active");
}

TEST_F(AdminApiTest, AdaptersEndpointListsTheInstances) {
  HttpResponse res = http_get(port(), "/admin/v1/adapters");
  ASSERT_EQ(res.status, 200);
  auto list = res.json();
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u) << res.body;
  auto a = list[0];
  EXPECT_EQ(a.value("name", ""), kDefaultInstance);
  EXPECT_EQ(a.value("category", ""), "ims");
  EXPECT_EQ(a.value("type", ""), "file");
  EXPECT_EQ(a.value("status", ""), "active");
  EXPECT_EQ(a.value("synced", false), true);
  EXPECT_TRUE(a.contains("priority"));
  // A healthy file adapter says what it serves.
  if (a.contains("detail")) {
    EXPECT_NE(a["detail"].get<std::string>().find("example-inventory.yaml"), std::string::npos);
  }
}

TEST_F(AdminApiTest, MetricsCountRequestsByRouteTemplate) {
  HttpResponse res = http_get(port(), "/metrics");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type").rfind("text/plain", 0), 0u) << res.header("Content-Type");
  EXPECT_NE(res.body.find("# TYPE o2gw_http_requests_total counter"), std::string::npos);

  const std::map<std::string, std::string> healthz = {{"route", "/healthz"}, {"method", "GET"}, {"status", "200"}};
  double before = metric_sum(scrape_metrics(port()), "o2gw_http_requests_total", healthz);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http_get(port(), "/healthz").status, 200);
  }
  EXPECT_TRUE(eventually(
      [&] { return metric_sum(scrape_metrics(port()), "o2gw_http_requests_total", healthz) == before + 3; }, 2s))
      << "o2gw_http_requests_total{route=\"/healthz\"} did not grow by exactly 3 from " << before;

  // Parameterised routes are labelled by their template, never the raw path.
  auto pools = http_get(port(), kV2 + "/resourcePools").json();
  ASSERT_FALSE(pools.empty());
  std::string pool_id = pools[0]["resourcePoolId"].get<std::string>();
  ASSERT_EQ(http_get(port(), kV2 + "/resourcePools/" + pool_id).status, 200);
  ASSERT_EQ(http_get(port(), "/definitely/not/here").status, 404);
  std::vector<MetricSample> samples;
  EXPECT_TRUE(eventually(
      [&] {
        samples = scrape_metrics(port());
        return metric_sum(samples, "o2gw_http_requests_total",
                          {{"route", kV2 + "/resourcePools/{resourcePoolId}"}, {"status", "200"}}) >= 1 &&
               metric_sum(samples, "o2gw_http_requests_total", {{"status", "404"}}) >= 1;
      },
      2s));
  for (const auto& s : samples) {
    for (const auto& [k, v] : s.labels) {
      EXPECT_EQ(v.find(pool_id), std::string::npos) << s.name << " has the raw id in label " << k;
      EXPECT_EQ(v.find("/definitely"), std::string::npos) << s.name << " has an unmatched path in label " << k;
    }
  }
  EXPECT_GT(metric_count(samples, "o2gw_http_request_duration_seconds_bucket"), 0u);
}

TEST_F(AdminApiTest, MetricsReportInventoryAdaptersAndChanges) {
  auto samples = scrape_metrics(port());
  // Object counts equal what the API lists.
  const std::pair<const char*, const char*> kinds[] = {
      {"resourceType", "/resourceTypes"}, {"alarmDictionary", "/alarmDictionaries"},
      {"resourcePool", "/resourcePools"}, {"deploymentManager", "/deploymentManagers"},
      {"location", "/locations"},         {"oCloudSite", "/oCloudSites"}};
  double total = 0;
  for (const auto& [kind, path] : kinds) {
    auto list = http_get(port(), kV2 + path).json();
    EXPECT_EQ(metric_sum(samples, "o2gw_inventory_objects", {{"kind", kind}}), static_cast<double>(list.size()))
        << kind;
    total += static_cast<double>(list.size());
  }
  double resources = 0;
  for (const auto& pool : http_get(port(), kV2 + "/resourcePools").json()) {
    resources += static_cast<double>(
        http_get(port(), kV2 + "/resourcePools/" + pool["resourcePoolId"].get<std::string>() + "/resources")
            .json()
            .size());
  }
  EXPECT_GT(resources, 0);
  EXPECT_EQ(metric_sum(samples, "o2gw_inventory_objects", {{"kind", "resource"}}), resources);
  total += resources;

  EXPECT_EQ(metric_sum(samples, "o2gw_adapter_up", {{"instance", kDefaultInstance}}), 1.0);
  EXPECT_EQ(metric_sum(samples, "o2gw_ready"), 1.0);
  // The first load created every object once; nothing changed since.
  EXPECT_EQ(metric_sum(samples, "o2gw_inventory_changes_total", {{"type", "create"}}), total);
  EXPECT_EQ(metric_sum(samples, "o2gw_inventory_changes_total", {{"type", "modify"}}), 0.0);
  EXPECT_EQ(metric_sum(samples, "o2gw_inventory_changes_total", {{"type", "delete"}}), 0.0);
}

TEST_F(AdminApiTest, OpenApiDocumentIsServedAndDescribesTheRoutes) {
  HttpResponse res = http_get(port(), "/openapi.yaml");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type").rfind("application/yaml", 0), 0u) << res.header("Content-Type");
  YAML::Node doc = YAML::Load(res.body);
  ASSERT_TRUE(doc["openapi"]) << "not an OpenAPI document";
  ASSERT_TRUE(doc["paths"] && doc["paths"].IsMap());
  std::set<std::string> documented;
  for (const auto& p : doc["paths"]) documented.insert(p.first.as<std::string>());
  for (const std::string& path : {kV2 + "/resourcePools", kV2 + "/resourcePools/{resourcePoolId}/resources",
                                  std::string("/o2ims-infrastructureInventory/api_versions"), std::string("/healthz"),
                                  std::string("/readyz"), std::string("/metrics"), std::string("/admin/v1/adapters")}) {
    EXPECT_TRUE(documented.count(path)) << path << " is not documented";
  }

  // Every documented path is routed: a documented method is never 404/405 for
  // want of a route, and an undocumented method is 405 (never 404).
  const std::string some_uuid = "3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  std::size_t checked = 0;
  for (const auto& p : doc["paths"]) {
    std::string tmpl = p.first.as<std::string>();
    std::string path;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] == '{') {
        path += some_uuid;
        i = tmpl.find('}', i);
      } else {
        path += tmpl[i];
      }
    }
    std::set<std::string> methods;
    for (const auto& m : p.second) {
      std::string name = m.first.as<std::string>();
      if (name == "get" || name == "post" || name == "put" || name == "patch" || name == "delete") methods.insert(name);
    }
    SCOPED_TRACE(tmpl);
    if (!methods.count("put")) {
      HttpResponse put = http_request(port(), "PUT", path, {}, "{}");
      EXPECT_EQ(put.status, 405) << "PUT " << path << " should be 405 with Allow; got " << put.status << " "
                                 << put.body;
      for (const auto& m : methods) {
        std::string upper = m;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        EXPECT_NE(put.header("Allow").find(upper), std::string::npos)
            << "Allow '" << put.header("Allow") << "' lacks documented " << upper;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 20u);
}

// One JSON access-log line per routed request, on stdout; never the headers.
TEST_F(AdminApiTest, AccessLogHasOneJsonLinePerRequestWithoutHeaders) {
  auto pools = http_get(port(), kV2 + "/resourcePools").json();
  ASSERT_FALSE(pools.empty());
  const std::string target = kV2 + "/resourcePools/" + pools[0]["resourcePoolId"].get<std::string>() + "?x=1";
  HttpResponse res =
      http_get(port(), target, {{"X-Request-Id", "access-log-probe-7"}, {"Authorization", "Bearer secret-token-xyz"}});
  ASSERT_EQ(res.status, 200);
  nlohmann::json line;
  EXPECT_TRUE(eventually(
      [&] {
        std::string log = gateway_->access_log();
        std::size_t start = 0;
        while (start < log.size()) {
          auto nl = log.find('\n', start);
          std::string text = log.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
          start = nl == std::string::npos ? log.size() : nl + 1;
          if (text.find("access-log-probe-7") == std::string::npos) continue;
          line = nlohmann::json::parse(text, nullptr, false);
          return true;
        }
        return false;
      },
      2s))
      << "no access-log line for the request:\n"
      << gateway_->access_log();
  ASSERT_TRUE(line.is_object()) << "the access-log line is not JSON";
  EXPECT_EQ(line.value("requestId", ""), "access-log-probe-7");
  EXPECT_EQ(line.value("method", ""), "GET");
  EXPECT_EQ(line.value("target", ""), target);
  EXPECT_EQ(line.value("route", ""), kV2 + "/resourcePools/{resourcePoolId}");
  EXPECT_EQ(line.value("status", 0), 200);
  EXPECT_EQ(line.value("bytes", 0u), res.body.size());
  EXPECT_EQ(gateway_->access_log().find("secret-token-xyz"), std::string::npos) << "a credential reached the log";
  EXPECT_EQ(gateway_->log().find("secret-token-xyz"), std::string::npos) << "a credential reached the log";
}

}  // namespace
}  // namespace o2gw::test
