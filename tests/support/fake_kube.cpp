#include "support/fake_kube.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <thread>

#include "support/http_client.hpp"

namespace o2gw::test {

namespace {

constexpr auto kToolTimeout = std::chrono::seconds(60);
constexpr auto kControlTimeout = 60s;  // bulk-loading thousands of objects takes a while in Python

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
             std::uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    auto n = std::uint32_t(std::uint8_t(in[i])) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

void require_tool(const std::filesystem::path& binary) {
  if (!std::filesystem::exists(binary)) {
    throw std::runtime_error(binary.string() + " is missing: run scripts/fetch-tools.sh to fetch kubectl and helm");
  }
}

}  // namespace

FakeKube::FakeKube() : FakeKube(Options{}) {}

FakeKube::FakeKube(Options options) : options_(std::move(options)) {
  const auto pki = dir_.path() / "pki";
  std::vector<std::string> argv{"/usr/bin/python3",
                                (source_dir() / "tests/support/fake_kube_apiserver.py").string(),
                                "--pki",
                                pki.string(),
                                "--token=" + options_.token,
                                "--bookmark-interval-ms",
                                std::to_string(options_.bookmark_interval_ms),
                                "--history",
                                std::to_string(options_.history)};
  if (options_.require_client_cert) argv.emplace_back("--require-client-cert");
  if (options_.machine_apis) argv.emplace_back("--with-machine-apis");
  child_ = std::make_unique<ChildProcess>(std::move(argv), dir_.path() / "out.txt", dir_.path() / "err.txt");
  static const std::regex kListening(R"(listening api=(\d+) control=(\d+))");
  bool up = eventually(
      [&] {
        std::smatch m;
        std::string text = child_->out();
        if (!std::regex_search(text, m, kListening)) return false;
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        control_port_ = static_cast<std::uint16_t>(std::stoi(m[2].str()));
        return true;
      },
      20s, 10ms);
  if (!up) {
    std::string err = child_->err();
    child_->kill();
    throw std::runtime_error("fake kube-apiserver did not start: " + err);
  }
  ca_file_ = pki / "ca.pem";
  client_cert_file_ = pki / "client.pem";
  client_key_file_ = pki / "client.key";
  default_kubeconfig_ = write_kubeconfig(false);
}

FakeKube::~FakeKube() {
  if (::testing::Test::HasFailure() && child_) {
    std::cerr << "--- fake kube-apiserver (api " << port_ << ", control " << control_port_ << ") stderr ---\n"
              << child_->err() << "--- end ---\n";
  }
}

std::uint16_t FakeKube::port() const {
  return port_;
}
std::uint16_t FakeKube::control_port() const {
  return control_port_;
}
std::string FakeKube::server() const {
  return "https://127.0.0.1:" + std::to_string(port_);
}
const std::filesystem::path& FakeKube::ca_file() const {
  return ca_file_;
}
const std::filesystem::path& FakeKube::client_cert_file() const {
  return client_cert_file_;
}
const std::filesystem::path& FakeKube::client_key_file() const {
  return client_key_file_;
}

std::filesystem::path FakeKube::write_kubeconfig(bool with_client_cert, const std::string& token) const {
  const std::string& use_token = token.empty() ? options_.token : token;
  std::string user;
  if (!use_token.empty()) user += "    token: " + use_token + "\n";
  if (with_client_cert) {
    user += "    client-certificate-data: " + base64(read_file_text(client_cert_file_)) + "\n";
    user += "    client-key-data: " + base64(read_file_text(client_key_file_)) + "\n";
  }
  if (user.empty()) user = "    {}\n";
  const std::string text =
      "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " + server() +
      "\n    certificate-authority-data: " + base64(read_file_text(ca_file_)) + "\nusers:\n- name: fake\n  user:\n" +
      user +
      "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
      "    namespace: default\ncurrent-context: fake\n";
  return dir_.write("kubeconfig-" + std::to_string(++runs_) + ".yaml", text);
}

FakeKube::Reply FakeKube::request(const std::string& method, const std::string& path, const nlohmann::json& body,
                                  const std::string& content_type) const {
  HttpConnection conn(control_port_, kControlTimeout);
  HeaderList headers{{"Accept", "application/json"}, {"Connection", "close"}};
  std::string payload;
  if (!body.is_null()) {
    payload = body.dump();
    headers.emplace_back("Content-Type", content_type);
  }
  auto res = conn.request(method, path, headers, payload);
  Reply reply;
  reply.status = res.status;
  reply.body = nlohmann::json::parse(res.body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = res.body;
  return reply;
}

nlohmann::json FakeKube::control(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  auto reply = request(method, path, body);
  if (reply.status != 200) {
    throw std::runtime_error("fake kube control " + method + " " + path + " failed: " + std::to_string(reply.status) +
                             " " + reply.body.dump());
  }
  return reply.body;
}

void FakeKube::bulk(const std::vector<nlohmann::json>& objects) const {
  control("POST", "/_fake/bulk", {{"objects", objects}});
}
void FakeKube::compact() const {
  control("POST", "/_fake/compact", nlohmann::json::object());
}
void FakeKube::drop_watches() const {
  control("POST", "/_fake/drop-watches", nlohmann::json::object());
}
void FakeKube::set_hang(std::chrono::milliseconds delay) const {
  control("POST", "/_fake/hang", {{"ms", delay.count()}});
}
void FakeKube::set_token(const std::string& token) const {
  control("POST", "/_fake/token", {{"token", token}});
}
nlohmann::json FakeKube::stats() const {
  return control("GET", "/_fake/stats", nullptr);
}
nlohmann::json FakeKube::requests() const {
  return control("GET", "/_fake/requests", nullptr);
}

std::filesystem::path FakeKube::kubectl_binary() {
  return source_dir() / "tools/bin/kubectl";
}
std::filesystem::path FakeKube::helm_binary() {
  return source_dir() / "tools/bin/helm";
}

FakeKube::Run FakeKube::kubectl(const std::vector<std::string>& args) const {
  return run_tool(kubectl_binary(), args);
}
FakeKube::Run FakeKube::helm(const std::vector<std::string>& args) const {
  return run_tool(helm_binary(), args);
}

FakeKube::Run FakeKube::run_tool(const std::filesystem::path& binary, const std::vector<std::string>& args) const {
  require_tool(binary);
  const int n = ++runs_;
  const auto out = dir_.path() / ("run-" + std::to_string(n) + ".out");
  const auto rc = dir_.path() / ("run-" + std::to_string(n) + ".rc");
  const auto home = dir_.path() / "home";
  std::filesystem::create_directories(home);
  // The shell runs the tool under timeout(1) with stdout and stderr in one file, then records
  // the exit code: ChildProcess captures output but does not report how the child exited.
  std::vector<std::string> argv{"/bin/sh",
                                "-c",
                                "out=$1; rc=$2; shift 2; timeout -k 5 " + std::to_string(kToolTimeout.count()) +
                                    " \"$@\" >\"$out\" 2>&1; echo $? >\"$rc\"",
                                "sh",
                                out.string(),
                                rc.string(),
                                binary.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const EnvList env{
      {"KUBECONFIG", default_kubeconfig_.string()},        {"HOME", home.string()},
      {"HELM_CACHE_HOME", (home / "helm-cache").string()}, {"HELM_CONFIG_HOME", (home / "helm-config").string()},
      {"HELM_DATA_HOME", (home / "helm-data").string()},   {"KUBECACHEDIR", (home / "kube-cache").string()}};
  ChildProcess child(std::move(argv), dir_.path() / ("run-" + std::to_string(n) + ".sh.out"),
                     dir_.path() / ("run-" + std::to_string(n) + ".sh.err"), env);
  Run run;
  if (!eventually([&] { return !child.running(); }, kToolTimeout + 15s, 10ms)) {
    child.kill();
    run.output = "(still running after the timeout; killed)";
    return run;
  }
  try {
    run.output = read_file_text(out);
    run.exit_code = std::stoi(read_file_text(rc));
  } catch (const std::exception& e) {
    run.output += std::string("\n(could not read the result: ") + e.what() + ")";
  }
  return run;
}

void FakeKube::kill() {
  if (child_) child_->kill();
}

nlohmann::json FakeKube::make_node(const std::string& name, const std::string& zone, const std::string& instance_type,
                                   bool ready) {
  auto condition = [](const char* type, bool ok, const char* reason, const char* message) {
    return nlohmann::json{{"type", type},
                          {"status", ok ? "True" : "False"},
                          {"lastHeartbeatTime", "2025-01-01T00:00:00Z"},
                          {"lastTransitionTime", "2025-01-01T00:00:00Z"},
                          {"reason", reason},
                          {"message", message}};
  };
  const std::string region = zone.size() > 2 ? zone.substr(0, zone.size() - 2) : zone;
  const auto host = std::hash<std::string>{}(name) % 65000;
  const std::string ip = "10.0." + std::to_string(host / 250) + "." + std::to_string(host % 250 + 1);
  nlohmann::json resources = {{"cpu", "4"},           {"memory", "16108100Ki"},
                              {"pods", "110"},        {"ephemeral-storage", "104845292Ki"},
                              {"hugepages-1Gi", "0"}, {"hugepages-2Mi", "0"}};
  nlohmann::json allocatable = resources;
  allocatable["cpu"] = "3920m";
  allocatable["memory"] = "15186500Ki";
  allocatable["ephemeral-storage"] = "96625420948";
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", name},
        {"labels",
         {{"kubernetes.io/hostname", name},
          {"kubernetes.io/os", "linux"},
          {"kubernetes.io/arch", "amd64"},
          {"beta.kubernetes.io/os", "linux"},
          {"beta.kubernetes.io/arch", "amd64"},
          {"node.kubernetes.io/instance-type", instance_type},
          {"topology.kubernetes.io/zone", zone},
          {"topology.kubernetes.io/region", region}}},
        {"annotations",
         {{"node.alpha.kubernetes.io/ttl", "0"}, {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
      {"spec",
       {{"providerID", "aws:///" + zone + "/i-" + name},
        {"podCIDR", "10.244.0.0/24"},
        {"podCIDRs", {"10.244.0.0/24"}}}},
      {"status",
       {{"capacity", resources},
        {"allocatable", allocatable},
        {"conditions",
         {condition("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
          condition("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
          condition("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
          condition("NetworkUnavailable", false, "RouteCreated", "RouteController created a route"),
          condition("Ready", ready, ready ? "KubeletReady" : "KubeletNotReady",
                    ready ? "kubelet is posting ready status" : "container runtime network not ready")}},
        {"addresses",
         {{{"type", "InternalIP"}, {"address", ip}},
          {{"type", "Hostname"}, {"address", name}},
          {{"type", "InternalDNS"}, {"address", name + ".ec2.internal"}}}},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
        {"nodeInfo",
         {{"machineID", "ec2" + std::string(29, '0')},
          {"systemUUID", "ec2" + std::string(29, '0')},
          {"bootID", "00000000-0000-0000-0000-000000000000"},
          {"kernelVersion", "6.1.0-28-amd64"},
          {"osImage", "Debian GNU/Linux 12 (bookworm)"},
          {"containerRuntimeVersion", "containerd://1.7.24"},
          {"kubeletVersion", "v1.33.9"},
          {"kubeProxyVersion", "v1.33.9"},
          {"operatingSystem", "linux"},
          {"architecture", "amd64"}}}}}};
}

}  // namespace o2gw::test
