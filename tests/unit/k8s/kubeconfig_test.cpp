#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "o2gw/k8s.hpp"

namespace o2gw::k8s {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("o2gw-k8s-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

// "-----BEGIN CERTIFICATE-----\nfake\n" and friends, base64.
constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
constexpr const char* kCaB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmNhCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";
constexpr const char* kCertB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmNlcnQKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
constexpr const char* kKeyB64 = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmtleQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==";

std::string two_contexts() {
  return std::string(R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://prod.example.com:6443/
    certificate-authority-data: )") +
         kCaB64 + R"(
- name: lab-cluster
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: prod-admin
  user:
    client-certificate-data: )" +
         kCertB64 + R"(
    client-key-data: )" +
         kKeyB64 + R"(
- name: lab-user
  user:
    token: lab-token-value
contexts:
- name: prod
  context:
    cluster: prod-cluster
    user: prod-admin
- name: lab
  context:
    cluster: lab-cluster
    user: lab-user
    namespace: o2
)";
}

std::string expect_config_error(const std::string& yaml, const std::string& context = {},
                                const fs::path& dir = fs::temp_directory_path()) {
  try {
    parse_kubeconfig(yaml, dir, context, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(Kubeconfig, CurrentContextWithInlineData) {
  auto c = parse_kubeconfig(two_contexts(), "/nowhere");
  EXPECT_EQ(c.context, "prod");
  EXPECT_EQ(c.server, "https://prod.example.com:6443");  // trailing slash dropped
  EXPECT_EQ(c.namespace_, "default");
  EXPECT_EQ(c.tls.ca_pem, kCaPem);
  EXPECT_TRUE(c.tls.ca_file.empty());
  EXPECT_EQ(c.tls.client_cert_pem, "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(c.tls.client_key_pem, "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n");
  EXPECT_TRUE(c.tls.verify);
  EXPECT_TRUE(c.bearer_token.empty());
  EXPECT_TRUE(c.token_file.empty());
}

TEST(Kubeconfig, ExplicitContextTokenNamespaceAndInsecure) {
  auto c = parse_kubeconfig(two_contexts(), "/nowhere", "lab");
  EXPECT_EQ(c.context, "lab");
  EXPECT_EQ(c.server, "https://10.0.0.1:6443");
  EXPECT_EQ(c.namespace_, "o2");
  EXPECT_EQ(c.bearer_token, "lab-token-value");
  EXPECT_FALSE(c.tls.verify);  // only because the file says so
  EXPECT_TRUE(c.tls.ca_pem.empty());
  EXPECT_TRUE(c.tls.client_cert_pem.empty());
}

TEST(Kubeconfig, MissingContextIsNamed) {
  auto msg = expect_config_error(two_contexts(), "staging");
  EXPECT_NE(msg.find("context \"staging\" not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.yaml"), std::string::npos) << msg;
}

TEST(Kubeconfig, MissingCurrentContextClusterOrUser) {
  auto msg = expect_config_error("apiVersion: v1\nkind: Config\nclusters: []\n");
  EXPECT_NE(msg.find("current-context"), std::string::npos) << msg;
  msg = expect_config_error(R"(current-context: a
contexts: [{name: a, context: {cluster: gone, user: u}}]
users: [{name: u, user: {token: t}}]
)");
  EXPECT_NE(msg.find("cluster \"gone\" not found"), std::string::npos) << msg;
  msg = expect_config_error(R"(current-context: a
contexts: [{name: a, context: {cluster: c, user: nobody}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
)");
  EXPECT_NE(msg.find("user \"nobody\" not found"), std::string::npos) << msg;
}

TEST(Kubeconfig, FilePathsResolveAgainstTheKubeconfigDirectory) {
  TempDir dir;
  dir.write("certs/ca.crt", kCaPem);
  dir.write("certs/client.crt", "c");
  dir.write("certs/client.key", "k");
  dir.write("token", "  file-token-value\n");
  auto file = dir.write("conf/kubeconfig", R"(current-context: ctx
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: ns1}}]
clusters:
- name: c
  cluster:
    server: https://api.example:6443
    certificate-authority: ../certs/ca.crt
users:
- name: u
  user:
    client-certificate: ../certs/client.crt
    client-key: )" + (dir.path / "certs/client.key").string() +
                                               R"(
    tokenFile: ../token
)");
  auto c = load_kubeconfig(file);
  EXPECT_EQ(fs::weakly_canonical(c.tls.ca_file), fs::weakly_canonical(dir.path / "certs/ca.crt"));
  EXPECT_EQ(fs::weakly_canonical(c.tls.client_cert_file), fs::weakly_canonical(dir.path / "certs/client.crt"));
  EXPECT_EQ(c.tls.client_key_file, dir.path / "certs/client.key");
  EXPECT_EQ(fs::weakly_canonical(c.token_file), fs::weakly_canonical(dir.path / "token"));
  EXPECT_EQ(c.namespace_, "ns1");
  EXPECT_TRUE(c.tls.verify);
  TokenSource tokens(c);
  EXPECT_EQ(tokens.token(), "file-token-value");
}

TEST(Kubeconfig, MissingReferencedFileIsAConfigError) {
  TempDir dir;
  auto file = dir.write("kubeconfig", R"(current-context: ctx
contexts: [{name: ctx, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://x", certificate-authority: ca.pem}}]
)");
  try {
    load_kubeconfig(file);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("certificate-authority"), std::string::npos) << msg;
    EXPECT_NE(msg.find((dir.path / "ca.pem").string()), std::string::npos) << msg;
  }
  EXPECT_THROW(load_kubeconfig(dir.path / "absent"), ConfigError);
}

TEST(Kubeconfig, InsecureOnlyWhenTheFileSaysSo) {
  std::string base = R"(current-context: a
contexts: [{name: a, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://x")";
  EXPECT_TRUE(parse_kubeconfig(base + "}}]\n", "/").tls.verify);
  EXPECT_TRUE(parse_kubeconfig(base + ", insecure-skip-tls-verify: false}}]\n", "/").tls.verify);
  EXPECT_FALSE(parse_kubeconfig(base + ", insecure-skip-tls-verify: true}}]\n", "/").tls.verify);
  auto msg = expect_config_error(base + ", insecure-skip-tls-verify: maybe}}]\n");
  EXPECT_NE(msg.find("true or false"), std::string::npos) << msg;
  msg = expect_config_error(base + ", insecure-skip-tls-verify: true, certificate-authority-data: " + kCaB64 + "}}]\n");
  EXPECT_NE(msg.find("cannot be combined"), std::string::npos) << msg;
}

TEST(Kubeconfig, PluginsAndBasicAuthAreRefusedClearly) {
  std::string head = R"(current-context: a
contexts: [{name: a, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users:
- name: u
  user:
    token: super-secret-token
)";
  auto msg = expect_config_error(head + "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}\n");
  EXPECT_NE(msg.find("exec credential plugins are not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find("user \"u\""), std::string::npos) << msg;
  msg = expect_config_error(head + "    auth-provider: {name: gcp}\n");
  EXPECT_NE(msg.find("auth-provider plugins are not supported"), std::string::npos) << msg;
  msg = expect_config_error(head + "    username: admin\n    password: hunter2\n");
  EXPECT_NE(msg.find("basic authentication is not supported"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("super-secret-token"), std::string::npos) << msg;
}

TEST(Kubeconfig, BadDocumentsNeverEchoSecrets) {
  auto msg = expect_config_error("token: [unclosed super-secret-token\n");
  EXPECT_NE(msg.find("not valid YAML"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("super-secret"), std::string::npos) << msg;
  msg = expect_config_error(R"(current-context: a
contexts: [{name: a, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {client-certificate-data: "not*base64*secretbits", client-key-data: QQ==}}]
)");
  EXPECT_NE(msg.find("client-certificate-data is not valid base64"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secretbits"), std::string::npos) << msg;
  msg = expect_config_error(R"(current-context: a
contexts: [{name: a, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {client-certificate-data: QQ==}}]
)");
  EXPECT_NE(msg.find("needs both"), std::string::npos) << msg;
  msg = expect_config_error(R"(current-context: a
contexts: [{name: a, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "ftp://x"}}]
)");
  EXPECT_NE(msg.find("server must be"), std::string::npos) << msg;
  EXPECT_NE(expect_config_error("- a list\n").find("not a kubeconfig"), std::string::npos);
}

// --- in-cluster ---------------------------------------------------------------

struct EnvVar {
  std::string name;
  std::optional<std::string> saved;
  EnvVar(std::string n, const char* value) : name(std::move(n)) {
    if (const char* old = std::getenv(name.c_str())) saved = old;
    if (value) {
      ::setenv(name.c_str(), value, 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  ~EnvVar() {
    if (saved) {
      ::setenv(name.c_str(), saved->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
};

TEST(InClusterConfig, FromServiceAccountDirectory) {
  TempDir sa;
  sa.write("token", "sa-token-1\n");
  sa.write("ca.crt", kCaPem);
  sa.write("namespace", "o2-system\n");
  EnvVar host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "443");
  auto c = in_cluster_config(sa.path);
  EXPECT_EQ(c.server, "https://10.96.0.1:443");
  EXPECT_EQ(c.namespace_, "o2-system");
  EXPECT_EQ(c.tls.ca_file, sa.path / "ca.crt");
  EXPECT_TRUE(c.tls.verify);
  EXPECT_EQ(c.token_file, sa.path / "token");
  EXPECT_TRUE(c.bearer_token.empty());
  EXPECT_TRUE(c.context.empty());
  EXPECT_EQ(TokenSource(c).token(), "sa-token-1");
}

TEST(InClusterConfig, Ipv6HostAndDefaults) {
  TempDir sa;
  sa.write("token", "t");
  sa.write("ca.crt", kCaPem);
  EnvVar host("KUBERNETES_SERVICE_HOST", "fd00::1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "6443");
  auto c = in_cluster_config(sa.path);
  EXPECT_EQ(c.server, "https://[fd00::1]:6443");
  EXPECT_EQ(c.namespace_, "default");
}

TEST(InClusterConfig, Errors) {
  TempDir sa;
  {
    EnvVar host("KUBERNETES_SERVICE_HOST", nullptr);
    EnvVar port("KUBERNETES_SERVICE_PORT", "443");
    EXPECT_THROW(in_cluster_config(sa.path), ConfigError);
  }
  EnvVar host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "443");
  try {
    in_cluster_config(sa.path);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("token"), std::string::npos) << e.what();
  }
  sa.write("token", "t");
  EXPECT_THROW(in_cluster_config(sa.path), ConfigError);  // no ca.crt
  EnvVar bad_port("KUBERNETES_SERVICE_PORT", "https");
  sa.write("ca.crt", kCaPem);
  EXPECT_THROW(in_cluster_config(sa.path), ConfigError);
}

// --- token source ---------------------------------------------------------------

TEST(TokenSource, RereadsTheFileWhenItRotates) {
  TempDir dir;
  auto file = dir.write("token", "first-token\n");
  ClusterConfig c;
  c.token_file = file;
  c.bearer_token = "static-token";
  TokenSource tokens(c);
  EXPECT_EQ(tokens.token(), "first-token");
  EXPECT_EQ(tokens.token(), "first-token");

  // The kubelet writes a new file; a different stamp makes it read again.
  dir.write("token", "second-token");
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  EXPECT_EQ(tokens.token(), "second-token");

  // A vanished or empty file keeps the last good token.
  fs::remove(file);
  EXPECT_EQ(tokens.token(), "second-token");
  dir.write("token", "");
  EXPECT_EQ(tokens.token(), "second-token");

  // After a 401 it is read again even if the stamp looks unchanged.
  dir.write("token", "third-token!");
  auto stamp = fs::last_write_time(file);
  EXPECT_EQ(tokens.token(), "third-token!");
  dir.write("token", "fourth-token");  // same size
  fs::last_write_time(file, stamp);
  tokens.invalidate();
  EXPECT_EQ(tokens.token(), "fourth-token");
}

TEST(TokenSource, StaticTokenWithoutFile) {
  ClusterConfig c;
  c.bearer_token = "abc";
  EXPECT_EQ(TokenSource(c).token(), "abc");
  c.token_file = "/nonexistent/token";
  EXPECT_EQ(TokenSource(c).token(), "abc");  // the file never readable: the static one
  EXPECT_EQ(TokenSource(ClusterConfig{}).token(), "");
}

}  // namespace
}  // namespace o2gw::k8s
