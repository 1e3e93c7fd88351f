// Inventory subscriptions end to end: the real binary, the file adapter as the
// source of changes, and a real receiver process (Python) that checks every
// signature with its own HMAC code. Covers the API and its bad input, delivery,
// filters, ordering, every retry path, dead letters and replay, 410, the
// callback guard, and kill -9 with nothing lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <thread>
#include <set>
#include <string>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/lab_inventory.hpp"
#include "support/webhook_receiver.hpp"

namespace o2gw::test {
namespace {

const std::string kSubs = "/o2ims-infrastructureInventory/v1/subscriptions";
const std::string kSubsV2 = "/o2ims-infrastructureInventory/v2/subscriptions";
const std::string kSigningKey = "integration-test-signing-key-0123456789abcdef";

std::string inventory_yaml(const std::vector<std::pair<std::string, std::string>>& resources) {
  return lab_inventory_yaml(resources);
}

struct Fixture {
  TempDir keys;
  TempDir files;
  std::filesystem::path inventory;

  Fixture() {
    keys.write("2026-01-01", kSigningKey + "\n");
    inventory = files.write("inventory.yaml", inventory_yaml({{"r1", "one"}, {"r2", "two"}}));
  }

  [[nodiscard]] std::string config(const std::string& extra_webhooks = "", const std::string& extra_subs = "") const {
    return "registry:\n"
           "  health_interval_ms: 100\n"
           "subscriptions:\n"
           "  callback_allow: [\"127.0.0.1\"]\n" +
           extra_subs +
           "webhooks:\n"
           "  signing_key_dir: " +
           keys.path().string() +
           "\n"
           "  timeout_ms: 1000\n"
           "  retry:\n"
           "    initial_delay_ms: 50\n"
           "    max_delay_ms: 300\n"
           "    max_attempts: 8\n" +
           extra_webhooks +
           "adapters:\n"
           "  - name: inv\n"
           "    type: file\n"
           "    config:\n"
           "      path: " +
           inventory.string() +
           "\n"
           "      poll_interval_ms: 100\n";
  }

  void set_resources(const std::vector<std::pair<std::string, std::string>>& resources) const {
    write_file_atomically(inventory, inventory_yaml(resources));
  }
};

HttpResponse post_json(std::uint16_t port, const std::string& path, const std::string& body,
                       const std::string& content_type = "application/json") {
  HeaderList h;
  if (!content_type.empty()) h.emplace_back("Content-Type", content_type);
  return http_request(port, "POST", path, h, body);
}

std::string subscribe(std::uint16_t port, const std::string& callback, const std::string& filter = "",
                      const std::string& consumer = "") {
  nlohmann::json body = {{"callback", callback}};
  if (!filter.empty()) body["filter"] = filter;
  if (!consumer.empty()) body["consumerSubscriptionId"] = consumer;
  auto r = post_json(port, kSubs, body.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  if (r.status != 201) return {};
  return r.json().at("subscriptionId").get<std::string>();
}

void expect_problem(const HttpResponse& r, int status, const std::string& detail_part) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
  if (r.header("Content-Type") != "application/problem+json") return;
  auto j = r.json();
  EXPECT_EQ(j.value("status", 0), status);
  EXPECT_NE(j.value("detail", "").find(detail_part), std::string::npos)
      << "detail '" << j.value("detail", "") << "' lacks '" << detail_part << "'";
}

// The value of one notification counter in a /metrics scrape (0 when absent).
double notifications(const std::string& metrics, const std::string& outcome) {
  const std::string series = "o2gw_notifications_total{outcome=\"" + outcome + "\"} ";
  auto at = metrics.find(series);
  return at == std::string::npos ? 0 : std::stod(metrics.substr(at + series.size()));
}

std::string description_of(const nlohmann::json& post) {
  const auto& body = post.at("body");
  const auto& state = body.contains("postObjectState") ? body["postObjectState"] : body["priorObjectState"];
  return state.value("description", "");
}

// ---------------------------------------------------------------------------

TEST(Subscriptions, CreateGetListDeleteUnderV1AndV2) {
  Fixture fx;
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string consumer = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
  auto created = post_json(gw.port(), kSubs,
                           nlohmann::json{{"callback", "http://127.0.0.1:9/cb"},
                                          {"consumerSubscriptionId", consumer},
                                          {"filter", "(eq,description,quiet)"}}
                               .dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto sub = created.json();
  std::string id = sub.at("subscriptionId");
  EXPECT_TRUE(is_lower_uuid(id));
  EXPECT_EQ(sub.at("callback"), "http://127.0.0.1:9/cb");
  EXPECT_EQ(sub.at("consumerSubscriptionId"), consumer);
  EXPECT_EQ(sub.at("filter"), "(eq,description,quiet)");
  EXPECT_EQ(created.header("Location"), kSubs + "/" + id);

  auto one = http_get(gw.port(), kSubs + "/" + id);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json(), sub);
  // One store, two API versions.
  EXPECT_EQ(http_get(gw.port(), kSubsV2 + "/" + id).json(), sub);
  auto list = http_get(gw.port(), kSubs);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().size(), 1u);
  // The query language applies to the list.
  EXPECT_EQ(http_get(gw.port(), kSubs + "?filter=(eq,callback,http://127.0.0.1:9/cb)").json().size(), 1u);
  EXPECT_EQ(http_get(gw.port(), kSubs + "?filter=(eq,callback,http://elsewhere/)").json().size(), 0u);
  expect_problem(http_get(gw.port(), kSubs + "?filter=(eq,nosuch,1)"), 400, "nosuch");

