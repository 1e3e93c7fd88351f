#include "support/alertmanager.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <stdexcept>

#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

// A port the kernel just handed out and took back: free unless something races for it.
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

bool Alertmanager::available() {
  return std::filesystem::exists(kAlertmanagerBinary);
}

Alertmanager::Alertmanager(const std::string& webhook_url, const std::string& bearer_token) {
  std::string config =
      "route:\n"
      "  receiver: o2gw\n"
      "  group_by: ['...']\n"  // every alert its own group: one notification per change
      "  group_wait: 0s\n"
      "  group_interval: 1s\n"
      "  repeat_interval: 4h\n"
      "receivers:\n"
      "  - name: o2gw\n"
      "    webhook_configs:\n"
      "      - url: '" +
      webhook_url +
      "'\n"
      "        send_resolved: true\n";
  if (!bearer_token.empty()) {
    config += "        http_config:\n          authorization:\n            credentials: '" + bearer_token + "'\n";
  }
  const auto config_path = dir_.write("alertmanager.yml", config);
  std::filesystem::create_directories(dir_.path() / "data");
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    child_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kAlertmanagerBinary, "--config.file=" + config_path.string(),
                                 "--storage.path=" + (dir_.path() / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address=", "--log.level=debug"},
        dir_.path() / "out.txt", dir_.path() / "err.txt");
    const bool ready = eventually(
        [&] {
          auto c = HttpConnection::try_connect(port_, 500ms);
          if (!c) return false;
          try {
            return c->get("/-/ready").status == 200;
          } catch (const HttpClientError&) {
            return false;
          }
        },
        15s, 50ms);
    if (ready) return;
    child_->kill();
  }
  throw std::runtime_error("alertmanager did not start: " + child_->err());
}

Alertmanager::~Alertmanager() {
  if (::testing::Test::HasFailure() && child_) {
    std::cerr << "--- alertmanager (port " << port_ << ") log ---\n" << child_->err() << "--- end ---\n";
  }
}

void Alertmanager::post_alert(const nlohmann::json& alert) const {
  auto r = http_request(port_, "POST", "/api/v2/alerts", {{"Content-Type", "application/json"}},
                        nlohmann::json::array({alert}).dump());
  if (r.status != 200)
    throw std::runtime_error("alertmanager refused the alert: " + std::to_string(r.status) + " " + r.body);
}

nlohmann::json Alertmanager::alerts() const {
  return http_get(port_, "/api/v2/alerts").json();
}

std::string Alertmanager::log() const {
  return child_ ? child_->err() : std::string();
}

std::string rfc3339_from_now(std::chrono::seconds offset) {
  const auto t = std::chrono::system_clock::now() + offset;
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace o2gw::test
