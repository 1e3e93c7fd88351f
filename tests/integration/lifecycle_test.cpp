// Process lifecycle of the real binary: graceful shutdown (in-flight requests
// finish, readiness drops, idle connections close, the grace period bounds the
// wait) and the check-config subcommand.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

using Clock = std::chrono::steady_clock;

const std::string kSubscriptions = "/o2ims-infrastructureInventory/v2/subscriptions";

std::string shutdown_config(int grace_ms) {
  return "server:\n"
         "  shutdown_grace_ms: " +
         std::to_string(grace_ms) +
         "\n"
         "  timeouts:\n"
         "    body_ms: 30000\n";
}

// The headers of a POST announcing `length` bytes, and the body's first half.
std::string post_head(std::size_t length) {
  return "POST " + kSubscriptions +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}
const std::string kBody = R"({"callback":"http://127.0.0.1:9/notify","filter":""})";

// True when a new client cannot get a 200 from /readyz: refused, reset, or 503.
bool readiness_gone(std::uint16_t port) {
  try {
    auto conn = HttpConnection::try_connect(port, 1000ms);
    if (!conn) return true;
    int status = conn->get("/readyz", {{"Connection", "close"}}).status;
    return status == 503;
  } catch (const HttpClientError&) {
    return true;
  }
}

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

TEST(GracefulShutdownTest, InFlightRequestCompletesWithConnectionClose) {
  GatewayProcess gw({.config_yaml = shutdown_config(5000)});

  // An idle keep-alive connection: closed at once by the shutdown.
  HttpConnection idle(gw.port());
  ASSERT_EQ(idle.get("/healthz").status, 200);

  // An in-flight request: headers and half the body sent.
  HttpConnection inflight(gw.port());
  inflight.send_raw(post_head(kBody.size()) + kBody.substr(0, kBody.size() / 2));
  std::this_thread::sleep_for(200ms);  // let the server read the headers

  auto signalled = Clock::now();
  gw.terminate();
  EXPECT_TRUE(eventually([&] { return readiness_gone(gw.port()); }, 2s)) << "/readyz still answers 200 after SIGTERM";
  EXPECT_TRUE(idle.wait_closed(2s)) << "idle keep-alive connection left open during shutdown";
  EXPECT_TRUE(gw.running()) << "exited before the in-flight request finished";

  inflight.send_raw(kBody.substr(kBody.size() / 2));
  HttpResponse res = inflight.read_response();
  // Answered in full (400: the default callback guard refuses loopback callbacks).
  EXPECT_TRUE(IsProblem(res, 400, kSubscriptions));
  EXPECT_TRUE(res.connection_close()) << "the last response of a draining server must say Connection: close";
  EXPECT_TRUE(inflight.wait_closed(2s));

  auto code = gw.wait_exit(3s);
  ASSERT_TRUE(code.has_value()) << "still running after the in-flight request finished";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(ms_since(signalled), 4000)
      << "should exit as soon as the last connection closes, not at the grace deadline";
}

TEST(GracefulShutdownTest, GracePeriodBoundsAStalledRequest) {
  constexpr int kGraceMs = 500;
  GatewayProcess gw({.config_yaml = shutdown_config(kGraceMs)});
  HttpConnection stalled(gw.port());
  stalled.send_raw(post_head(kBody.size()) + kBody.substr(0, 5));  // and never the rest
  std::this_thread::sleep_for(200ms);

  auto signalled = Clock::now();
  gw.terminate();
  auto code = gw.wait_exit(std::chrono::milliseconds(kGraceMs + 3000));
  auto elapsed = ms_since(signalled);
  ASSERT_TRUE(code.has_value()) << "still running " << elapsed << " ms after SIGTERM with a " << kGraceMs
                                << " ms grace period";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(elapsed, kGraceMs - 100) << "did not wait for the in-flight request";
  EXPECT_LE(elapsed, kGraceMs + 1500);
  EXPECT_TRUE(stalled.wait_closed(1s));
}

TEST(GracefulShutdownTest, SecondSignalStopsWithoutWaitingForTheGracePeriod) {
  GatewayProcess gw({.config_yaml = shutdown_config(20000)});
  HttpConnection stalled(gw.port());
  stalled.send_raw(post_head(kBody.size()) + kBody.substr(0, 5));
  std::this_thread::sleep_for(200ms);
  gw.terminate();
  EXPECT_TRUE(eventually([&] { return readiness_gone(gw.port()); }, 2s));
  EXPECT_TRUE(gw.running());
  auto second = Clock::now();
  gw.signal(SIGINT);
  auto code = gw.wait_exit(3s);
  ASSERT_TRUE(code.has_value()) << "a second signal should end the process at once";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(ms_since(second), 2000);
}