  auto del = http_request(gw.port(), "DELETE", kSubs + "/" + id);
  EXPECT_EQ(del.status, 200) << del.body;
  expect_problem(http_get(gw.port(), kSubs + "/" + id), 404, id);
  expect_problem(http_request(gw.port(), "DELETE", kSubs + "/" + id), 404, id);
  expect_problem(http_get(gw.port(), kSubs + "/not-a-uuid"), 400, "not-a-uuid");
  expect_problem(http_request(gw.port(), "DELETE", kSubsV2 + "/not-a-uuid"), 400, "not-a-uuid");
  EXPECT_EQ(http_get(gw.port(), kSubs).json().size(), 0u);
}

TEST(Subscriptions, BadBodiesAreRefusedWithTheReason) {
  Fixture fx;
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string cb = R"("callback":"http://127.0.0.1:9/cb")";
  struct Case {
    std::string body;
    std::string detail;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {"{}", "callback is required"},
      {R"({"callback": 5})", "callback must be a string"},
      {R"({"callback":"/relative/path"})", "callback refused"},
      {R"({"callback":"ftp://127.0.0.1/x"})", "callback refused"},
      {R"({"callback":"http://user:pw@127.0.0.1/x"})", "callback refused"},
      {"{" + cb + R"(,"subscriptionId":"3fa85f64-5717-4562-b3fc-2c963f66afa6"})", "subscriptionId"},
      {"{" + cb + R"(,"colour":"blue"})", "unknown field 'colour'"},
      {"{" + cb + R"(,"consumerSubscriptionId":"abc"})", "consumerSubscriptionId"},
      {"{" + cb + R"(,"consumerSubscriptionId":7})", "consumerSubscriptionId"},
      {"{" + cb + R"(,"filter":7})", "filter must be a string"},
      {"{" + cb + R"j(,"filter":"(eq,nosuchattr,1)"})j", "invalid filter"},
      {"{" + cb + R"j(,"filter":"(eq,description"})j", "invalid filter"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    expect_problem(post_json(gw.port(), kSubs, c.body), 400, c.detail);
  }
  expect_problem(post_json(gw.port(), kSubs, "{" + cb + "}", "text/plain"), 415, "application/json");
  // Nothing was created by any of them.
  EXPECT_EQ(http_get(gw.port(), kSubs).json().size(), 0u);

  // A duplicate (same callback, same filter) is refused with the spec's status, 400.
  std::string first = subscribe(gw.port(), "http://127.0.0.1:9/cb", "(eq,description,x)");
  ASSERT_FALSE(first.empty());
  expect_problem(post_json(gw.port(), kSubs, R"j({"callback":"http://127.0.0.1:9/cb","filter":"(eq,description,x)"})j"),
                 400, first);
  // Same callback, another filter: a different subscription.
  EXPECT_FALSE(subscribe(gw.port(), "http://127.0.0.1:9/cb", "(eq,description,y)").empty());
}

TEST(Subscriptions, CallbackGuardRefusesMetadataLinkLocalAndLoopbackByDefault) {
  Fixture fx;
  // No allow list: the built-in refusals apply.
  std::string cfg = fx.config();
  const std::string allow = "  callback_allow: [\"127.0.0.1\"]\n";
  cfg.replace(cfg.find(allow), allow.size(), "  callback_deny: [\"*.blocked.example\", \"10.0.0.0/8\"]\n");
  GatewayProcess gw({.config_yaml = cfg});
  for (const std::string url : {"http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/x",
                                "http://127.0.0.1:8080/x", "http://[::1]/x", "http://[fe80::1]/x",
                                "http://hooks.blocked.example/x", "http://10.1.2.3/x", "http://0.0.0.0/x"}) {
    SCOPED_TRACE(url);
    expect_problem(post_json(gw.port(), kSubs, nlohmann::json{{"callback", url}}.dump()), 400, "callback refused");
  }
  // An ordinary public name is fine (nothing is sent until a change happens).
  EXPECT_FALSE(subscribe(gw.port(), "https://smo.example.com/o2/notify").empty());
}

TEST(Subscriptions, SurviveARestart) {
  Fixture fx;
  TempDir data;
  std::string id;
  {
    GatewayProcess gw({.config_yaml = fx.config(), .data_dir = data.path()});
    id = subscribe(gw.port(), "http://127.0.0.1:9/cb", "(eq,description,x)");
    ASSERT_FALSE(id.empty());
    gw.terminate();
    ASSERT_TRUE(gw.wait_exit(10s).has_value());
  }
  GatewayProcess again({.config_yaml = fx.config(), .data_dir = data.path()});
  auto r = http_get(again.port(), kSubs + "/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("filter"), "(eq,description,x)");
}

TEST(Subscriptions, ChangesAreDeliveredSignedWithTheSpecBody) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  const std::string consumer = "0b7c4a7e-3f0a-4b8e-9d57-1b2f8f7f1e11";
  std::string id = subscribe(gw.port(), rx.url(), "", consumer);
  ASSERT_FALSE(id.empty());

  fx.set_resources({{"r1", "one, modified"}, {"r2", "two"}, {"r3", "three"}});  // modify r1, create r3
  auto got = rx.wait_posts(2, 5s);
  ASSERT_EQ(got.size(), 2u);
  fx.set_resources({{"r1", "one, modified"}, {"r3", "three"}});  // delete r2
  got = rx.wait_posts(3, 5s);
  ASSERT_EQ(got.size(), 3u);

  std::map<int, nlohmann::json> by_type;
  std::set<std::string> ids;
  for (const auto& p : got) {
    EXPECT_TRUE(p.at("signatureValid").get<bool>()) << p.dump();
    EXPECT_EQ(p.at("subscriptionId"), id);
    const auto& body = p.at("body");
    EXPECT_EQ(p.at("notificationId"), body.at("notificationId"));
    ids.insert(body.at("notificationId").get<std::string>());
    EXPECT_EQ(body.at("consumerSubscriptionId"), consumer);
    by_type[body.at("notificationEventType").get<int>()] = body;
  }
  EXPECT_EQ(ids.size(), 3u) << "each notification has its own id";
  ASSERT_EQ(by_type.size(), 3u);
  const auto& modify = by_type[1];
  EXPECT_EQ(modify.at("priorObjectState").at("description"), "one");
  EXPECT_EQ(modify.at("postObjectState").at("description"), "one, modified");
  std::string rid = modify.at("postObjectState").at("resourceId");
  std::string pool = modify.at("postObjectState").at("resourcePoolId");
  std::string ref = modify.at("objectRef");
  EXPECT_TRUE(ref.ends_with("/o2ims-infrastructureInventory/v1/resourcePools/" + pool + "/resources/" + rid)) << ref;
  // The object the notification points at is served there.
  auto path = ref.substr(ref.find("/o2ims-infrastructureInventory"));
  EXPECT_EQ(http_get(gw.port(), path).json().at("description"), "one, modified");
  const auto& create = by_type[0];
  EXPECT_FALSE(create.contains("priorObjectState"));
  EXPECT_EQ(create.at("postObjectState").at("description"), "three");
  const auto& remove = by_type[2];
  EXPECT_FALSE(remove.contains("postObjectState"));
  EXPECT_EQ(remove.at("priorObjectState").at("description"), "two");

  auto metrics = http_get(gw.port(), "/metrics").body;
  EXPECT_NE(metrics.find("o2gw_notifications_total{outcome=\"delivered\"} 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("o2gw_notification_delivery_seconds_count 3"), std::string::npos);
}

TEST(Subscriptions, FilterNamesEventsNotToReportByDefaultAndOnlyThoseInIncludeMode) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  {
    GatewayProcess gw({.config_yaml = fx.config()});
    ASSERT_FALSE(subscribe(gw.port(), rx.url("/exclude"), "(eq,description,quiet)").empty());
    fx.set_resources({{"r1", "quiet"}, {"r2", "loud"}});
    auto got = rx.wait_posts(1, 5s, "/exclude");
    std::this_thread::sleep_for(300ms);  // room for a wrong second notification to arrive
    got = rx.posts("/exclude");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(description_of(got[0]), "loud");
  }
  fx.set_resources({{"r1", "one"}, {"r2", "two"}});
  GatewayProcess gw({.config_yaml = fx.config(), .env = {{"O2GW_SUBSCRIPTIONS__FILTER_MODE", "include"}}});
  ASSERT_FALSE(subscribe(gw.port(), rx.url("/include"), "(eq,description,quiet)").empty());
  fx.set_resources({{"r1", "quiet"}, {"r2", "loud"}});
  auto got = rx.wait_posts(1, 5s, "/include");
  std::this_thread::sleep_for(300ms);
  got = rx.posts("/include");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(description_of(got[0]), "quiet");
}

TEST(Subscriptions, OneSubscribersNotificationsArriveInOrderThroughRetries) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  ASSERT_FALSE(subscribe(gw.port(), rx.url()).empty());
  // Failures in between must not reorder anything.
  rx.control({{"script", {{{"status", 503}, {"count", 2}}, {{"status", 204}, {"count", 3}}, {{"status", 500}},
                          {{"status", 204}}}}});
  const int kSteps = 8;
  for (int i = 1; i <= kSteps; ++i) {
    fx.set_resources({{"r1", "step-" + std::to_string(i)}, {"r2", "two"}});
    std::this_thread::sleep_for(150ms);
  }
  ASSERT_TRUE(eventually(
      [&] {
        auto ok = rx.posts();
        return !ok.empty() && ok.back().at("status") == 204 && description_of(ok.back()) == "step-8";
      },
      10s, 50ms));
  // Delivered (2xx) notifications, in arrival order, have strictly increasing steps.
  int last = 0;
  std::set<std::string> delivered_ids;
  for (const auto& p : rx.posts()) {
    if (p.at("status").get<int>() / 100 != 2) continue;
    int step = std::stoi(description_of(p).substr(5));
    EXPECT_GT(step, last) << "out of order: " << description_of(p);
    last = step;
    EXPECT_TRUE(delivered_ids.insert(p.at("notificationId").get<std::string>()).second);
  }
  EXPECT_EQ(last, kSteps);
  auto metrics = http_get(gw.port(), "/metrics").body;
  EXPECT_GT(notifications(metrics, "retried"), 0);
}

TEST(Subscriptions, RetryAfterIsHonouredAndTimeoutsAreRetried) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  ASSERT_FALSE(subscribe(gw.port(), rx.url()).empty());
  rx.control({{"script", {{{"status", 429}, {"retryAfter", 1}}, {{"status", 204}}}}});
  fx.set_resources({{"r1", "throttled"}, {"r2", "two"}});
  auto got = rx.wait_posts(2, 6s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].at("status"), 429);
  EXPECT_EQ(got[1].at("status"), 204);
  EXPECT_EQ(got[0].at("notificationId"), got[1].at("notificationId")) << "a retry resends the same notification";
  double gap = got[1].at("receivedAt").get<double>() - got[0].at("receivedAt").get<double>();
  EXPECT_GE(gap, 0.9) << "Retry-After: 1 was not honoured";

  // A receiver slower than webhooks.timeout_ms (1 s): the attempt times out and is retried.
  rx.control({{"script", {{{"status", 204}, {"delayMs", 1500}}, {{"status", 204}}}}});
  fx.set_resources({{"r1", "slow"}, {"r2", "two"}});
  got = rx.wait_posts(4, 8s);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].at("notificationId"), got[3].at("notificationId"));
  EXPECT_EQ(description_of(got[3]), "slow");
}

TEST(Subscriptions, AReceiverThatIsDownThenBackGetsEverything) {
  Fixture fx;
  auto rx = std::make_unique<WebhookReceiver>(fx.keys.path());
  std::uint16_t port = rx->port();
  GatewayProcess gw({.config_yaml = fx.config("  circuit_breaker:\n    failure_threshold: 2\n    open_ms: 300\n")});
  ASSERT_FALSE(subscribe(gw.port(), rx->url()).empty());
  rx->kill();  // connection refused from now on
  for (int i = 1; i <= 3; ++i) {
    fx.set_resources({{"r1", "down-" + std::to_string(i)}, {"r2", "two"}});
    std::this_thread::sleep_for(150ms);
  }
  EXPECT_TRUE(gw.wait_for_log("pausing deliveries", 5s)) << "the circuit breaker should open";
  rx = std::make_unique<WebhookReceiver>(fx.keys.path(), port);
  auto got = rx->wait_posts(1, 8s);
  ASSERT_TRUE(eventually([&] { return !rx->posts().empty() && description_of(rx->posts().back()) == "down-3"; }, 8s));
  int last = 0;
  for (const auto& p : rx->posts()) {
    int step = std::stoi(description_of(p).substr(5));
    EXPECT_GT(step, last);
    last = step;
  }
}

TEST(Subscriptions, ClientErrorsAreDeadLetteredAndReplayable) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  std::string id = subscribe(gw.port(), rx.url());
  ASSERT_FALSE(id.empty());
  rx.control({{"script", {{{"status", 400}}, {{"status", 204}}}}});
  fx.set_resources({{"r1", "rejected"}, {"r2", "two"}});
  nlohmann::json dead;
  ASSERT_TRUE(eventually(
      [&] {
        dead = http_get(gw.port(), "/admin/v1/deadLetters").json();
        return dead.size() == 1;
      },
      5s));
  EXPECT_EQ(dead[0].at("subscriptionId"), id);
  EXPECT_EQ(dead[0].at("lastStatus"), 400);
  EXPECT_EQ(dead[0].at("attempts"), 1);
  EXPECT_NE(dead[0].at("reason").get<std::string>().find("400"), std::string::npos);
  std::string nid = dead[0].at("notificationId");
  EXPECT_EQ(rx.posts().size(), 1u) << "a 4xx is not retried";

  expect_problem(post_json(gw.port(), "/admin/v1/deadLetters/replay", R"({"notificationIds":"x"})"), 400,
                 "notificationIds");
  auto replay = post_json(gw.port(), "/admin/v1/deadLetters/replay", nlohmann::json{{"notificationIds", {nid}}}.dump());
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json().at("replayed"), 1);
  auto got = rx.wait_posts(2, 5s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].at("notificationId"), nid);
  EXPECT_EQ(got[1].at("status"), 204);
  EXPECT_TRUE(got[1].at("signatureValid").get<bool>());
  EXPECT_EQ(http_get(gw.port(), "/admin/v1/deadLetters").json().size(), 0u);
}

