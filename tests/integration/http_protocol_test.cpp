// HTTP behaviour of the real binary: routing (404, 405 + Allow, trailing
// slash, HEAD), request ids, keep-alive and pipelining, and the protective
// limits and timeouts (431, 413, 400, slowloris, idle keep-alive).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"

namespace o2gw::test {
namespace {

using Clock = std::chrono::steady_clock;

const std::string kV2 = "/o2ims-infrastructureInventory/v2";

constexpr std::size_t kHeaderLimit = 8192;
constexpr std::size_t kBodyLimit = 4096;
constexpr auto kHeaderTimeout = 300ms;
constexpr auto kBodyTimeout = 1000ms;
constexpr auto kIdleTimeout = 800ms;

// Small limits and timeouts so the protective paths are quick to reach.
std::string protocol_config() {
  return "server:\n"
         "  limits:\n"
         "    header_bytes: " +
         std::to_string(kHeaderLimit) +
         "\n"
         "    body_bytes: " +
         std::to_string(kBodyLimit) +
         "\n"
         "  timeouts:\n"
         "    header_ms: " +
         std::to_string(kHeaderTimeout.count()) +
         "\n"
         "    body_ms: " +
         std::to_string(kBodyTimeout.count()) +
         "\n"
         "    idle_ms: " +
         std::to_string(kIdleTimeout.count()) + "\n";
}

std::filesystem::path example_inventory() {
  return source_dir() / "deploy" / "inventory" / "example-inventory.yaml";
}

std::set<std::string> split_allow(const std::string& allow) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos <= allow.size()) {
    auto comma = allow.find(',', pos);
    std::string item = allow.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.insert(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

class HttpProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = std::make_unique<GatewayProcess>(
        GatewayOptions{.config_yaml = protocol_config(), .inventory = example_inventory()});
  }
  static void TearDownTestSuite() { gateway_.reset(); }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }

  static std::uint16_t port() { return gateway_->port(); }
  static std::string first_pool_id() {
    auto pools = http_get(port(), kV2 + "/resourcePools").json();
    if (pools.empty()) throw std::runtime_error("no resource pools");
    return pools[0]["resourcePoolId"].get<std::string>();
  }

  static inline std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(HttpProtocolTest, UnknownPathsAre404Problems) {
  const std::vector<std::string> paths = {"/nope", "/o2ims-infrastructureInventory/v3/resourcePools",
                                          "/o2ims-infrastructureInventory", kV2 + "/resourcePools/extra/segments/here",
                                          "/healthz/more"};
  for (const auto& path : paths) {
    EXPECT_TRUE(IsProblem(http_get(port(), path), 404, path)) << path;
  }
}

TEST_F(HttpProtocolTest, KnownPathWithWrongMethodIs405WithAllow) {
  const std::string sub = kV2 + "/subscriptions";
  const std::string one_sub = sub + "/3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  struct Case {
    std::string method;
    std::string path;
    std::set<std::string> allow;
  };
  const std::vector<Case> cases = {
      {"DELETE", kV2 + "/resourcePools", {"GET", "HEAD"}},
      {"POST", "/healthz", {"GET", "HEAD"}},
      {"PUT", kV2 + "/resourcePools/" + first_pool_id(), {"GET", "HEAD"}},
      {"PUT", sub, {"GET", "HEAD", "POST"}},
      {"PATCH", one_sub, {"GET", "HEAD", "DELETE"}},
  };
  for (const auto& c : cases) {
    HttpResponse res = http_request(port(), c.method, c.path);
    EXPECT_TRUE(IsProblem(res, 405, c.path)) << c.method << " " << c.path;
    EXPECT_EQ(split_allow(res.header("Allow")), c.allow)
        << c.method << " " << c.path << ": Allow: " << res.header("Allow");
  }
}

TEST_F(HttpProtocolTest, TrailingSlashIsTolerated) {
  for (const std::string& path : {kV2 + "/resourcePools", kV2 + "/api_versions", kV2, std::string("/healthz"),
                                  kV2 + "/resourcePools/" + first_pool_id()}) {
    HttpResponse plain = http_get(port(), path);
    HttpResponse slash = http_get(port(), path + "/");
    ASSERT_EQ(plain.status, 200) << path;
    EXPECT_EQ(slash.status, 200) << path << "/";
    EXPECT_EQ(slash.body, plain.body) << path << "/";
  }
}

