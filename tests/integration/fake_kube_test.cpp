// The fake Kubernetes API server (tests/support/fake_kube_apiserver.py) checked against the
// real kubectl and helm, and its protocol strictness checked over the plain control port:
// other tests trust it to behave like a real API server, so these tests pin that down.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fake_kube.hpp"
#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

using json = nlohmann::json;

// Every watch event in a streamed body (one JSON object per line).
std::vector<json> watch_events(const std::string& body) {
  std::vector<json> out;
  std::size_t start = 0;
  while (start < body.size()) {
    auto nl = body.find('\n', start);
    if (nl == std::string::npos) nl = body.size();
    if (nl > start) out.push_back(json::parse(body.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

// Opens a watch on the control port; the server closes the connection when the stream ends.
HttpConnection open_watch(const FakeKube& kube, const std::string& target,
                          std::chrono::milliseconds read_deadline = 10s) {
  HttpConnection conn(kube.control_port(), read_deadline);
  conn.send_raw(build_request("GET", target, {{"Connection", "close"}, {"Accept", "application/json"}}));
  return conn;
}

json config_map(const std::string& name, const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", {{"k", "v"}}}};
}

std::string rv_of(const json& obj) {
  return obj.at("metadata").at("resourceVersion").get<std::string>();
}

::testing::AssertionResult IsStatus(const FakeKube::Reply& reply, int code, const std::string& reason) {
  const auto& b = reply.body;
  if (reply.status != code) {
    return ::testing::AssertionFailure() << "HTTP " << reply.status << " instead of " << code << ": " << b.dump();
  }
  if (!b.is_object() || b.value("kind", "") != "Status" || b.value("apiVersion", "") != "v1" ||
      b.value("status", "") != "Failure" || b.value("code", 0) != code || b.value("reason", "") != reason ||
      !b.contains("message") || !b.contains("metadata")) {
    return ::testing::AssertionFailure() << "not a " << code << " " << reason << " Status: " << b.dump();
  }
  return ::testing::AssertionSuccess();
}

TEST(FakeKube, ToolsArePresent) {
  // Integration tests never skip: a missing tool is a failure that says how to fetch it.
  ASSERT_TRUE(std::filesystem::exists(FakeKube::kubectl_binary()))
      << FakeKube::kubectl_binary() << " is missing: run scripts/fetch-tools.sh";
  ASSERT_TRUE(std::filesystem::exists(FakeKube::helm_binary()))
      << FakeKube::helm_binary() << " is missing: run scripts/fetch-tools.sh";
}

TEST(FakeKube, KubectlListsAndFiltersSeededNodes) {
  FakeKube kube;
  kube.bulk({FakeKube::make_node("node-a1", "zone-a"), FakeKube::make_node("node-a2", "zone-a", "m5.2xlarge", false),
             FakeKube::make_node("node-b1", "zone-b")});

  auto names = kube.kubectl({"get", "nodes", "-o", "name"});
  ASSERT_EQ(names.exit_code, 0) << names.output;
  EXPECT_EQ(names.output, "node/node-a1\nnode/node-a2\nnode/node-b1\n");

  auto zone_a = kube.kubectl({"get", "nodes", "-l", "topology.kubernetes.io/zone=zone-a", "-o", "name"});
  ASSERT_EQ(zone_a.exit_code, 0) << zone_a.output;
  EXPECT_EQ(zone_a.output, "node/node-a1\nnode/node-a2\n");

  auto not_a = kube.kubectl(
      {"get", "nodes", "-l", "topology.kubernetes.io/zone notin (zone-a),kubernetes.io/arch", "-o", "name"});
  ASSERT_EQ(not_a.exit_code, 0) << not_a.output;
  EXPECT_EQ(not_a.output, "node/node-b1\n");

  // The server-side table kubectl prints by default.
  auto table = kube.kubectl({"get", "nodes"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(table.output.substr(0, table.output.find('\n')).find("NAME"), 0u) << table.output;
  EXPECT_NE(table.output.find("STATUS"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("node-a2   NotReady"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("node-b1   Ready"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("v1.33.9"), std::string::npos) << table.output;

  auto node = kube.kubectl({"get", "node", "node-b1", "-o", "json"});
  ASSERT_EQ(node.exit_code, 0) << node.output;
  auto parsed = json::parse(node.output);
  EXPECT_EQ(parsed.at("metadata").at("labels").at("topology.kubernetes.io/zone"), "zone-b");
  EXPECT_EQ(parsed.at("status").at("capacity").at("cpu"), "4");
}

TEST(FakeKube, KubectlApplyClientSideServerSideAndDelete) {
  FakeKube kube;
  TempDir dir;
  auto manifest = [](const std::string& greeting, const std::string& image) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n  labels: {app: demo}\n"
           "data:\n  greeting: " +
           greeting +
           "\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n"
           "  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
           "      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: " +
           image + "\n        ports:\n        - containerPort: 80\n";
  };
  const auto v1 = dir.write("v1.yaml", manifest("hello", "nginx:1.25"));
  const auto v2 = dir.write("v2.yaml", manifest("bonjour", "nginx:1.26"));
  const auto v3 = dir.write("v3.yaml", manifest("server-side", "nginx:1.27"));

  auto created = kube.kubectl({"apply", "-f", v1.string()});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_EQ(created.output, "configmap/x created\ndeployment.apps/web created\n");

  auto configured = kube.kubectl({"apply", "-f", v2.string()});
  ASSERT_EQ(configured.exit_code, 0) << configured.output;
  EXPECT_EQ(configured.output, "configmap/x configured\ndeployment.apps/web configured\n");
  auto deployment = kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/web");
  ASSERT_EQ(deployment.status, 200);
  EXPECT_EQ(deployment.body["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26");
  EXPECT_EQ(deployment.body["spec"]["template"]["spec"]["containers"].size(), 1u)
      << "the strategic merge patch merges containers by name";
  EXPECT_EQ(deployment.body["metadata"]["generation"], 2);

  auto unchanged = kube.kubectl({"apply", "-f", v2.string()});
  ASSERT_EQ(unchanged.exit_code, 0) << unchanged.output;
  EXPECT_EQ(unchanged.output, "configmap/x unchanged\ndeployment.apps/web unchanged\n");

  auto server_side = kube.kubectl({"apply", "--server-side", "-f", v3.string()});
  ASSERT_EQ(server_side.exit_code, 0) << server_side.output;
  EXPECT_EQ(server_side.output, "configmap/x serverside-applied\ndeployment.apps/web serverside-applied\n");

  auto cm = kube.kubectl({"get", "cm", "x", "-o", "json"});
  ASSERT_EQ(cm.exit_code, 0) << cm.output;
  EXPECT_EQ(json::parse(cm.output)["data"]["greeting"], "server-side");

  // What kubectl sent: client-side apply is a strategic merge patch, server-side apply an apply patch.
  bool saw_strategic = false, saw_apply = false;
  for (const auto& r : kube.requests()) {
    if (r["method"] != "PATCH" || r["path"] != "/api/v1/namespaces/default/configmaps/x") continue;
    saw_strategic |= r["contentType"] == "application/strategic-merge-patch+json";
    saw_apply |= r["contentType"] == "application/apply-patch+yaml" &&
                 r["query"].get<std::string>().find("fieldManager=kubectl") != std::string::npos;
  }
  EXPECT_TRUE(saw_strategic);
  EXPECT_TRUE(saw_apply);

  auto deleted = kube.kubectl({"delete", "-f", v3.string()});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_EQ(deleted.output, "configmap \"x\" deleted\ndeployment.apps \"web\" deleted\n");
  EXPECT_TRUE(IsStatus(kube.request("GET", "/api/v1/namespaces/default/configmaps/x"), 404, "NotFound"));
  EXPECT_TRUE(IsStatus(kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/web"), 404, "NotFound"));
}

TEST(FakeKube, HelmInstallStatusListUninstall) {
  FakeKube kube;
  const auto chart = (source_dir() / "tests/support/charts/hello").string();
  const std::string releases = "/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm%2Cname%3Dhello";

  auto install = kube.helm({"install", "hello", chart, "-n", "default"});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  EXPECT_NE(install.output.find("STATUS: deployed"), std::string::npos) << install.output;

  auto cm = kube.request("GET", "/api/v1/namespaces/default/configmaps/hello-config");
  ASSERT_EQ(cm.status, 200) << cm.body.dump();
  EXPECT_EQ(cm.body["data"]["greeting"], "hello");
  EXPECT_EQ(cm.body["metadata"]["annotations"]["meta.helm.sh/release-name"], "hello");
  auto svc = kube.request("GET", "/api/v1/namespaces/default/services/hello");
  ASSERT_EQ(svc.status, 200) << svc.body.dump();
  EXPECT_FALSE(svc.body["spec"]["clusterIP"].get<std::string>().empty());
  EXPECT_EQ(kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/hello").status, 200);

  // Helm's storage: one Secret per revision (sent by helm as protobuf).
  auto stored = kube.request("GET", releases);
  ASSERT_EQ(stored.status, 200);
  ASSERT_EQ(stored.body["items"].size(), 1u) << stored.body.dump();
  const auto& release = stored.body["items"][0];
  EXPECT_EQ(release["metadata"]["name"], "sh.helm.release.v1.hello.v1");
  EXPECT_EQ(release["type"], "helm.sh/release.v1");
  EXPECT_EQ(release["metadata"]["labels"]["status"], "deployed");
  EXPECT_FALSE(release["data"]["release"].get<std::string>().empty());

  auto status = kube.helm({"status", "hello", "-n", "default"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("STATUS: deployed"), std::string::npos) << status.output;

  auto list = kube.helm({"list", "-n", "default", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  auto listed = json::parse(list.output);
  ASSERT_EQ(listed.size(), 1u) << list.output;
  EXPECT_EQ(listed[0]["name"], "hello");
  EXPECT_EQ(listed[0]["status"], "deployed");
  EXPECT_EQ(listed[0]["chart"], "hello-0.1.0");

  auto uninstall = kube.helm({"uninstall", "hello", "-n", "default"});
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.output;
  EXPECT_NE(uninstall.output.find("release \"hello\" uninstalled"), std::string::npos) << uninstall.output;
  EXPECT_TRUE(IsStatus(kube.request("GET", "/api/v1/namespaces/default/configmaps/hello-config"), 404, "NotFound"));
  EXPECT_TRUE(IsStatus(kube.request("GET", "/api/v1/namespaces/default/services/hello"), 404, "NotFound"));
  EXPECT_TRUE(IsStatus(kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/hello"), 404, "NotFound"));
  auto after = kube.request("GET", releases);
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(after.body["items"].empty()) << after.body.dump();

  auto empty = kube.helm({"list", "-n", "default", "-o", "json"});
  ASSERT_EQ(empty.exit_code, 0) << empty.output;
  EXPECT_EQ(json::parse(empty.output), json::array());
}

TEST(FakeKube, MutualTlsOnlyRequiresTheClientCertificate) {
  FakeKube kube(FakeKube::Options{.require_client_cert = true});
  auto with_cert = kube.kubectl({"--kubeconfig=" + kube.write_kubeconfig(true).string(), "get", "ns", "-o", "name"});
  ASSERT_EQ(with_cert.exit_code, 0) << with_cert.output;
  EXPECT_EQ(with_cert.output,
            "namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n");

  // A valid token is not enough when the handshake demands a certificate.
  auto token_only = kube.kubectl({"--kubeconfig=" + kube.write_kubeconfig(false).string(), "get", "ns"});
  EXPECT_NE(token_only.exit_code, 0) << token_only.output;
  EXPECT_NE(token_only.output.find("certificate"), std::string::npos) << token_only.output;
}

TEST(FakeKube, TokenOrClientCertificateAuthenticates) {
  {
    // With tokens turned off, a certificate alone is accepted and any token gets 401.
    FakeKube cert_only(FakeKube::Options{.token = ""});
    auto with_cert = cert_only.kubectl(
        {"--kubeconfig=" + cert_only.write_kubeconfig(true).string(), "get", "ns", "default", "-o", "name"});
    ASSERT_EQ(with_cert.exit_code, 0) << with_cert.output;
    EXPECT_EQ(with_cert.output, "namespace/default\n");
    auto token =
        cert_only.kubectl({"--kubeconfig=" + cert_only.write_kubeconfig(false, "fake-token").string(), "get", "ns"});
    EXPECT_EQ(token.exit_code, 1) << token.output;
    EXPECT_NE(token.output.find("You must be logged in to the server"), std::string::npos) << token.output;
  }
  FakeKube kube;
  auto wrong = kube.kubectl({"--kubeconfig=" + kube.write_kubeconfig(false, "wrong-token").string(), "get", "ns"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("You must be logged in to the server"), std::string::npos) << wrong.output;
  bool saw_401 = false;
  for (const auto& r : kube.requests()) saw_401 |= r["port"] == "api" && r["status"] == 401;
  EXPECT_TRUE(saw_401);
  // The 401 body is a Status, as kubectl's trace of the raw response shows.
  auto raw = kube.kubectl({"--kubeconfig=" + kube.write_kubeconfig(false, "wrong-token").string(), "get", "--raw",
                           "/api/v1/namespaces", "-v=8"});
  EXPECT_EQ(raw.exit_code, 1) << raw.output;
  EXPECT_NE(raw.output.find(R"({\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",)"
                            R"(\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401})"),
            std::string::npos)
      << raw.output;
  EXPECT_NE(raw.output.find("error: You must be logged in to the server (Unauthorized)"), std::string::npos)
      << raw.output;

  // Rotating the token: the old one stops working, the new one works.
  kube.set_token("rotated");
  auto old_token = kube.kubectl({"get", "ns", "default", "-o", "name"});
  EXPECT_EQ(old_token.exit_code, 1) << old_token.output;
  auto new_token = kube.kubectl(
      {"--kubeconfig=" + kube.write_kubeconfig(false, "rotated").string(), "get", "ns", "default", "-o", "name"});
  ASSERT_EQ(new_token.exit_code, 0) << new_token.output;
  EXPECT_EQ(new_token.output, "namespace/default\n");
}

TEST(FakeKube, ErrorsAreRealStatusObjects) {
  FakeKube kube;
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  auto created = kube.request("POST", cms, config_map("one"));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_FALSE(created.body["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(created.body["metadata"]["creationTimestamp"].get<std::string>().empty());
  const std::string first_rv = rv_of(created.body);

  auto dup = kube.request("POST", cms, config_map("one"));
  EXPECT_TRUE(IsStatus(dup, 409, "AlreadyExists"));
  EXPECT_EQ(dup.body["message"], "configmaps \"one\" already exists");
  EXPECT_EQ(dup.body["details"]["name"], "one");

  auto updated_body = created.body;
  updated_body["data"]["k"] = "v2";
  auto updated = kube.request("PUT", cms + "/one", updated_body);
  ASSERT_EQ(updated.status, 200) << updated.body.dump();
  EXPECT_GT(std::stoll(rv_of(updated.body)), std::stoll(first_rv));
  auto stale = kube.request("PUT", cms + "/one", created.body);  // still carries the first resourceVersion
  EXPECT_TRUE(IsStatus(stale, 409, "Conflict"));
  EXPECT_NE(stale.body["message"].get<std::string>().find("the object has been modified"), std::string::npos);

  EXPECT_TRUE(IsStatus(kube.request("GET", cms + "/missing"), 404, "NotFound"));
  EXPECT_TRUE(IsStatus(kube.request("PUT", cms + "/missing", config_map("missing")), 404, "NotFound"));
  EXPECT_TRUE(IsStatus(kube.request("DELETE", cms + "/missing"), 404, "NotFound"));
  auto no_ns = kube.request("POST", "/api/v1/namespaces/nowhere/configmaps", config_map("x"));
  EXPECT_TRUE(IsStatus(no_ns, 404, "NotFound"));
  EXPECT_EQ(no_ns.body["message"], "namespaces \"nowhere\" not found");

  auto nameless =
      kube.request("POST", cms, {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object()}});
  EXPECT_TRUE(IsStatus(nameless, 422, "Invalid"));
  EXPECT_EQ(nameless.body["details"]["causes"][0]["field"], "metadata.name");
  EXPECT_TRUE(IsStatus(kube.request("POST", cms, config_map("Not_A_Name")), 422, "Invalid"));
  EXPECT_TRUE(IsStatus(
      kube.request("POST", cms,
                   {{"apiVersion", "apps/v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "wrong-group"}}}}),
      422, "Invalid"));

  const json apply = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "applied"}}}, {"data", {{"a", "1"}}}};
  auto no_manager = kube.request("PATCH", cms + "/applied", apply, "application/apply-patch+yaml");
  EXPECT_TRUE(IsStatus(no_manager, 422, "Invalid"));
  auto applied = kube.request("PATCH", cms + "/applied?fieldManager=test", apply, "application/apply-patch+yaml");
  EXPECT_EQ(applied.status, 201) << applied.body.dump();
  // A real YAML body (kubectl and helm send JSON, which is YAML too).
  HttpConnection conn(kube.control_port());
  auto yaml = conn.request("PATCH", cms + "/applied?fieldManager=test",
                           {{"Content-Type", "application/apply-patch+yaml"}, {"Connection", "close"}},
                           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n"
                           "    tier: 'gold'  # a comment\ndata:\n  a: \"2\"\n  list: |\n    one\n    two\n");
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  EXPECT_EQ(yaml.json()["data"], (json{{"a", "2"}, {"list", "one\ntwo\n"}}));
  EXPECT_EQ(yaml.json()["metadata"]["labels"]["tier"], "gold");

  EXPECT_TRUE(IsStatus(kube.request("PATCH", cms + "/one", {{"data", {{"k", "v"}}}}, "text/plain"), 415,
                       "UnsupportedMediaType"));
}

TEST(FakeKube, PatchesAndStatusSubresource) {
  FakeKube kube;
  kube.bulk({FakeKube::make_node("n1")});
  const std::string node = "/api/v1/nodes/n1";

  auto merged =
      kube.request("PATCH", node, {{"metadata", {{"labels", {{"extra", "yes"}, {"kubernetes.io/os", nullptr}}}}}},
                   "application/merge-patch+json");
  ASSERT_EQ(merged.status, 200) << merged.body.dump();
  EXPECT_EQ(merged.body["metadata"]["labels"]["extra"], "yes");
  EXPECT_FALSE(merged.body["metadata"]["labels"].contains("kubernetes.io/os"));

  auto json_patched =
      kube.request("PATCH", node,
                   json::array({{{"op", "add"}, {"path", "/spec/unschedulable"}, {"value", true}},
                                {{"op", "replace"}, {"path", "/metadata/labels/extra"}, {"value", "no"}},
                                {{"op", "remove"}, {"path", "/metadata/annotations"}}}),
                   "application/json-patch+json");
  ASSERT_EQ(json_patched.status, 200) << json_patched.body.dump();
  EXPECT_EQ(json_patched.body["spec"]["unschedulable"], true);
  EXPECT_EQ(json_patched.body["metadata"]["labels"]["extra"], "no");
  EXPECT_FALSE(json_patched.body["metadata"].contains("annotations"));

  // The main resource ignores status; /status changes only status.
  auto ignored =
      kube.request("PATCH", node, {{"status", {{"capacity", {{"cpu", "64"}}}}}}, "application/merge-patch+json");
  ASSERT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.body["status"]["capacity"]["cpu"], "4");
  auto status =
      kube.request("PATCH", node + "/status",
                   {{"metadata", {{"labels", {{"sneaky", "1"}}}}}, {"status", {{"capacity", {{"cpu", "64"}}}}}},
                   "application/merge-patch+json");
  ASSERT_EQ(status.status, 200) << status.body.dump();
  EXPECT_EQ(status.body["status"]["capacity"]["cpu"], "64");
  EXPECT_FALSE(status.body["metadata"]["labels"].contains("sneaky"));

  // Strategic merge: containers merge by name.
  const std::string pods = "/api/v1/namespaces/default/pods";
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}}},
              {"spec",
               {{"nodeName", "n1"},
                {"containers", json::array({{{"name", "a"}, {"image", "a:1"}}, {{"name", "b"}, {"image", "b:1"}}})}}}};
  auto created = kube.request("POST", pods, pod);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["status"]["phase"], "Pending");
  auto smp =
      kube.request("PATCH", pods + "/p", {{"spec", {{"containers", json::array({{{"name", "b"}, {"image", "b:2"}}})}}}},
                   "application/strategic-merge-patch+json");
  ASSERT_EQ(smp.status, 200) << smp.body.dump();
  ASSERT_EQ(smp.body["spec"]["containers"].size(), 2u);
  EXPECT_EQ(smp.body["spec"]["containers"][0]["image"], "a:1");
  EXPECT_EQ(smp.body["spec"]["containers"][1]["image"], "b:2");

  auto by_node = kube.request("GET", pods + "?fieldSelector=spec.nodeName%3Dn1");
  ASSERT_EQ(by_node.status, 200);
  EXPECT_EQ(by_node.body["items"].size(), 1u);
  EXPECT_EQ(kube.request("GET", pods + "?fieldSelector=spec.nodeName%3Dn2").body["items"].size(), 0u);
  EXPECT_TRUE(IsStatus(kube.request("GET", pods + "?fieldSelector=spec.bogus%3Dx"), 400, "BadRequest"));
}

TEST(FakeKube, ListPagesWithContinueTokens) {
  FakeKube kube;
  std::vector<json> nodes;
  for (int i = 1; i <= 5; ++i) nodes.push_back(FakeKube::make_node("node-" + std::to_string(i)));
  kube.bulk(nodes);

  std::vector<std::string> seen;
  std::vector<std::string> tokens;
  std::string list_rv;
  std::string next = "/api/v1/nodes?limit=2";
  int pages = 0;
  while (!next.empty()) {
    auto page = kube.request("GET", next);
    ASSERT_EQ(page.status, 200) << page.body.dump();
    ++pages;
    ASSERT_LE(page.body["items"].size(), 2u);
    for (const auto& item : page.body["items"]) seen.push_back(item["metadata"]["name"]);
    if (list_rv.empty()) list_rv = page.body["metadata"]["resourceVersion"];
    EXPECT_EQ(page.body["metadata"]["resourceVersion"], list_rv) << "every page is the same snapshot";
    auto token = page.body["metadata"].value("continue", "");
    if (!token.empty()) {
      tokens.push_back(token);
      EXPECT_EQ(page.body["metadata"]["remainingItemCount"], 5 - 2 * pages);
      // A change after the first page does not show up in later pages (a consistent snapshot).
      if (pages == 1) {
        ASSERT_EQ(kube.request("DELETE", "/api/v1/nodes/node-5").status, 200);
      }
    }
    next = token.empty() ? "" : "/api/v1/nodes?limit=2&continue=" + token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(tokens.size(), 2u);
  EXPECT_EQ(seen, (std::vector<std::string>{"node-1", "node-2", "node-3", "node-4", "node-5"}));

  // resourceVersionMatch=Exact reads the same snapshot; node-5 is gone from the current state.
  auto exact = kube.request("GET", "/api/v1/nodes?resourceVersionMatch=Exact&resourceVersion=" + list_rv);
  ASSERT_EQ(exact.status, 200) << exact.body.dump();
  EXPECT_EQ(exact.body["items"].size(), 5u);
  EXPECT_EQ(kube.request("GET", "/api/v1/nodes").body["items"].size(), 4u);

  // After compaction the snapshot is gone: 410 Expired.
  kube.compact();
  EXPECT_TRUE(IsStatus(kube.request("GET", "/api/v1/nodes?limit=2&continue=" + tokens[0]), 410, "Expired"));
  EXPECT_TRUE(IsStatus(kube.request("GET", "/api/v1/nodes?limit=2&continue=garbage"), 400, "BadRequest"));
}

TEST(FakeKube, HangSlowsOnlyTheApiPort) {
  FakeKube kube;
  kube.set_hang(3000ms);
  auto slow = kube.kubectl({"get", "--raw", "/api/v1/namespaces", "--request-timeout=1s"});
  EXPECT_NE(slow.exit_code, 0) << slow.output;
  // Go words it "Client.Timeout exceeded" or "context deadline exceeded", depending on where the timer fired.
  EXPECT_TRUE(slow.output.find("Timeout exceeded") != std::string::npos ||
              slow.output.find("deadline exceeded") != std::string::npos)
      << slow.output;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(kube.request("GET", "/api/v1/namespaces/default").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms) << "the control port does not hang";
  kube.set_hang(0ms);
  auto fast = kube.kubectl({"get", "--raw", "/api/v1/namespaces/default", "--request-timeout=5s"});
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  EXPECT_EQ(json::parse(fast.output)["metadata"]["name"], "default");
}

TEST(FakeKube, WatchReplaysHistoryAndAppliesSelectors) {
  FakeKube kube;
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  auto a = kube.request("POST", cms, config_map("a", {{"app", "demo"}}));
  ASSERT_EQ(a.status, 201);
  const std::string from = rv_of(a.body);
  ASSERT_EQ(kube.request("POST", cms, config_map("b", {{"app", "demo"}})).status, 201);
  ASSERT_EQ(kube.request("PATCH", cms + "/a", {{"metadata", {{"labels", {{"app", "other"}}}}}},
                         "application/merge-patch+json")
                .status,
            200);
  ASSERT_EQ(kube.request("DELETE", cms + "/b").status, 200);

  // Replay after `from` with a selector: b ADDED, a stops matching (DELETED), b DELETED.
  auto conn = open_watch(kube, cms + "?watch=1&timeoutSeconds=1&labelSelector=app%3Ddemo&resourceVersion=" + from);
  auto res = conn.read_response();
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Transfer-Encoding"), "chunked");
  auto events = watch_events(res.body);
  ASSERT_EQ(events.size(), 3u) << res.body;
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(events[1]["type"], "DELETED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(events[2]["type"], "DELETED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "b");

  // Without a resourceVersion: the current objects as synthetic ADDED events, then live ones.
  auto live = open_watch(kube, cms + "?watch=true&timeoutSeconds=1");
  EXPECT_FALSE(live.wait_closed(300ms));
  ASSERT_EQ(kube.request("POST", cms, config_map("c")).status, 201);
  auto live_res = live.read_response();
  auto live_events = watch_events(live_res.body);
  ASSERT_EQ(live_events.size(), 2u) << live_res.body;
  EXPECT_EQ(live_events[0]["type"], "ADDED");
  EXPECT_EQ(live_events[0]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(live_events[1]["type"], "ADDED");
  EXPECT_EQ(live_events[1]["object"]["metadata"]["name"], "c");
}

TEST(FakeKube, WatchFromACompactedVersionGets410) {
  FakeKube kube;
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  auto a = kube.request("POST", cms, config_map("a"));
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(kube.request("PATCH", cms + "/a", {{"data", {{"k", "v2"}}}}, "application/merge-patch+json").status, 200);
  kube.compact();

  auto conn = open_watch(kube, cms + "?watch=1&resourceVersion=" + rv_of(a.body), 5s);
  auto res = conn.read_response();
  ASSERT_EQ(res.status, 200);
  auto events = watch_events(res.body);
  ASSERT_EQ(events.size(), 1u) << res.body;
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["kind"], "Status");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");

  // Watching from the current version still works.
  auto current = kube.stats()["resourceVersion"].get<std::string>();
  auto ok = open_watch(kube, cms + "?watch=1&timeoutSeconds=1&resourceVersion=" + current, 5s).read_response();
  EXPECT_TRUE(watch_events(ok.body).empty()) << ok.body;
}

TEST(FakeKube, WatchSendsBookmarks) {
  FakeKube kube(FakeKube::Options{.bookmark_interval_ms = 200});
  const auto rv = kube.stats()["resourceVersion"].get<std::string>();
  auto conn =
      open_watch(kube, "/api/v1/nodes?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=" + rv, 6s);
  auto res = conn.read_response();
  ASSERT_EQ(res.status, 200);
  auto events = watch_events(res.body);
  ASSERT_GE(events.size(), 5u) << res.body;
  for (const auto& e : events) {
    EXPECT_EQ(e["type"], "BOOKMARK");
    EXPECT_EQ(e["object"], (json{{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}}));
  }
}

TEST(FakeKube, DropWatchesClosesStreams) {
  FakeKube kube;
  auto conn = open_watch(kube, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=60");
  ASSERT_TRUE(eventually([&] { return kube.stats()["watchesOpen"] == 1; }, 5s));
  ASSERT_EQ(kube.request("POST", "/api/v1/namespaces/default/configmaps", config_map("a")).status, 201);
  EXPECT_FALSE(conn.wait_closed(300ms));
  EXPECT_NE(conn.pending().find("\"ADDED\""), std::string::npos) << conn.pending();

  kube.drop_watches();
  std::string raw;
  ASSERT_TRUE(conn.wait_closed(5s, &raw));
  EXPECT_EQ(raw.find("0\r\n\r\n"), std::string::npos) << "an abrupt close, not the end of the stream";
  EXPECT_TRUE(eventually([&] { return kube.stats()["watchesOpen"] == 0; }, 5s));
  EXPECT_EQ(kube.stats()["watchesStarted"], 1);
}

TEST(FakeKube, CustomResourceDefinitionsAreServed) {
  FakeKube kube;
  const json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "widgets.example.com"}}},
      {"spec",
       {{"group", "example.com"},
        {"scope", "Namespaced"},
        {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}, {"shortNames", {"wd"}}}},
        {"versions",
         json::array(
             {{{"name", "v1"},
               {"served", true},
               {"storage", true},
               {"schema", {{"openAPIV3Schema", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
               {"subresources", {{"status", json::object()}}}}})}}}};
  ASSERT_EQ(kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status, 201);

  auto resources = kube.request("GET", "/apis/example.com/v1");
  ASSERT_EQ(resources.status, 200) << resources.body.dump();
  EXPECT_EQ(resources.body["resources"][0]["name"], "widgets");
  EXPECT_EQ(resources.body["resources"][0]["namespaced"], true);
  auto widget = kube.kubectl({"get", "wd"});
  EXPECT_EQ(widget.exit_code, 0) << widget.output;
  EXPECT_EQ(widget.output, "No resources found in default namespace.\n");

  const json w = {{"apiVersion", "example.com/v1"},
                  {"kind", "Widget"},
                  {"metadata", {{"name", "w1"}}},
                  {"spec", {{"size", 3}}},
                  {"status", {{"ready", true}}}};
  auto created = kube.request("POST", "/apis/example.com/v1/namespaces/default/widgets", w);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_FALSE(created.body.contains("status")) << "status is a subresource";
  EXPECT_EQ(created.body["metadata"]["generation"], 1);
  auto names = kube.kubectl({"get", "widgets", "-o", "name"});
  EXPECT_EQ(names.output, "widget.example.com/w1\n");

  ASSERT_EQ(
      kube.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status,
      200);
  EXPECT_EQ(kube.request("GET", "/apis/example.com/v1").status, 404);
}

TEST(FakeKube, MachineApisAreOptional) {
  FakeKube plain;
  EXPECT_EQ(plain.request("GET", "/apis/cluster.x-k8s.io/v1beta1").status, 404);
  FakeKube kube(FakeKube::Options{.machine_apis = true});
  auto resources = kube.kubectl({"api-resources", "--api-group=cluster.x-k8s.io", "-o", "name"});
  ASSERT_EQ(resources.exit_code, 0) << resources.output;
  EXPECT_EQ(resources.output,
            "machinedeployments.cluster.x-k8s.io\nmachines.cluster.x-k8s.io\nmachinesets.cluster.x-k8s.io\n");
  auto openshift = kube.request("GET", "/apis/machine.openshift.io/v1beta1/namespaces/default/machinesets");
  EXPECT_EQ(openshift.status, 200);
  EXPECT_EQ(openshift.body["kind"], "MachineSetList");
}

}  // namespace
}  // namespace o2gw::test