TEST(Subscriptions, GoneDeletesTheSubscription) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config()});
  std::string id = subscribe(gw.port(), rx.url());
  ASSERT_FALSE(id.empty());
  rx.control({{"script", {{{"status", 410}}}}});
  fx.set_resources({{"r1", "gone"}, {"r2", "two"}});
  ASSERT_TRUE(eventually([&] { return http_get(gw.port(), kSubs + "/" + id).status == 404; }, 5s));
  EXPECT_TRUE(gw.wait_for_log("410 Gone", 1s));
  fx.set_resources({{"r1", "after"}, {"r2", "two"}});
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(rx.posts().size(), 1u) << "nothing more is sent to a gone receiver";
}

TEST(Subscriptions, KillNineMidDeliveryLosesNothing) {
  Fixture fx;
  TempDir data;
  WebhookReceiver rx(fx.keys.path());
  // The receiver refuses everything while the gateway is killed: nothing is acknowledged.
  rx.control({{"script", {{{"status", 503}}}}});
  std::set<std::string> expected;
  {
    GatewayProcess gw({.config_yaml = fx.config(), .data_dir = data.path()});
    ASSERT_FALSE(subscribe(gw.port(), rx.url()).empty());
    for (int i = 1; i <= 5; ++i) {
      std::string d = "crash-" + std::to_string(i);
      fx.set_resources({{"r1", d}, {"r2", "two"}});
      expected.insert(d);
      std::this_thread::sleep_for(150ms);
    }
    ASSERT_TRUE(eventually([&] { return rx.posts().size() >= 3; }, 5s)) << "deliveries were being attempted";
    gw.kill();
  }
  rx.control({{"script", {{{"status", 204}}}}});
  GatewayProcess again({.config_yaml = fx.config(), .data_dir = data.path()});
  std::set<std::string> delivered;
  ASSERT_TRUE(eventually(
      [&] {
        delivered.clear();
        for (const auto& p : rx.posts()) {
          if (p.at("status") == 204) delivered.insert(description_of(p));
        }
        return std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end());
      },
      10s, 100ms))
      << "delivered " << delivered.size() << " of " << expected.size();
  for (const auto& p : rx.posts()) EXPECT_TRUE(p.at("signatureValid").get<bool>());
  EXPECT_TRUE(again.wait_for_log("pending from before the restart", 1s));
}

