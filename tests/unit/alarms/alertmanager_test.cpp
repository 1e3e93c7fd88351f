#include "o2gw/alertmanager.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "o2gw/inventory.hpp"
#include "unit/alarms/recording_alarm_sink.hpp"

namespace o2gw {
namespace {

using nlohmann::json;
using test::RecordingAlarmSink;

constexpr const char* kNodeId = "6f1c2a4e-0000-4000-8000-000000000001";
constexpr const char* kMachineId = "6f1c2a4e-0000-4000-8000-000000000002";
constexpr const char* kServerId = "6f1c2a4e-0000-4000-8000-000000000003";

InventoryObject resource(const std::string& id, json extensions, std::string asset = {}) {
  InventoryObject o;
  o.kind = Kind::resource;
  o.id = id;
  o.parent_id = "pool";
  o.doc = json{
      {"resourceId", id}, {"resourceTypeId", "type"}, {"globalAssetId", asset}, {"extensions", std::move(extensions)}};
  o.finalize();
  return o;
}

void fill(InventoryCache& cache) {
  std::vector<InventoryObject> objects;
  objects.push_back(resource(kNodeId, json{{"nodeName", "worker-1"}}));
  // A machine names its node too; the node itself must win for "worker-1".
  objects.push_back(resource(kMachineId, json{{"name", "machine-a"}, {"nodeName", "worker-1"}}));
  objects.push_back(resource(kServerId, json::object(), "ASSET-42"));
  cache.replace_source("lab", std::move(objects));
}

json alert(const std::string& status, json labels, const std::string& fingerprint = "abc123") {
  json a = {{"status", status},
            {"labels", std::move(labels)},
            {"annotations", {{"summary", "it broke"}}},
            {"startsAt", "2026-11-27T07:00:00.5Z"},
            {"endsAt", "0001-01-01T00:00:00Z"},
            {"generatorURL", "http://prometheus/graph"}};
  if (!fingerprint.empty()) a["fingerprint"] = fingerprint;
  return a;
}

json payload(json alerts, const std::string& status = "firing") {
  return json{{"version", "4"},
              {"groupKey", "{}:{alertname=\"X\"}"},
              {"truncatedAlerts", 0},
              {"status", status},
              {"receiver", "o2gw"},
              {"groupLabels", json::object()},
              {"commonLabels", json::object()},
              {"commonAnnotations", json::object()},
              {"externalURL", "http://alertmanager:9093"},
              {"alerts", std::move(alerts)}};
}

std::string parse_error(const std::string& body) {
  auto parsed = parse_alertmanager_payload(body);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  return "";
}

TEST(AlertmanagerPayload, ParsesVersion4) {
  auto parsed = parse_alertmanager_payload(
      payload(json::array({alert("firing", {{"alertname", "A"}}), alert("resolved", {{"alertname", "B"}}, "")}))
          .dump());
  ASSERT_TRUE(std::holds_alternative<AlertmanagerPayload>(parsed)) << std::get<std::string>(parsed);
  const auto& p = std::get<AlertmanagerPayload>(parsed);
  EXPECT_EQ(p.receiver, "o2gw");
  ASSERT_EQ(p.alerts.size(), 2u);
  EXPECT_TRUE(p.alerts[0].firing);
  EXPECT_EQ(p.alerts[0].fingerprint, "abc123");
  EXPECT_EQ(p.alerts[0].annotations.at("summary"), "it broke");
  EXPECT_FALSE(p.alerts[1].firing);
  // No fingerprint: a stable hash of the labels.
  EXPECT_EQ(p.alerts[1].fingerprint, alertmanager_label_fingerprint({{"alertname", "B"}}));
  EXPECT_EQ(p.alerts[1].fingerprint.size(), 16u);
}

TEST(AlertmanagerPayload, RejectsWithClearReasons) {
  EXPECT_EQ(parse_error("{not json"), "the request body is not valid JSON");
  EXPECT_NE(parse_error("[]").find("must be a JSON object"), std::string::npos);
  json p = payload(json::array());
  p["version"] = "3";
  EXPECT_NE(parse_error(p.dump()).find("version: \"3\" is not supported"), std::string::npos);
  p["version"] = 4;
  EXPECT_EQ(parse_error(p.dump()), "version: must be a string");
  p = payload(json::array());
  p.erase("alerts");
  EXPECT_EQ(parse_error(p.dump()), "alerts: required");
  p["alerts"] = json::object();
  EXPECT_EQ(parse_error(p.dump()), "alerts: must be an array");
  p = payload(json::array({alert("firing", {{"severity", 3}})}));
  EXPECT_EQ(parse_error(p.dump()), "alerts[0].labels.severity: must be a string");
  p = payload(json::array({alert("pending", {{"a", "b"}})}));
  EXPECT_EQ(parse_error(p.dump()), "alerts[0].status: must be \"firing\" or \"resolved\"");
  p = payload(json::array({alert("firing", {{"a", "b"}})}));
  p["alerts"][0]["startsAt"] = "yesterday";
  EXPECT_EQ(parse_error(p.dump()), "alerts[0].startsAt: not an RFC 3339 date-time between 1970 and 2262");
  p = payload(json::array({alert("firing", {{"a", "b"}})}));
  p["alerts"][0].erase("labels");
  EXPECT_EQ(parse_error(p.dump()), "alerts[0].labels: required");
  p = payload(json::array({alert("firing", {{"a", "b"}})}));
  p.erase("receiver");
  EXPECT_EQ(parse_error(p.dump()), "receiver: required");
}

TEST(AlertmanagerPayload, BoundsSizes) {
  AlertmanagerLimits limits;
  limits.max_alerts = 2;
  limits.max_labels = 2;
  limits.max_string = 40;
  json p = payload(
      json::array({alert("firing", {{"a", "b"}}), alert("firing", {{"a", "c"}}), alert("firing", {{"a", "d"}})}));
  auto r = parse_alertmanager_payload(p.dump(), limits);
  EXPECT_EQ(std::get<std::string>(r), "alerts: more than 2 alerts");
  p = payload(json::array({alert("firing", {{"a", "b"}, {"c", "d"}, {"e", "f"}})}));
  r = parse_alertmanager_payload(p.dump(), limits);
  EXPECT_EQ(std::get<std::string>(r), "alerts[0].labels: more than 2 entries");
  p = payload(json::array({alert("firing", {{"a", std::string(41, 'x')}})}));
  r = parse_alertmanager_payload(p.dump(), limits);
  EXPECT_EQ(std::get<std::string>(r), "alerts[0].labels.a: longer than 40");
}

TEST(AlertmanagerPayload, Rfc3339) {
  using namespace std::chrono;
  auto t = parse_alert_time("1970-01-02T00:00:01Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(duration_cast<seconds>(t->time_since_epoch()).count(), 86401);
  t = parse_alert_time("1970-01-01T01:00:00.250+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(duration_cast<milliseconds>(t->time_since_epoch()).count(), 250);
  EXPECT_FALSE(parse_alert_time("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_alert_time("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_alert_time("4052-11-27T07:00:00+02:00"));  // past what system_clock holds (found by fuzzing)
  EXPECT_FALSE(parse_alert_time("2026-01-01T00:00:00"));
  EXPECT_FALSE(parse_alert_time("2026-01-01T00:00:00Zjunk"));
}

TEST(AlertmanagerSeverity, MapsThroughConfigCaseInsensitively) {
  AlertmanagerConfig cfg;
  EXPECT_EQ(map_alert_severity(cfg, "critical"), Severity::critical);
  EXPECT_EQ(map_alert_severity(cfg, "CRITICAL"), Severity::critical);
  EXPECT_EQ(map_alert_severity(cfg, "error"), Severity::major);
  EXPECT_EQ(map_alert_severity(cfg, "warning"), Severity::warning);
  EXPECT_EQ(map_alert_severity(cfg, "info"), Severity::indeterminate);
  EXPECT_EQ(map_alert_severity(cfg, "page-me"), Severity::indeterminate);
  cfg.severity_map = {{"P1", 0}, {"bogus", 9}};
  EXPECT_EQ(map_alert_severity(cfg, "p1"), Severity::critical);
  EXPECT_EQ(map_alert_severity(cfg, "bogus"), Severity::indeterminate);
}

TEST(AlertResourceResolver, ByIdThenNamesInLabelOrder) {
  InventoryCache cache;
  fill(cache);
  AlertmanagerConfig cfg;
  AlertResourceResolver resolver(cache, cfg);
  EXPECT_EQ(resolver.resolve({{"o2_resource_id", kServerId}}), kServerId);
  EXPECT_EQ(resolver.resolve({{"node", "worker-1"}}), kNodeId);
  EXPECT_EQ(resolver.resolve({{"node", "machine-a"}}), kMachineId);
  EXPECT_EQ(resolver.resolve({{"instance", "ASSET-42"}}), kServerId);
  // Prometheus' instance label carries a port.
  EXPECT_EQ(resolver.resolve({{"instance", "worker-1:9100"}}), kNodeId);
  // The first label that resolves wins; one that does not is skipped.
  EXPECT_EQ(resolver.resolve({{"o2_resource_id", "nope"}, {"node", "worker-1"}}), kNodeId);
  EXPECT_EQ(resolver.resolve({{"resource_id", kServerId}, {"node", "worker-1"}}), kServerId);
  EXPECT_EQ(resolver.resolve({{"job", "worker-1"}}), "");
  EXPECT_EQ(resolver.resolve({}), "");
}

TEST(AlertmanagerReceiver, RaisesClearsAndCountsUnmapped) {
  InventoryCache cache;
  fill(cache);
  RecordingAlarmSink sink;
  sink.reject_resources = {kMachineId};
  AlertmanagerReceiver receiver(sink, cache, AlertmanagerConfig{});
  auto parsed = parse_alertmanager_payload(
      payload(json::array({
                  alert("firing", {{"alertname", "NodeDown"}, {"node", "worker-1"}, {"severity", "critical"}}, "f1"),
                  alert("firing", {{"alertname", "Other"}, {"node", "ghost"}}, "f2"),
                  alert("firing", {{"alertname", "Rejected"}, {"node", "machine-a"}}, "f3"),
                  alert("resolved", {{"alertname", "Gone"}}, "f4"),
              }))
          .dump());
  auto outcome = receiver.apply(std::get<AlertmanagerPayload>(parsed));
  EXPECT_EQ(outcome.raised, 1u);
  EXPECT_EQ(outcome.unmapped, 2u);
  EXPECT_EQ(outcome.cleared, 1u);
  auto active = sink.active();
  ASSERT_EQ(active.size(), 1u);
  const AlarmReport& r = active.begin()->second;
  EXPECT_EQ(r.source, "alertmanager");
  EXPECT_EQ(r.key, "f1");
  EXPECT_EQ(r.resource_id, kNodeId);
  EXPECT_EQ(r.definition, "NodeDown");
  EXPECT_EQ(r.severity, Severity::critical);
  EXPECT_EQ(r.extensions["labels"]["node"], "worker-1");
  EXPECT_EQ(r.extensions["annotations"]["summary"], "it broke");
  EXPECT_EQ(r.extensions["generatorURL"], "http://prometheus/graph");
  EXPECT_EQ(r.extensions["startsAt"], "2026-11-27T07:00:00.5Z");
  EXPECT_EQ(r.extensions["fingerprint"], "f1");
  EXPECT_EQ(r.extensions["receiver"], "o2gw");
  EXPECT_FALSE(r.extensions.contains("endsAt"));
  ASSERT_TRUE(r.since);
  auto clears = 0;
  for (const auto& e : sink.events()) {
    if (e.type == RecordingAlarmSink::Event::Type::clear) {
      ++clears;
      EXPECT_EQ(e.source, "alertmanager");
      EXPECT_EQ(e.key, "f4");
    }
  }
  EXPECT_EQ(clears, 1);

  // Resolved: the alarm clears.
  parsed = parse_alertmanager_payload(
      payload(json::array({alert("resolved", {{"alertname", "NodeDown"}, {"node", "worker-1"}}, "f1")}), "resolved")
          .dump());
  outcome = receiver.apply(std::get<AlertmanagerPayload>(parsed));
  EXPECT_EQ(outcome.cleared, 1u);
  EXPECT_TRUE(sink.active().empty());
}

TEST(AlertmanagerReceiver, UnknownSeverityIsIndeterminate) {
  InventoryCache cache;
  fill(cache);
  RecordingAlarmSink sink;
  AlertmanagerReceiver receiver(sink, cache, AlertmanagerConfig{});
  auto report = receiver.to_report(
      std::get<AlertmanagerPayload>(
          parse_alertmanager_payload(
              payload(json::array({alert("firing", {{"o2_resource_id", kServerId}, {"severity", "page"}})})).dump()))
          .alerts[0],
      "o2gw");
  ASSERT_TRUE(report);
  EXPECT_EQ(report->severity, Severity::indeterminate);
  EXPECT_EQ(report->definition, "");
}

http::Request post(std::string body, std::string content_type = "application/json") {
  http::Request req;
  req.method = http::Method::post;
  req.method_text = "POST";
  req.target = std::string(kAlertmanagerReceiverPath);
  req.path = req.target;
  req.body = std::move(body);
  req.request_id = "rid";
  if (!content_type.empty()) req.headers.push_back({"Content-Type", std::move(content_type)});
  return req;
}

TEST(AlertmanagerRoute, AnswersSummaryAndProblems) {
  InventoryCache cache;
  fill(cache);
  RecordingAlarmSink sink;
  Router router;
  register_alertmanager_receiver(router, sink, cache, AlertmanagerConfig{});
  auto res = router.dispatch(
      post(payload(json::array({alert("firing", {{"alertname", "X"}, {"o2_resource_id", kServerId}}, "k")})).dump()));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body), (json{{"raised", 1}, {"cleared", 0}, {"unmapped", 0}}));

  res = router.dispatch(post("{\"version\":\"4\"}"));
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.content_type, "application/problem+json");
  EXPECT_EQ(json::parse(res.body)["detail"], "groupKey: required");

  res = router.dispatch(post("version=4", "application/x-www-form-urlencoded"));
  EXPECT_EQ(res.status, 415);
}

TEST(AlertmanagerRoute, AppliesOnThePostedWorkWhenGiven) {
  InventoryCache cache;
  fill(cache);
  RecordingAlarmSink sink;
  Router router;
  std::vector<std::function<void()>> queued;
  register_alertmanager_receiver(router, sink, cache, AlertmanagerConfig{}, nullptr,
                                 [&queued](std::function<void()> f) { queued.push_back(std::move(f)); });
  std::optional<http::Response> answer;
  router.dispatch_async(
      post(payload(json::array({alert("firing", {{"alertname", "X"}, {"o2_resource_id", kServerId}}, "k")})).dump()),
      [&answer](http::Response r) { answer = std::move(r); });
  EXPECT_FALSE(answer);
  EXPECT_TRUE(sink.events().empty());  // nothing touched the sink on the I/O thread
  ASSERT_EQ(queued.size(), 1u);
  queued[0]();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(sink.active().size(), 1u);
  // Refusals answer at once, without queueing work.
  answer.reset();
  router.dispatch_async(post("{}"), [&answer](http::Response r) { answer = std::move(r); });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_EQ(queued.size(), 1u);
}

TEST(AlertmanagerRoute, RequiresTheConfiguredBearerToken) {
  InventoryCache cache;
  RecordingAlarmSink sink;
  Router router;
  AlertmanagerConfig cfg;
  cfg.token = "s3cret";
  register_alertmanager_receiver(router, sink, cache, cfg);
  const std::string body = payload(json::array()).dump();
  auto res = router.dispatch(post(body));
  EXPECT_EQ(res.status, 401);
  bool challenged = false;
  for (const auto& h : res.headers) challenged |= h.name == "WWW-Authenticate" && h.value.starts_with("Bearer");
  EXPECT_TRUE(challenged);
  EXPECT_EQ(res.body.find("s3cret"), std::string::npos);
  auto req = post(body);
  req.headers.push_back({"Authorization", "Bearer wrong!"});
  EXPECT_EQ(router.dispatch(req).status, 401);
  req = post(body);
  req.headers.push_back({"Authorization", "Bearer s3cret"});
  EXPECT_EQ(router.dispatch(req).status, 200);
  req = post(body);
  req.headers.push_back({"Authorization", "bearer s3cret"});
  EXPECT_EQ(router.dispatch(req).status, 200);
}

TEST(AlertmanagerRoute, DisabledRegistersNothing) {
  InventoryCache cache;
  RecordingAlarmSink sink;
  Router router;
  AlertmanagerConfig cfg;
  cfg.enabled = false;
  register_alertmanager_receiver(router, sink, cache, cfg);
  EXPECT_TRUE(router.routes().empty());
}

}  // namespace
}  // namespace o2gw
