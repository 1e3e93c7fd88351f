// A real Prometheus Alertmanager for the integration tests (the Debian package
// prometheus-alertmanager, /usr/bin/prometheus-alertmanager), on 127.0.0.1 with
// its storage in a temporary directory and clustering off. Its only receiver
// posts every group (and its resolution) to a gateway's Alertmanager receiver.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "support/gateway_process.hpp"

namespace o2gw::test {

inline constexpr const char* kAlertmanagerBinary = "/usr/bin/prometheus-alertmanager";

class Alertmanager {
 public:
  // `webhook_url`: where notifications go (http://127.0.0.1:<gw>/internal/v1/alertmanager).
  // `bearer_token`: sent as Authorization: Bearer when not empty.
  explicit Alertmanager(const std::string& webhook_url, const std::string& bearer_token = "");
  ~Alertmanager();
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;

  [[nodiscard]] static bool available();
  [[nodiscard]] std::uint16_t port() const { return port_; }

  // POST /api/v2/alerts with one alert; throws when Alertmanager refuses it.
  void post_alert(const nlohmann::json& alert) const;
  // GET /api/v2/alerts.
  [[nodiscard]] nlohmann::json alerts() const;
  // Alertmanager's own log (stderr), for failure messages.
  [[nodiscard]] std::string log() const;

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

// RFC 3339 UTC with milliseconds, offset from now.
std::string rfc3339_from_now(std::chrono::seconds offset);

}  // namespace o2gw::test