TEST(Subscriptions, ARestartNotifiesOnlyWhatChangedWhileDown) {
  Fixture fx;
  TempDir data;
  WebhookReceiver rx(fx.keys.path());
  fx.set_resources({{"r1", "one"}, {"r2", "two"}, {"r3", "three"}});
  std::string r2_ref;
  {
    GatewayProcess gw({.config_yaml = fx.config(), .data_dir = data.path()});
    ASSERT_FALSE(subscribe(gw.port(), rx.url()).empty());
    fx.set_resources({{"r1", "one"}, {"r2", "two!"}, {"r3", "three"}});
    auto got = rx.wait_posts(1, 5s);
    ASSERT_EQ(got.size(), 1u);
    r2_ref = got[0].at("body").at("objectRef");
    gw.terminate();
    ASSERT_TRUE(gw.wait_exit(10s).has_value());
  }
  // While o2gw is down: r1 changes, r2 goes, r4 arrives, r3 and everything else stay.
  fx.set_resources({{"r1", "one, changed while down"}, {"r3", "three"}, {"r4", "four"}});
  GatewayProcess again({.config_yaml = fx.config(), .data_dir = data.path()});
  auto got = rx.wait_posts(4, 5s);
  std::this_thread::sleep_for(300ms);  // room for spurious ones
  got = rx.posts();
  ASSERT_EQ(got.size(), 4u) << "expected one notification per real change, not one per object re-read";
  std::map<int, nlohmann::json> by_type;
  for (std::size_t i = 1; i < got.size(); ++i) by_type[got[i].at("body").at("notificationEventType")] = got[i].at("body");
  ASSERT_EQ(by_type.size(), 3u);
  EXPECT_EQ(by_type[0].at("postObjectState").at("description"), "four");
  EXPECT_EQ(by_type[1].at("postObjectState").at("description"), "one, changed while down");
  EXPECT_FALSE(by_type[1].contains("priorObjectState")) << "the state before the restart is not kept";
  EXPECT_EQ(by_type[2].at("objectRef"), r2_ref);
  EXPECT_FALSE(by_type[2].contains("priorObjectState"));
}

