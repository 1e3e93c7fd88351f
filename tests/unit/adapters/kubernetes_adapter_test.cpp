// The Kubernetes adapter's shell: registration, config and kubeconfig errors,
// how failures read, and a lifecycle against a server that is not there. The
// mapping is in kubernetes_mapping_test.cpp; a real protocol exchange is in
// tests/integration/kubernetes_adapter_test.cpp.
#include "ims/kubernetes/kubernetes_adapter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"
#include "unit/adapters/adapter_test_support.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const AdapterFactory& factory() {
  const AdapterFactory* f = FactoryTable::global().find(Category::ims, "kubernetes");
  if (f == nullptr) throw std::runtime_error("kubernetes adapter not registered");
  return *f;
}

TEST(KubernetesAdapter, IsRegisteredAndValidatesItsSection) {
  const AdapterFactory& f = factory();
  EXPECT_NO_THROW(f.validate(json{{"kubeconfig", "/etc/kube/config"}}));
  EXPECT_NO_THROW(f.validate(json{{"in_cluster", true}, {"qps", 20}, {"burst", 40}}));
  try {
    f.validate(json{{"kubeconfig", "/k"}, {"pool_lable", "x"}});
    FAIL() << "accepted an unknown key";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "pool_lable");
  }
}

TEST(KubernetesAdapter, MissingKubeconfigFailsCreateWithThePath) {
  InventoryCache cache;
  const json config = {{"kubeconfig", "/nonexistent/o2gw-kubeconfig"}};
  try {
    (void)factory().create(test::make_adapter_context("c", &cache, config));
    FAIL() << "created an adapter without a kubeconfig";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/o2gw-kubeconfig"), std::string::npos) << e.what();
  }
}

TEST(KubernetesAdapter, FailuresReadAsWhatWentWrong) {
  const std::string server = "https://api.example:6443";
  k8s::Error unauthorized;
  unauthorized.status = 401;
  unauthorized.reason = "Unauthorized";
  unauthorized.message = "Unauthorized";
  EXPECT_EQ(describe_cluster_error(unauthorized, server, 10s),
            "API server refused the credentials (401 Unauthorized: Unauthorized)");
  k8s::Error forbidden;
  forbidden.status = 403;
  forbidden.message = "nodes is forbidden: User \"system:serviceaccount:o2gw:o2gw\" cannot list resource";
  EXPECT_EQ(describe_cluster_error(forbidden, server, 10s).rfind("API server denied access (403 Forbidden: nodes", 0),
            0u);
  k8s::Error refused;
  refused.transport = net::ClientError{net::ClientError::Kind::connect, "Connection refused"};
  refused.message = refused.transport->message;
  EXPECT_EQ(describe_cluster_error(refused, server, 10s), "cannot reach https://api.example:6443: Connection refused");
  k8s::Error slow;
  slow.transport = net::ClientError{net::ClientError::Kind::timeout, "deadline"};
  EXPECT_EQ(describe_cluster_error(slow, server, 2500ms), "no answer from https://api.example:6443 within 2500 ms");
  k8s::Error tls;
  tls.transport = net::ClientError{net::ClientError::Kind::tls, "certificate verify failed"};
  EXPECT_EQ(describe_cluster_error(tls, server, 1s),
            "TLS with https://api.example:6443 failed: certificate verify failed");
  k8s::Error other;
  other.status = 500;
  other.message = "etcdserver: request timed out";
  EXPECT_EQ(describe_cluster_error(other, server, 1s),
            "API server answered 500 Internal Server Error: etcdserver: request timed out");
}

TEST(KubernetesAdapter, UnreachableClusterIsUnhealthyUnsyncedAndStopsPromptly) {
  test::TempDir dir;
  const auto kubeconfig = dir.path() / "kubeconfig";
  {
    std::ofstream out(kubeconfig);
    // Port 1 on loopback: nothing listens, connections are refused at once.
    out << "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
           "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
           "users: [{name: u, user: {token: t}}]\n"
           "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
  }
  InventoryCache cache;
  const json config = {{"kubeconfig", kubeconfig.string()}, {"request_timeout_ms", 3000}};
  auto adapter = factory().create(test::make_adapter_context("lost", &cache, config));
  adapter->start();
  Health h;
  // The probe's answer wins over the discovery's, whichever fails first.
  EXPECT_TRUE(test::eventually(
      [&] {
        h = adapter->check_health();
        return !h.ok && h.detail.find("lost: cannot reach https://127.0.0.1:1") != std::string::npos;
      },
      10s))
      << h.detail;
  EXPECT_NE(h.detail.find("no inventory yet"), std::string::npos) << h.detail;
  EXPECT_FALSE(adapter->synced());
  EXPECT_EQ(cache.count(Kind::resource), 0u);
  const auto began = std::chrono::steady_clock::now();
  adapter->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);
  adapter->stop();  // twice is fine
  (void)adapter->check_health();
}

}  // namespace
}  // namespace o2gw::ims