TEST_F(HttpProtocolTest, HeadAnswersLikeGetWithoutABody) {
  const std::vector<std::string> paths = {kV2 + "/resourcePools",
                                          kV2 + "/resourcePools/" + first_pool_id(),
                                          kV2 + "/api_versions",
                                          "/healthz",
                                          "/openapi.yaml",
                                          "/no/such/path",
                                          kV2 + "/resourcePools/not-a-uuid"};
  for (const auto& path : paths) {
    SCOPED_TRACE(path);
    // Same request id, so even problem bodies are byte for byte the same.
    HeaderList h = {{"X-Request-Id", "head-vs-get-0001"}};
    HttpConnection conn(port());
    HttpResponse head = conn.request("HEAD", path, h);
    // A body after the HEAD headers would corrupt the next response on this connection.
    EXPECT_FALSE(conn.wait_closed(100ms)) << "server closed after HEAD";
    EXPECT_TRUE(conn.pending().empty()) << "bytes after a HEAD response: " << conn.pending().substr(0, 200);
    HttpResponse get = conn.request("GET", path, h);
    EXPECT_EQ(head.status, get.status);
    EXPECT_EQ(head.header("Content-Type"), get.header("Content-Type"));
    ASSERT_TRUE(head.has_header("Content-Length"));
    EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.header("Content-Length"), get.header("Content-Length"));
    EXPECT_TRUE(head.body.empty());
  }
}

TEST_F(HttpProtocolTest, GivenRequestIdIsEchoedAndCarriedInProblems) {
  HttpResponse ok = http_get(port(), "/healthz", {{"X-Request-Id", "smo-req-42.a_b:c"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("X-Request-Id"), "smo-req-42.a_b:c");

  HttpResponse missing = http_get(port(), "/missing", {{"X-Request-Id", "smo-req-43"}});
  EXPECT_TRUE(IsProblem(missing, 404, "/missing"));
  EXPECT_EQ(missing.header("X-Request-Id"), "smo-req-43");
  EXPECT_EQ(missing.json()["additionalAttributes"]["requestId"], "smo-req-43");
}

TEST_F(HttpProtocolTest, MissingOrInvalidRequestIdIsReplacedByAGeneratedUuid) {
  HttpResponse a = http_get(port(), "/healthz");
  HttpResponse b = http_get(port(), "/healthz");
  EXPECT_TRUE(is_lower_uuid(a.header("X-Request-Id"))) << a.header("X-Request-Id");
  EXPECT_TRUE(is_lower_uuid(b.header("X-Request-Id"))) << b.header("X-Request-Id");
  EXPECT_NE(a.header("X-Request-Id"), b.header("X-Request-Id"));

  // Not echoed: it could inject into logs and headers.
  HttpResponse bad = http_get(port(), "/missing", {{"X-Request-Id", "bad id <script>"}});
  EXPECT_TRUE(IsProblem(bad, 404, "/missing"));
  EXPECT_TRUE(is_lower_uuid(bad.header("X-Request-Id"))) << bad.header("X-Request-Id");
  // 1 to 200 characters are taken (documented in /openapi.yaml), 201 are not.
  const std::string longest(200, 'a');
  EXPECT_EQ(http_get(port(), "/healthz", {{"X-Request-Id", longest}}).header("X-Request-Id"), longest);
  HttpResponse too_long = http_get(port(), "/healthz", {{"X-Request-Id", std::string(201, 'a')}});
  EXPECT_TRUE(is_lower_uuid(too_long.header("X-Request-Id"))) << too_long.header("X-Request-Id");
}

TEST_F(HttpProtocolTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpConnection conn(port());
  const std::vector<std::string> paths = {"/healthz", kV2 + "/api_versions", "/nope", kV2 + "/resourcePools",
                                          "/healthz"};
  const std::vector<int> statuses = {200, 200, 404, 200, 200};
  for (std::size_t i = 0; i < paths.size(); ++i) {
    HttpResponse res = conn.get(paths[i]);
    EXPECT_EQ(res.status, statuses[i]) << paths[i];
    EXPECT_FALSE(res.connection_close()) << paths[i];
  }
  // The last one asks to close: the server answers and closes.
  HttpResponse last = conn.get("/healthz", {{"Connection", "close"}});
  EXPECT_EQ(last.status, 200);
  EXPECT_TRUE(last.connection_close());
  EXPECT_TRUE(conn.wait_closed(2s));
}

TEST_F(HttpProtocolTest, Http10WithoutKeepAliveIsAnsweredThenClosed) {
  HttpConnection conn(port());
  conn.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
  HttpResponse res = conn.read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"status":"ok"})");
  EXPECT_TRUE(conn.wait_closed(2s));
}