// A CA and a server certificate for 127.0.0.1, made with the openssl CLI.
struct TestPki {
  TempDir dir;
  TestPki() {
    const std::string d = dir.path().string();
    dir.write("san.ext", "subjectAltName=IP:127.0.0.1\n");
    const std::string cmd =
        "cd '" + d + "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=o2gw-test-ca 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
        "-subj /CN=127.0.0.1 2>/dev/null && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile san.ext 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl could not make the test certificates");
  }
  [[nodiscard]] std::filesystem::path file(const std::string& name) const { return dir.path() / name; }
};

TEST(Subscriptions, HttpsCallbacksAreVerifiedAgainstTheHostsCaBundle) {
  Fixture fx;
  TestPki pki;
  WebhookReceiver rx(fx.keys.path(), 0, WebhookReceiver::Tls{pki.file("server.pem"), pki.file("server.key")});
  const std::string url = "https://127.0.0.1:" + std::to_string(rx.port()) + "/notify";
  {
    // Without the CA: the system trust store does not know it, nothing is delivered.
    GatewayProcess gw({.config_yaml = fx.config()});
    ASSERT_FALSE(subscribe(gw.port(), url).empty());
    fx.set_resources({{"r1", "untrusted"}, {"r2", "two"}});
    EXPECT_TRUE(eventually(
        [&] {
          return notifications(http_get(gw.port(), "/metrics").body, "failed") > 0;
        },
        5s));
    EXPECT_TRUE(rx.posts().empty()) << "a callback with an unverifiable certificate got a notification";
  }
  fx.set_resources({{"r1", "one"}, {"r2", "two"}});
  const std::string hosts = "  hosts:\n    - host: 127.0.0.1\n      ca_file: " + pki.file("ca.pem").string() + "\n";
  GatewayProcess gw({.config_yaml = fx.config(hosts)});
  ASSERT_FALSE(subscribe(gw.port(), url).empty());
  fx.set_resources({{"r1", "trusted"}, {"r2", "two"}});
  auto got = rx.wait_posts(1, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(description_of(got[0]), "trusted");
  EXPECT_TRUE(got[0].at("signatureValid").get<bool>());
}

TEST(Subscriptions, OptionalCallbackCheckOnCreate) {
  Fixture fx;
  WebhookReceiver rx(fx.keys.path());
  GatewayProcess gw({.config_yaml = fx.config("", "  verify_callback: true\n  verify_timeout_ms: 1000\n")});
  EXPECT_FALSE(subscribe(gw.port(), rx.url()).empty());
  // Port 9 (discard) on loopback: nothing listens, the check fails with the callback named.
  expect_problem(post_json(gw.port(), kSubs, R"({"callback":"http://127.0.0.1:9/nobody"})"), 400,
                 "http://127.0.0.1:9/nobody");
}

}  // namespace
}  // namespace o2gw::test
