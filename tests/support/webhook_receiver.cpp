#include "support/webhook_receiver.hpp"

#include <regex>
#include <stdexcept>
#include <thread>

#include "support/http_client.hpp"

namespace o2gw::test {

WebhookReceiver::WebhookReceiver(std::filesystem::path keys, std::uint16_t port, std::optional<Tls> tls) {
  std::vector<std::string> argv{"/usr/bin/python3", (source_dir() / "tests/support/webhook_receiver.py").string(),
                                "--keys", keys.string(), "--log", (dir_.path() / "received.jsonl").string(),
                                "--port", std::to_string(port)};
  if (tls) argv.insert(argv.end(), {"--tls-cert", tls->cert.string(), "--tls-key", tls->key.string()});
  child_ = std::make_unique<ChildProcess>(std::move(argv), dir_.path() / "out.txt", dir_.path() / "err.txt");
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
  // The receiver appends one JSON line per request; a line still being written is skipped.
  std::vector<nlohmann::json> out;
  std::string text;
  try {
    text = read_file_text(dir_.path() / "received.jsonl");
  } catch (const std::exception&) {
    return out;
  }
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    auto line = nlohmann::json::parse(text.substr(start, nl - start), nullptr, false);
    if (!line.is_discarded()) out.push_back(std::move(line));
    start = nl + 1;
  }
  return out;
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