TEST_F(HttpProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  std::vector<PipelinedRequest> reqs = {
      {"GET", "/healthz", {{"X-Request-Id", "pipe-1"}}},
      {"GET", kV2 + "/api_versions", {{"X-Request-Id", "pipe-2"}}},
      {"GET", "/not-here", {{"X-Request-Id", "pipe-3"}}},
  };
  auto res = http_pipeline(port(), reqs);
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].status, 200);
  EXPECT_EQ(res[0].header("X-Request-Id"), "pipe-1");
  EXPECT_EQ(res[0].body, R"({"status":"ok"})");
  EXPECT_EQ(res[1].status, 200);
  EXPECT_EQ(res[1].header("X-Request-Id"), "pipe-2");
  EXPECT_EQ(res[1].json().value("uriPrefix", ""), kV2);
  EXPECT_TRUE(IsProblem(res[2], 404, "/not-here"));
  EXPECT_EQ(res[2].header("X-Request-Id"), "pipe-3");

  // Pipelined with a HEAD in the middle and a close at the end.
  HttpConnection conn(port());
  conn.send_raw(build_request("GET", "/healthz") + build_request("HEAD", kV2 + "/resourcePools") +
                build_request("GET", kV2 + "/api_versions", {{"Connection", "close"}}));
  EXPECT_EQ(conn.read_response().status, 200);
  HttpResponse head = conn.read_response(/*head=*/true);
  EXPECT_EQ(head.status, 200);
  HttpResponse last = conn.read_response();
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.json().value("uriPrefix", ""), kV2);
  EXPECT_TRUE(conn.wait_closed(2s));
}

TEST_F(HttpProtocolTest, HeaderLargerThanTheLimitIs431) {
  // Below the limit: served.
  HttpResponse fine = http_get(port(), "/healthz", {{"X-Padding", std::string(kHeaderLimit / 2, 'a')}});
  EXPECT_EQ(fine.status, 200);

  double before = metric_sum(scrape_metrics(port()), "o2gw_http_rejected_requests_total", {{"reason", "header_limit"}});
  HttpConnection conn(port());
  conn.try_send_raw(build_request("GET", "/healthz", {{"X-Padding", std::string(kHeaderLimit + 2000, 'a')}}));
  HttpResponse res = conn.read_response();
  EXPECT_TRUE(IsProblem(res, 431, "/healthz"));
  EXPECT_TRUE(res.connection_close());
  EXPECT_TRUE(conn.wait_closed(2s)) << "the connection must be closed after a 431";
  EXPECT_TRUE(eventually(
      [&] {
        return metric_sum(scrape_metrics(port()), "o2gw_http_rejected_requests_total", {{"reason", "header_limit"}}) ==
               before + 1;
      },
      2s));
}

TEST_F(HttpProtocolTest, ManySmallHeadersAddingUpOverTheLimitAre431) {
  HeaderList many;
  for (int i = 0; i < 200; ++i) many.emplace_back("X-Field-" + std::to_string(i), std::string(60, 'v'));
  HttpConnection conn(port());
  conn.try_send_raw(build_request("GET", "/healthz", many));
  EXPECT_TRUE(IsProblem(conn.read_response(), 431, "/healthz"));
}

