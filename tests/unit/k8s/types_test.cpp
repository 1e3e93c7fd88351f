#include <gtest/gtest.h>

#include <cmath>

#include "o2gw/k8s.hpp"

namespace o2gw::k8s {
namespace {

using nlohmann::json;

void expect_quantity(std::string_view q, double expected) {
  auto v = parse_quantity(q);
  ASSERT_TRUE(v.has_value()) << q;
  EXPECT_NEAR(*v, expected, std::abs(expected) * 1e-12 + 1e-15) << q;
}

TEST(Quantity, ParsesTheKubernetesForms) {
  expect_quantity("100m", 0.1);
  expect_quantity("250m", 0.25);
  expect_quantity("4Gi", 4.0 * 1024 * 1024 * 1024);
  expect_quantity("16", 16);
  expect_quantity("1.5", 1.5);
  expect_quantity("1e3", 1000);
  expect_quantity("1E3", 1000);
  expect_quantity("5e-3", 0.005);
  expect_quantity("2k", 2000);
  expect_quantity("129M", 129e6);
  expect_quantity("123Mi", 123.0 * 1024 * 1024);
  expect_quantity("1Ki", 1024);
  expect_quantity("2Ti", 2.0 * 1099511627776.0);
  expect_quantity("1E", 1e18);  // exa, not an exponent
  expect_quantity("500n", 500e-9);
  expect_quantity("10u", 10e-6);
  expect_quantity(".5", 0.5);
  expect_quantity("+3", 3);
  expect_quantity("-2", -2);
  expect_quantity("0", 0);
  expect_quantity("7.5Gi", 7.5 * 1024 * 1024 * 1024);
}

TEST(Quantity, RejectsMalformed) {
  for (std::string_view bad : {"",     "abc", "Gi",  "1.2.3", "1 Gi",   "1KiB", "1K", "1e",      "1e+",  "--1", "1x",
                               "0x10", "inf", "nan", "1mi",   "1.5.Gi", ".",    "+",  "1e99999", "1Gi ", " 1"}) {
    EXPECT_FALSE(parse_quantity(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(ResourceRef, Paths) {
  EXPECT_EQ(resources::nodes().path(), "/api/v1/nodes");
  EXPECT_EQ(resources::nodes().path("ignored", "n1"), "/api/v1/nodes/n1");
  EXPECT_EQ(resources::pods().path(), "/api/v1/pods");
  EXPECT_EQ(resources::pods().path("kube-system"), "/api/v1/namespaces/kube-system/pods");
  EXPECT_EQ(resources::pods().path("ns", "p"), "/api/v1/namespaces/ns/pods/p");
  ResourceRef deployments{"apps", "v1", "deployments", "Deployment", true};
  EXPECT_EQ(deployments.api_version(), "apps/v1");
  EXPECT_EQ(deployments.path("ns", "name"), "/apis/apps/v1/namespaces/ns/deployments/name");
  EXPECT_EQ(resources::capi_machines().path("capi"), "/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machines");
  EXPECT_EQ(resources::openshift_machine_sets().api_version(), "machine.openshift.io/v1beta1");
  EXPECT_EQ(resources::nodes().api_version(), "v1");
  // Names are path segments: anything odd is escaped.
  EXPECT_EQ(resources::nodes().path({}, "a/b c"), "/api/v1/nodes/a%2Fb%20c");
}

TEST(Error, FromAStatusBody) {
  auto e = error_from_response(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"nodes \"n9\" not found","reason":"NotFound","details":{"name":"n9","kind":"nodes"},"code":404})");
  EXPECT_EQ(e.status, 404);
  EXPECT_TRUE(e.not_found());
  EXPECT_EQ(e.reason, "NotFound");
  EXPECT_EQ(e.message, "nodes \"n9\" not found");
  EXPECT_FALSE(e.transport);
  EXPECT_EQ(e.describe(), "HTTP 404 NotFound: nodes \"n9\" not found");

  e = error_from_response(
      409, R"({"kind":"Status","reason":"Conflict","message":"the object has been modified","code":409})");
  EXPECT_TRUE(e.conflict());
  e = error_from_response(429, R"({"kind":"Status","reason":"TooManyRequests","message":"slow down",
      "details":{"retryAfterSeconds":3},"code":429})");
  EXPECT_EQ(e.retry_after_seconds, 3);
}

TEST(Error, WithoutAStatusBody) {
  auto e = error_from_response(503, "<html>\x01upstream\nbusy</html>");
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.reason, "ServiceUnavailable");
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_EQ(e.message.find('\x01'), std::string::npos);
  EXPECT_NE(e.message.find("upstream"), std::string::npos);
  e = error_from_response(401, "");
  EXPECT_TRUE(e.unauthorized());
  EXPECT_EQ(e.reason, "Unauthorized");
  EXPECT_FALSE(e.message.empty());
  e = error_from_response(410, "{}");
  EXPECT_TRUE(e.gone());
  EXPECT_EQ(e.reason, "Expired");
  EXPECT_LE(error_from_response(500, std::string(10000, 'x')).message.size(), 210u);
}

TEST(Error, FromAWatchErrorStatusAndTransport) {
  auto e = error_from_status(json::parse(R"J({"kind":"Status","status":"Failure",
      "message":"too old resource version: 5 (10)","reason":"Expired","code":410})J"));
  EXPECT_TRUE(e.gone());
  EXPECT_EQ(e.reason, "Expired");
  EXPECT_EQ(error_from_status(json::object()).status, 500);
  EXPECT_EQ(error_from_status(json::parse(R"({"code": 99999})"), 503).status, 503);
  EXPECT_EQ(error_from_status(json("not an object")).status, 500);

  auto t = error_from_transport({net::ClientError::Kind::timeout, "request to 1.2.3.4:6443 timed out"});
  EXPECT_EQ(t.status, 0);
  ASSERT_TRUE(t.transport);
  EXPECT_EQ(t.message, "request to 1.2.3.4:6443 timed out");
  EXPECT_EQ(t.describe(), "request failed (timeout): request to 1.2.3.4:6443 timed out");
}

TEST(TypedViews, NodeAndObjectMeta) {
  json node = json::parse(R"({
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "worker-1", "uid": "u-1", "resourceVersion": "42",
                 "labels": {"topology.kubernetes.io/zone": "zone-a", "n": 1},
                 "annotations": {"a": "b"}},
    "spec": {"providerID": "aws:///zone-a/i-123", "unschedulable": true,
             "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
    "status": {
      "capacity": {"cpu": "4", "memory": "16Gi"}, "allocatable": {"cpu": "3800m"},
      "conditions": [{"type": "MemoryPressure", "status": "False"},
                     {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": "2024-01-01T00:00:00Z"}],
      "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
      "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1",
                   "osImage": "Ubuntu", "containerRuntimeVersion": "containerd://1.7", "kubeletVersion": "v1.29.0",
                   "operatingSystem": "linux", "architecture": "amd64"}}})");
  Node n = Node::from(node);
  EXPECT_EQ(n.metadata.name, "worker-1");
  EXPECT_EQ(n.metadata.resource_version, "42");
  EXPECT_EQ(n.metadata.labels.size(), 1u);  // the non-string label is skipped
  EXPECT_EQ(n.metadata.annotations.at("a"), "b");
  EXPECT_EQ(n.provider_id, "aws:///zone-a/i-123");
  EXPECT_TRUE(n.unschedulable);
  ASSERT_EQ(n.taints.size(), 1u);
  EXPECT_EQ(n.taints[0].effect, "NoSchedule");
  EXPECT_EQ(n.capacity.at("memory"), "16Gi");
  EXPECT_EQ(n.allocatable.at("cpu"), "3800m");
  EXPECT_TRUE(n.ready());
  ASSERT_EQ(n.addresses.size(), 1u);
  EXPECT_EQ(n.addresses[0].address, "10.0.0.5");
  EXPECT_EQ(n.kubelet_version, "v1.29.0");
  EXPECT_EQ(n.architecture, "amd64");
  EXPECT_EQ(object_key(node), "worker-1");

  node["status"]["conditions"][1]["status"] = "Unknown";
  EXPECT_FALSE(Node::from(node).ready());
  // Garbage in, empty view out, no exception.
  Node empty = Node::from(json::parse(R"({"metadata": 3, "spec": [], "status": {"conditions": [1, "x"]}})"));
  EXPECT_TRUE(empty.metadata.name.empty());
  EXPECT_FALSE(empty.ready());
  EXPECT_EQ(object_key(json::parse(R"({"metadata": {"namespace": "ns", "name": "p"}})")), "ns/p");
}

TEST(Discovery, ParsesApiResourceLists) {
  auto list = parse_api_resources(json::parse(R"({
    "kind": "APIResourceList", "groupVersion": "apps/v1",
    "resources": [
      {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment", "verbs": ["get"]},
      {"name": "deployments/status", "namespaced": true, "kind": "Deployment"},
      {"name": "controllerrevisions", "namespaced": true, "kind": "ControllerRevision"}]})"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].group, "apps");
  EXPECT_EQ(list[0].version, "v1");
  EXPECT_EQ(list[0].resource, "deployments");
  EXPECT_EQ(list[0].kind, "Deployment");
  EXPECT_TRUE(list[0].namespaced);
  auto core = parse_api_resources(json::parse(R"({"groupVersion": "v1",
    "resources": [{"name": "nodes", "namespaced": false, "kind": "Node"}]})"));
  ASSERT_EQ(core.size(), 1u);
  EXPECT_EQ(core[0].group, "");
  EXPECT_EQ(core[0].path(), "/api/v1/nodes");
  EXPECT_TRUE(parse_api_resources(json::parse("[1,2]")).empty());
}

TEST(TokenBucket, BurstThenQps) {
  using namespace std::chrono_literals;
  TokenBucket::Clock::time_point t0{};
  TokenBucket b(10, 3, t0);  // 3 at once, then one per 100 ms
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.wait_time(t0)).count(), 100);
  EXPECT_FALSE(b.try_take(t0 + 50ms));
  EXPECT_NEAR(std::chrono::duration<double>(b.wait_time(t0 + 50ms)).count(), 0.05, 1e-6);
  EXPECT_TRUE(b.try_take(t0 + 100ms));
  EXPECT_FALSE(b.try_take(t0 + 100ms));
  // Idle time refills up to the burst, never beyond.
  auto later = t0 + 10s;
  EXPECT_EQ(b.wait_time(later).count(), 0);
  int taken = 0;
  while (b.try_take(later)) ++taken;
  EXPECT_EQ(taken, 3);
  // A clock that goes backwards changes nothing.
  EXPECT_FALSE(b.try_take(t0));
}

TEST(TokenBucket, RateOverTime) {
  using namespace std::chrono_literals;
  TokenBucket::Clock::time_point t0{};
  TokenBucket b(50, 1, t0);
  int taken = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    if (b.try_take(t0 + std::chrono::milliseconds(ms))) ++taken;
  }
  EXPECT_GE(taken, 49);
  EXPECT_LE(taken, 51);
  TokenBucket unlimited(0, 1, t0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.try_take(t0));
  EXPECT_EQ(unlimited.wait_time(t0).count(), 0);
}

}  // namespace
}  // namespace o2gw::k8s
