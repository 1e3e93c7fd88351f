#include "support/webhook_receiver.hpp"

#include <regex>
#include <stdexcept>
#include <thread>

#include "support/http_client.hpp"

namespace o2gw::test {

WebhookReceiver::WebhookReceiver(std::filesystem::path keys, std::uint16_t port) {
  child_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/python3", (source_dir() / "tests/support/webhook_receiver.py").string(),
                               "--keys", keys.string(), "--log", (dir_.path() / "received.jsonl").string(),
                               "--port", std::to_string(port)},
      dir_.path() / "out.txt", dir_.path() / "err.txt");
  static const std::regex kListening(R"(listening on 127\.0\.0\.1:(\d+))");
  bool up = eventually(
      [&] {
        std::smatch m;
        std::string text = child_->out();
        if (!std::regex_search(text, m, kListening)) return false;
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        return true;
      },
      10s, 10ms);
  if (!up) throw std::runtime_error("webhook receiver did not start: " + child_->err());
}

WebhookReceiver::~WebhookReceiver() {
  if (::testing::Test::HasFailure() && child_) {
    std::cerr << "--- webhook receiver (port " << port_ << ") stderr ---\n" << child_->err() << "--- end ---\n";
  }
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::control(const nlohmann::json& body) const {
  auto r = http_request(port_, "POST", "/_control", {{"Content-Type", "application/json"}}, body.dump());
  if (r.status != 200) throw std::runtime_error("receiver control failed: " + std::to_string(r.status) + " " + r.body);
}

std::vector<nlohmann::json> WebhookReceiver::received() const {
  auto r = http_get(port_, "/_control/received");
  if (r.status != 200) throw std::runtime_error("receiver log failed: " + std::to_string(r.status));
  return r.json().get<std::vector<nlohmann::json>>();
}

std::vector<nlohmann::json> WebhookReceiver::posts(const std::string& path) const {
  std::vector<nlohmann::json> out;
  for (auto& e : received()) {
    if (e.value("path", "") == path) out.push_back(std::move(e));
  }
  return out;
}

std::vector<nlohmann::json> WebhookReceiver::wait_posts(std::size_t n, std::chrono::milliseconds timeout,
                                                        const std::string& path) const {
  std::vector<nlohmann::json> got;
  eventually(
      [&] {
        got = posts(path);
        return got.size() >= n;
      },
      timeout, 50ms);
  return got;
}

void WebhookReceiver::kill() {
  if (child_) child_->kill();
}

}  // namespace o2gw::test