TEST_F(HttpProtocolTest, BodyLargerThanTheLimitIs413) {
  const std::string path = kV2 + "/subscriptions";
  // At the limit: accepted and routed (then refused as a body that is not JSON).
  EXPECT_TRUE(IsProblem(
      http_request(port(), "POST", path, {{"Content-Type", "application/json"}}, std::string(kBodyLimit, ' ')), 400,
      path));

  // Announced over the limit: refused before the body is read.
  HttpConnection conn(port());
  conn.send_raw("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(kBodyLimit * 25) + "\r\n\r\n{\"callback\":");
  HttpResponse res = conn.read_response();
  EXPECT_TRUE(IsProblem(res, 413, path));
  EXPECT_TRUE(res.connection_close());
  EXPECT_TRUE(conn.wait_closed(2s));

  // Chunked over the limit: refused once the limit is crossed.
  HttpConnection chunked(port());
  std::string chunk(kBodyLimit, 'x');
  char size_hex[16];
  std::snprintf(size_hex, sizeof size_hex, "%zx", chunk.size());
  chunked.try_send_raw("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       size_hex + "\r\n" + chunk + "\r\n" + size_hex + "\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.read_response().status, 413);
}

TEST_F(HttpProtocolTest, MalformedRequestsAre400Problems) {
  for (const std::string raw : {"GARBAGE\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n",
                                "GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n"}) {
    HttpConnection conn(port());
    conn.send_raw(raw);
    HttpResponse res = conn.read_response();
    EXPECT_TRUE(IsProblem(res, 400)) << raw;
    EXPECT_TRUE(res.connection_close()) << raw;
    EXPECT_TRUE(conn.wait_closed(2s)) << raw;
  }
  // Broken percent-encoding in the path.
  HttpResponse pct = http_get(port(), "/o2ims-infrastructureInventory/v2/resource%zzPools");
  EXPECT_TRUE(IsProblem(pct, 400));
  // An encoded NUL byte.
  EXPECT_TRUE(IsProblem(http_get(port(), "/healthz%00"), 400));
}

// Ambiguous framing (the request-smuggling shapes) is refused, not guessed at.
TEST_F(HttpProtocolTest, AmbiguousMessageFramingIs400) {
  const std::string path = kV2 + "/subscriptions";
  for (const std::string framing : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                                    "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"}) {
    HttpConnection conn(port());
    conn.send_raw("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing);
    HttpResponse res = conn.read_response();
    EXPECT_TRUE(IsProblem(res, 400)) << framing;
    EXPECT_TRUE(res.connection_close()) << framing;
    EXPECT_TRUE(conn.wait_closed(2s)) << framing;
  }
}

// A percent-encoded slash is data inside a segment (RFC 3986 section 2.2), not a
// separator: "/v2%2FresourcePools" is not "/v2/resourcePools". Decoding before
// routing would let an encoded path reach a route that a prefix rule (authz,
// rate limits) keyed on the raw path never saw.
TEST_F(HttpProtocolTest, EncodedSlashIsNotAPathSeparator) {
  const std::string path = kV2 + "%2FresourcePools";
  HttpResponse res = http_get(port(), path);
  EXPECT_NE(res.status, 200) << "GET " << path << " was routed as " << kV2 << "/resourcePools";
  EXPECT_TRUE(res.status == 404 || res.status == 400) << res.status << " " << res.body;
}

TEST_F(HttpProtocolTest, SlowHeaderIsCutOffWhileOtherClientsAreServed) {
  HttpConnection slow(port());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris-test-client\r\n";
  auto start = Clock::now();
  std::optional<Clock::duration> closed_after;
  std::string received;
  int others_served = 0;
  for (std::size_t i = 0; i < request.size() && !closed_after; ++i) {
    if (!slow.try_send_raw(request.substr(i, 1))) {
      closed_after = Clock::now() - start;
      break;
    }
    // Meanwhile a normal client is served promptly.
    auto t0 = Clock::now();
    HttpResponse other = http_get(port(), "/healthz");
    EXPECT_EQ(other.status, 200);
    EXPECT_LT(Clock::now() - t0, 250ms) << "a normal request waited on the slow client";
    ++others_served;
    if (slow.wait_closed(40ms, &received)) closed_after = Clock::now() - start;
  }
  if (!closed_after && slow.wait_closed(2s, &received)) closed_after = Clock::now() - start;
  ASSERT_TRUE(closed_after.has_value()) << "the slow client was never cut off";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*closed_after).count();
  EXPECT_GE(ms, kHeaderTimeout.count() - 50) << "cut off before the header timeout";
  EXPECT_LE(ms, kHeaderTimeout.count() + 1000) << "cut off too late";
  EXPECT_GT(others_served, 2);
  // Whatever was sent before the close can only be the 408 problem.
  if (!received.empty()) {
    EXPECT_TRUE(IsProblem(HttpConnection::parse(received), 408));
  }
}

