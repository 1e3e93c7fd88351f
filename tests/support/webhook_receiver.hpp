// A real webhook receiver for the integration tests: tests/support/webhook_receiver.py
// (Python's own http.server and hmac), run as a separate process on 127.0.0.1.
// It checks every X-O2-Signature independently of o2gw's C++ code, records what
// it received, and answers as scripted (statuses, Retry-After, delays).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/gateway_process.hpp"

namespace o2gw::test {

class WebhookReceiver {
 public:
  // `keys` is the signing key directory o2gw uses; port 0 picks a free port.
  // With a certificate and key, it serves HTTPS (control() then does not work;
  // received() reads the receiver's log file, so it does).
  struct Tls {
    std::filesystem::path cert, key;
  };
  explicit WebhookReceiver(std::filesystem::path keys, std::uint16_t port = 0, std::optional<Tls> tls = std::nullopt);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& path = "/notify") const;

  // POST /_control: {"script": [{"status": 503, "retryAfter": 1, "count": 2}, ...], "delayMs": 0}
  void control(const nlohmann::json& body) const;
  // Every request received so far (GET /_control/received), oldest first.
  [[nodiscard]] std::vector<nlohmann::json> received() const;
  // The notifications received (POSTs to `path`), oldest first.
  [[nodiscard]] std::vector<nlohmann::json> posts(const std::string& path = "/notify") const;
  // Waits until at least n POSTs to `path` arrived; returns them.
  std::vector<nlohmann::json> wait_posts(std::size_t n, std::chrono::milliseconds timeout,
                                         const std::string& path = "/notify") const;

  void kill();

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

}  // namespace o2gw::test