TEST(GracefulShutdownTest, IdleServerExitsPromptly) {
  GatewayProcess gw({.config_yaml = shutdown_config(10000)});
  HttpConnection idle(gw.port());
  ASSERT_EQ(idle.get("/healthz").status, 200);
  auto signalled = Clock::now();
  gw.terminate();
  auto code = gw.wait_exit(3s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(ms_since(signalled), 1500);
  EXPECT_TRUE(idle.wait_closed(1s));
}

// check-config validates and names the wrong key.
class CheckConfigTest : public ::testing::Test {
 protected:
  CommandResult check(const std::string& yaml, const EnvList& env = {}) {
    auto path = dir_.write("config.yaml", yaml);
    return run_gateway_command({"check-config", "--config", path.string()}, env);
  }
  void expect_rejected(const std::string& yaml, const std::string& key, const EnvList& env = {}) {
    CommandResult r = check(yaml, env);
    EXPECT_EQ(r.exit_code, 2) << "config:\n" << yaml << "\nstdout: " << r.out << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(key), std::string::npos) << "stderr should name '" << key << "': " << r.err;
  }
  TempDir dir_;
};

TEST_F(CheckConfigTest, GoodConfigPasses) {
  CommandResult r = check(
      "server:\n  listen: 127.0.0.1:0\n  limits: {header_bytes: 4096}\n"
      "adapters:\n"
      "  - {name: inv, category: ims, type: file, config: {path: deploy/inventory/example-inventory.yaml}}\n"
      "  - {name: sim, type: simulator, config: {pools: 2, resources_per_pool: 3}}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 adapter"), std::string::npos) << r.out;
}

TEST_F(CheckConfigTest, BuiltInDefaultsPass) {
  CommandResult r = run_gateway_command({"check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CheckConfigTest, UnknownKeyIsNamed) {
  expect_rejected("server:\n  limits:\n    header_byts: 4096\n", "server.limits.header_byts");
  expect_rejected("servr:\n  listen: 127.0.0.1:0\n", "servr");
}

TEST_F(CheckConfigTest, OutOfRangeOrMistypedValueIsNamed) {
  expect_rejected("server:\n  limits:\n    header_bytes: 10\n", "server.limits.header_bytes");
  expect_rejected("server:\n  timeouts:\n    idle_ms: soon\n", "server.timeouts.idle_ms");
  expect_rejected("server:\n  listen: 127.0.0.1:99999\n", "server.listen");
}

TEST_F(CheckConfigTest, UnknownAdapterTypeIsNamed) {
  expect_rejected("adapters:\n  - name: x\n    category: ims\n    type: no-such-adapter\n", "adapters[0].type");
  CommandResult r = check("adapters:\n  - name: x\n    type: no-such-adapter\n");
  EXPECT_NE(r.err.find("no-such-adapter"), std::string::npos) << r.err;
}

TEST_F(CheckConfigTest, AdapterSectionIsValidatedByItsFactory) {
  expect_rejected("adapters:\n  - name: inv\n    type: file\n    config: {poll_interval_ms: 100}\n",
                  "adapters[0].config.path");
  expect_rejected(
      "adapters:\n  - {name: a, type: file, config: {path: a.yaml}}\n"
      "  - {name: b, type: file, config: {path: b.yaml, poll_interval_msec: 5}}\n",
      "adapters[1].config.poll_interval_msec");
  expect_rejected("adapters:\n  - {name: s, type: simulator, config: {pools: -1}}\n", "adapters[0].config.pools");
  expect_rejected(
      "adapters:\n  - {name: same, type: file, config: {path: a.yaml}}\n"
      "  - {name: same, type: file, config: {path: b.yaml}}\n",
      "adapters[1].name");
}

TEST_F(CheckConfigTest, YamlSyntaxErrorNamesTheFileAndLine) {
  auto path = dir_.write("broken.yaml", "server:\n  limits:\n    header_bytes: [1, 2\n");
  CommandResult r = run_gateway_command({"check-config", "--config", path.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path.string() + ":"), std::string::npos) << r.err;
}

TEST_F(CheckConfigTest, EnvironmentOverridesAreValidatedToo) {
  expect_rejected("server: {}\n", "server.limits.header_bytes", {{"O2GW_SERVER__LIMITS__HEADER_BYTES", "lots"}});
  CommandResult ok = check("server: {}\n", {{"O2GW_SERVER__LIMITS__HEADER_BYTES", "2048"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(CheckConfigTest, MissingConfigFileIsAnError) {
  CommandResult r = run_gateway_command({"check-config", "--config", (dir_.path() / "absent.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("absent.yaml"), std::string::npos) << r.err;
}

TEST(StartupTest, BadConfigStopsStartupWithExitCode2) {
  TempDir dir;
  auto path = dir.write("config.yaml", "server:\n  limits:\n    header_byts: 4096\n");
  CommandResult r = run_gateway_command({"--config", path.string(), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("server.limits.header_byts"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("listening on"), std::string::npos);
}

}  // namespace
}  // namespace o2gw::test