TEST_F(HttpProtocolTest, StalledBodyIsCutOffAfterTheBodyTimeout) {
  HttpConnection conn(port());
  conn.send_raw("POST " + kV2 +
                "/subscriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: 50\r\n\r\n{\"callback\":");
  auto start = Clock::now();
  ASSERT_TRUE(conn.wait_closed(kBodyTimeout + 1500ms)) << "stalled body never cut off";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_GE(ms, kBodyTimeout.count() - 100);
  EXPECT_LE(ms, kBodyTimeout.count() + 1000);
}

// api/o2gw.openapi.yaml (RequestTimeout, info), docs/architecture.md step 3 and
// docs/configuration.md promise a 408 problem with Connection: close when the
// header or body deadline passes.
TEST_F(HttpProtocolTest, DeadlinesAreAnsweredWithTheDocumented408Problem) {
  const std::string path = kV2 + "/subscriptions";
  struct Case {
    std::string name;
    std::string bytes;
    std::chrono::milliseconds deadline;
  };
  const std::vector<Case> cases = {
      {"header", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", kHeaderTimeout},
      {"body", "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{", kBodyTimeout},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " deadline");
    HttpConnection conn(port());
    conn.send_raw(c.bytes);
    std::string received;
    EXPECT_TRUE(conn.wait_closed(c.deadline + 1500ms, &received)) << "not cut off";
    if (received.empty()) {
      ADD_FAILURE() << "closed without the documented 408 problem";
      continue;
    }
    HttpResponse res = HttpConnection::parse(received);
    EXPECT_TRUE(IsProblem(res, 408));
    EXPECT_TRUE(res.connection_close());
  }
}

TEST_F(HttpProtocolTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpConnection conn(port());
  EXPECT_EQ(conn.get("/healthz").status, 200);
  auto start = Clock::now();
  ASSERT_TRUE(conn.wait_closed(kIdleTimeout + 1500ms)) << "idle connection still open";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_GE(ms, kIdleTimeout.count() - 100);
  EXPECT_LE(ms, kIdleTimeout.count() + 1000);
}

TEST_F(HttpProtocolTest, ActivityKeepsAConnectionOpenPastTheIdleTimeout) {
  HttpConnection conn(port());
  auto start = Clock::now();
  while (Clock::now() - start < kIdleTimeout * 2) {
    ASSERT_EQ(conn.get("/healthz").status, 200);
    std::this_thread::sleep_for(kIdleTimeout / 4);
  }
}

// O2GW_* environment variables override the config file.
TEST(EnvironmentOverrideTest, HeaderLimitFromTheEnvironmentWinsOverTheFile) {
  GatewayProcess gw({.config_yaml = protocol_config(),  // header_bytes 8192 in the file
                     .env = {{"O2GW_SERVER__LIMITS__HEADER_BYTES", "2048"}}});
  HeaderList medium = {{"X-Padding", std::string(3000, 'a')}};
  HttpConnection conn(gw.port());
  conn.try_send_raw(build_request("GET", "/healthz", medium));
  HttpResponse res = conn.read_response();
  EXPECT_TRUE(IsProblem(res, 431, "/healthz"));
  if (res.status == 431) {
    EXPECT_NE(res.json().value("detail", "").find("2048"), std::string::npos) << res.body;
  }
  EXPECT_EQ(http_get(gw.port(), "/healthz", {{"X-Padding", std::string(1000, 'a')}}).status, 200);

  // Without the variable the file's 8192 applies to the same request.
  GatewayProcess plain({.config_yaml = protocol_config()});
  EXPECT_EQ(http_get(plain.port(), "/healthz", medium).status, 200);
}

}  // namespace
}  // namespace o2gw::test
