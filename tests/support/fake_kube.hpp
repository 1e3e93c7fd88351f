// A fake Kubernetes API server for the integration tests: tests/support/fake_kube_apiserver.py
// (Python standard library only), run as a child process on 127.0.0.1. It keeps every object in
// memory and speaks the real REST protocol well enough for the real kubectl and helm
// (tools/bin, fetched by scripts/fetch-tools.sh): discovery, OpenAPI v3, CRUD with Status errors,
// the four patch types, server-side apply, selectors, paging, watches with bookmarks and a
// bounded history, status subresources and CRDs.
//
// The API port is TLS (a CA, server and client certificate made with the openssl CLI) with
// bearer-token or client-certificate authentication. A second, plain-HTTP control port serves
// the same API without authentication plus /_fake/* endpoints that script failures (compaction,
// dropped watches, slow answers, token rotation) and expose what clients sent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/gateway_process.hpp"

namespace o2gw::test {

class FakeKube {
 public:
  struct Options {
    bool require_client_cert = false;  // mTLS required on the API port
    std::string token = "fake-token";  // accepted bearer token ("" = tokens not accepted)
    bool machine_apis = false;         // --with-machine-apis
    int bookmark_interval_ms = 1000;
    std::size_t history = 100000;  // watch history kept before implicit compaction
  };
  FakeKube();  // default options
  explicit FakeKube(Options options);
  ~FakeKube();
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  [[nodiscard]] std::uint16_t port() const;          // API (TLS)
  [[nodiscard]] std::uint16_t control_port() const;  // plain HTTP
  [[nodiscard]] std::string server() const;          // "https://127.0.0.1:<port>"
  [[nodiscard]] const std::filesystem::path& ca_file() const;
  [[nodiscard]] const std::filesystem::path& client_cert_file()
      const;  // signed by the CA, CN=o2gw-test, O=system:masters
  [[nodiscard]] const std::filesystem::path& client_key_file() const;
  // A kubeconfig (context "fake") using the CA (certificate-authority-data inline, base64)
  // and the token; with_client_cert adds client-certificate-data/client-key-data inline.
  // token "" = options.token (and no token at all when that is "" too).
  [[nodiscard]] std::filesystem::path write_kubeconfig(bool with_client_cert = false,
                                                       const std::string& token = "") const;

  struct Reply {
    int status = 0;
    nlohmann::json body;  // the parsed body; a string when it is not JSON
  };
  // Calls the API through the control port (no auth): e.g. request("POST", "/api/v1/nodes", node).
  Reply request(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr,
                const std::string& content_type = "application/json") const;
  // POST /_fake/bulk: creates or replaces every object (one watch event each). Throws on failure.
  void bulk(const std::vector<nlohmann::json>& objects) const;
  void compact() const;
  void drop_watches() const;
  void set_hang(std::chrono::milliseconds delay) const;
  void set_token(const std::string& token) const;
  [[nodiscard]] nlohmann::json stats() const;
  [[nodiscard]] nlohmann::json requests() const;  // an array, oldest first

  // Runs tools/bin/kubectl or tools/bin/helm with KUBECONFIG set to a written kubeconfig (the
  // token one) and HOME/HELM_*_HOME in a private directory; returns exit code and combined
  // output. A run is killed after 60 s (exit code 124). Pass "--kubeconfig=..." to use another.
  struct Run {
    int exit_code = -1;
    std::string output;
  };
  Run kubectl(const std::vector<std::string>& args) const;
  Run helm(const std::vector<std::string>& args) const;
  void kill();

  // A realistic core/v1 Node JSON (capacity/allocatable cpu, memory, pods, ephemeral-storage, hugepages-2Mi,
  // nodeInfo, conditions Ready/MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable, addresses,
  // labels incl. kubernetes.io/arch, node.kubernetes.io/instance-type, topology.kubernetes.io/zone, providerID).
  static nlohmann::json make_node(const std::string& name, const std::string& zone = "zone-a",
                                  const std::string& instance_type = "m5.xlarge", bool ready = true);

  // The tool binaries; tests fail (never skip) with a hint to run scripts/fetch-tools.sh when absent.
  static std::filesystem::path kubectl_binary();
  static std::filesystem::path helm_binary();

 private:
  [[nodiscard]] Run run_tool(const std::filesystem::path& binary, const std::vector<std::string>& args) const;
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body) const;

  Options options_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
  std::uint16_t control_port_ = 0;
  std::filesystem::path ca_file_, client_cert_file_, client_key_file_;
  std::filesystem::path default_kubeconfig_;
  mutable int runs_ = 0;
};

}  // namespace o2gw::test
