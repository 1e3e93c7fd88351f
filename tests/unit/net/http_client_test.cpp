#include "o2gw/http_client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>

#include "unit/net/loopback_server.hpp"

namespace o2gw::net {
namespace {

using namespace std::chrono_literals;
using test::LoopbackServer;
using test::SeenRequest;
using test::ServerReply;
using test::ServerTls;
using Kind = ClientError::Kind;

// ---------------------------------------------------------------------------
// Test PKI, generated once per run with the OpenSSL API into a temporary directory.

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

struct Issued {
  Key key;
  Cert cert;
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A CA when issuer is null (self-signed), else a leaf signed by it.
Issued issue(const char* common_name, const Issued* issuer, const char* san, const char* usage) {
  static long serial = 1;
  Issued out;
  out.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  out.cert.reset(X509_new());
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 24 * 3600);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  if (!issuer) {
    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c, c, NID_subject_key_identifier, "hash");
  } else {
    add_ext(c, issuer_cert, NID_basic_constraints, "CA:FALSE");
    add_ext(c, issuer_cert, NID_ext_key_usage, usage);
    add_ext(c, issuer_cert, NID_authority_key_identifier, "keyid:always");
    if (san) add_ext(c, issuer_cert, NID_subject_alt_name, san);
  }
  X509_sign(c, issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

void write_pem(const std::filesystem::path& dir, const std::string& stem, const Issued& id) {
  FILE* f = std::fopen((dir / (stem + ".pem")).c_str(), "w");
  PEM_write_X509(f, id.cert.get());
  std::fclose(f);
  f = std::fopen((dir / (stem + ".key")).c_str(), "w");
  PEM_write_PrivateKey(f, id.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

struct TestPki {
  std::filesystem::path dir;
  TestPki() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("o2gw-net-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    Issued ca = issue("o2gw test CA", nullptr, nullptr, nullptr);
    Issued other_ca = issue("unrelated CA", nullptr, nullptr, nullptr);
    write_pem(dir, "ca", ca);
    write_pem(dir, "other_ca", other_ca);
    write_pem(dir, "server", issue("localhost", &ca, "IP:127.0.0.1,DNS:localhost", "serverAuth"));
    write_pem(dir, "wrong_host", issue("wrong.example", &ca, "DNS:wrong.example", "serverAuth"));
    write_pem(dir, "client", issue("o2gw client", &ca, nullptr, "clientAuth"));
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (dir / name).string(); }
  [[nodiscard]] ServerTls server(const std::string& stem = "server", bool require_client_cert = false) const {
    return {file(stem + ".pem"), file(stem + ".key"), require_client_cert ? file("ca.pem") : std::string()};
  }
};

const TestPki& pki() {
  static TestPki instance;
  return instance;
}

// ---------------------------------------------------------------------------

ClientResult run(HttpClient& client, ClientRequest req, const TlsOptions& tls = {}) {
  auto promise = std::make_shared<std::promise<ClientResult>>();
  auto future = promise->get_future();
  client.request(std::move(req), tls, [promise](ClientResult r) { promise->set_value(std::move(r)); });
  if (future.wait_for(5s) != std::future_status::ready) {
    ADD_FAILURE() << "request did not complete";
    return {};
  }
  return future.get();
}

ClientRequest get(std::string url) {
  ClientRequest req;
  req.url = std::move(url);
  req.timeout = 2s;
  return req;
}

std::string describe(const ClientResult& r) {
  if (r.ok()) return "HTTP " + std::to_string(r.response->status);
  if (r.error) return std::string(client_error_kind_name(r.error->kind)) + ": " + r.error->message;
  return "no result";
}

ServerReply ok_reply(std::string body = "hello") {
  ServerReply r;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", "text/plain"});
  return r;
}

// ---------------------------------------------------------------------------

TEST(ParseUrl, AcceptsAbsoluteHttpUrls) {
  auto u = parse_url("HTTP://Example.COM");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");

  u = parse_url("https://hooks.example:8443/a/b?x=1&y=%20#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?x=1&y=%20");

  u = parse_url("https://h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);

  u = parse_url("http://h?q=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?q=1");

  u = parse_url("http://[::1]:8080/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);

  u = parse_url("https://[2001:DB8::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 443);

  u = parse_url("http://h:65535/p@q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 65535);
  EXPECT_EQ(u->target, "/p@q");
}

TEST(ParseUrl, RejectsEverythingElse) {
  for (const char* bad : {"",
                          "h/path",
                          "//h/",
                          "ftp://h/",
                          "file:///etc/passwd",
                          "http://",
                          "http:///x",
                          "http://user@h/",
                          "http://user:pw@h/",
                          "http://h\\@evil/",
                          "http://h:0/",
                          "http://h:65536/",
                          "http://h:12a/",
                          "http://h:/",
                          "http://h:123456/",
                          "http://[::1/",
                          "http://::1/",
                          "http://[not-ip]/",
                          "http://[fe80::1%25eth0]/",
                          "http://h/a b",
                          "http://h/\x01",
                          "http://h/\xc3\xa9",
                          "http://h o/",
                          " http://h/"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST(EventLoop, PostRunsOnALoopThread) {
  EventLoop loop(2, "test");
  std::promise<std::thread::id> ran;
  loop.post([&] { ran.set_value(std::this_thread::get_id()); });
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
  EXPECT_NE(loop.native(), nullptr);
}

TEST(EventLoop, PostAfterFiresUnlessCancelledOrDropped) {
  EventLoop loop(1);
  std::atomic<int> fired{0};
  std::atomic<int> cancelled_fired{0};
  std::atomic<int> dropped_fired{0};
  auto start = std::chrono::steady_clock::now();
  std::promise<std::chrono::steady_clock::time_point> when;
  auto timer = loop.post_after(30ms, [&] {
    ++fired;
    when.set_value(std::chrono::steady_clock::now());
  });
  EXPECT_TRUE(timer.active());
  auto cancelled = loop.post_after(10ms, [&] { ++cancelled_fired; });
  cancelled.cancel();
  EXPECT_FALSE(cancelled.active());
  {
    auto dropped = loop.post_after(10ms, [&] { ++dropped_fired; });
  }

  auto f = when.get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  EXPECT_GE(f.get() - start, 30ms);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(timer.active());
  timer.cancel();  // after firing: no effect
  EXPECT_EQ(cancelled_fired, 0);
  EXPECT_EQ(dropped_fired, 0);
  EXPECT_FALSE(EventLoop::Timer().active());
}

TEST(EventLoop, DestroyedWithPendingTimersAndWork) {
  EventLoop::Timer outliving;
  auto payload = std::make_shared<int>(7);
  {
    EventLoop loop(2);
    outliving = loop.post_after(10s, [payload] {});
    for (int i = 0; i < 100; ++i) loop.post([payload] { std::this_thread::sleep_for(10us); });
  }
  // The loop freed its pending callbacks (and what they captured).
  EXPECT_EQ(payload.use_count(), 1);
  EXPECT_TRUE(outliving.active());
  outliving.cancel();  // the loop is gone; must be harmless
  EXPECT_FALSE(outliving.active());
}

TEST(HttpClient, ErrorKindNames) {
  EXPECT_EQ(client_error_kind_name(Kind::bad_url), "bad_url");
  EXPECT_EQ(client_error_kind_name(Kind::refused_address), "refused_address");
  EXPECT_EQ(client_error_kind_name(Kind::resolve), "resolve");
  EXPECT_EQ(client_error_kind_name(Kind::connect), "connect");
  EXPECT_EQ(client_error_kind_name(Kind::tls), "tls");
  EXPECT_EQ(client_error_kind_name(Kind::timeout), "timeout");
  EXPECT_EQ(client_error_kind_name(Kind::protocol), "protocol");
}

TEST(HttpClient, TlsProfileKeyDistinguishesOptions) {
  TlsOptions a;
  TlsOptions b;
  EXPECT_EQ(a.profile_key(), b.profile_key());
  b.verify = false;
  EXPECT_NE(a.profile_key(), b.profile_key());
  TlsOptions c;
  c.ca_file = "x";
  c.client_cert_file = "";
  TlsOptions d;
  d.ca_file = "";
  d.client_cert_file = "x";
  EXPECT_NE(c.profile_key(), d.profile_key());
}

TEST(HttpClient, GetAndPostRoundTrip) {
  LoopbackServer server([](const SeenRequest& req) {
    ServerReply r = ok_reply(req.method == "POST" ? "got " + req.body : "plain");
    r.status = req.method == "POST" ? 201 : 200;
    r.headers.push_back({"X-Reply", "yes"});
    return r;
  });
  EventLoop loop(2);
  ClientOptions opts;
  opts.user_agent = "o2gw-test";
  HttpClient client(loop, opts);

  ClientRequest g = get(server.url("/items?x=1"));
  g.headers.push_back({"X-Trace", "abc"});
  auto r = run(client, g);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->status, 200);
  EXPECT_EQ(r.response->body, "plain");
  EXPECT_EQ(r.response->header("x-reply"), "yes");
  EXPECT_EQ(r.response->header("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(r.response->header("absent"), "");

  ClientRequest p = get(server.url("/hooks"));
  p.method = http::Method::post;
  p.body = R"({"a":1})";
  p.headers.push_back({"Content-Type", "application/json"});
  p.headers.push_back({"User-Agent", "custom-agent"});
  p.headers.push_back({"Content-Length", "999"});  // the client owns framing
  r = run(client, p);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->status, 201);
  EXPECT_EQ(r.response->body, R"(got {"a":1})");

  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/items?x=1");
  EXPECT_EQ(seen[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0].header("User-Agent"), "o2gw-test");
  EXPECT_EQ(seen[0].header("X-Trace"), "abc");
  EXPECT_EQ(seen[0].header("Content-Length"), "");
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].target, "/hooks");
  EXPECT_EQ(seen[1].body, R"({"a":1})");
  EXPECT_EQ(seen[1].header("Content-Length"), "7");
  EXPECT_EQ(seen[1].header("Content-Type"), "application/json");
  EXPECT_EQ(seen[1].header("User-Agent"), "custom-agent");
}

TEST(HttpClient, RejectsBadUrlAndHeaderInjection) {
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get("ftp://127.0.0.1/"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::bad_url);
  r = run(client, get("http://user@127.0.0.1/"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::bad_url);

  ClientRequest req = get("http://127.0.0.1:1/");
  req.headers.push_back({"X-Evil", "a\r\nInjected: yes"});
  r = run(client, req);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::protocol);
  EXPECT_EQ(r.error->message.find("Injected"), std::string::npos);
}

TEST(HttpClient, ReusesKeepAliveConnection) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); });
  EventLoop loop(2);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/one")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(client.idle_connections(), 1u);
  r = run(client, get(server.url("/two")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(client.idle_connections(), 1u);
  EXPECT_EQ(server.accepts(), 1);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HttpClient, ConcurrentRequestsUseSeparateConnectionsAndPoolThem) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r = ok_reply();
    r.delay = 50ms;
    return r;
  });
  EventLoop loop(2);
  ClientOptions opts;
  opts.max_idle_per_endpoint = 2;
  HttpClient client(loop, opts);
  std::vector<std::future<ClientResult>> results;
  for (int i = 0; i < 3; ++i) {
    results.push_back(std::async(std::launch::async, [&] { return run(client, get(server.url())); }));
  }
  for (auto& f : results) {
    auto r = f.get();
    EXPECT_TRUE(r.ok()) << describe(r);
  }
  EXPECT_EQ(server.accepts(), 3);
  EXPECT_EQ(client.idle_connections(), 2u);  // capped per endpoint
}

TEST(HttpClient, ConnectionCloseAndHttp10AreNotPooled) {
  LoopbackServer server([](const SeenRequest& req) {
    ServerReply r = ok_reply();
    if (req.target == "/close") r.keep_alive = false;
    if (req.target == "/http10") {
      r.version = 10;
      r.keep_alive = false;
    }
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/close")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->header("Connection"), "close");
  EXPECT_EQ(client.idle_connections(), 0u);
  r = run(client, get(server.url("/http10")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(client.idle_connections(), 0u);
  EXPECT_EQ(server.accepts(), 2);
}

TEST(HttpClient, RetriesOnceWhenPooledConnectionWasClosedByServer) {
  LoopbackServer server([](const SeenRequest& req) {
    ServerReply r = ok_reply(req.target);
    r.close_after = req.target == "/first";  // says keep-alive, then hangs up
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/first")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(client.idle_connections(), 1u);
  ASSERT_TRUE(server.wait_closed(1));

  ClientRequest post = get(server.url("/second"));
  post.method = http::Method::post;
  post.body = "payload";
  r = run(client, post);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body, "/second");
  EXPECT_EQ(server.accepts(), 2);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].body, "payload");
}

TEST(HttpClient, IdleConnectionsExpire) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); });
  EventLoop loop(1);
  ClientOptions opts;
  opts.idle_timeout = 100ms;
  HttpClient client(loop, opts);
  ASSERT_TRUE(run(client, get(server.url())).ok());
  EXPECT_EQ(client.idle_connections(), 1u);
  EXPECT_TRUE(server.wait_closed(1, 2s));  // the client closed it
  EXPECT_EQ(client.idle_connections(), 0u);
  ASSERT_TRUE(run(client, get(server.url())).ok());
  EXPECT_EQ(server.accepts(), 2);
}

TEST(HttpClient, TimesOutOnASilentServer) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.never_reply = true;
    return r;
  });
  EventLoop loop(2);
  HttpClient client(loop);
  std::atomic<int> calls{0};
  std::promise<ClientResult> result;
  ClientRequest req = get(server.url());
  req.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  client.request(req, [&](ClientResult r) {
    if (++calls == 1) result.set_value(std::move(r));
  });
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto r = f.get();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::timeout) << r.error->message;
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 1000ms);
  EXPECT_TRUE(server.wait_closed(1));  // the client closed the socket
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpClient, ConnectionRefused) {
  std::uint16_t port = 0;
  {
    // A port that was just free: nothing listens there any more.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::connect) << r.error->message;
}

TEST(HttpClient, AddressCheckRefusesBeforeConnecting) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); });
  EventLoop loop(1);
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> checked;
  ClientOptions opts;
  opts.address_check = [&](const std::string& host, const std::string& ip) -> std::optional<std::string> {
    std::lock_guard lock(mu);
    checked.emplace_back(host, ip);
    return "loopback addresses are not allowed";
  };
  HttpClient client(loop, opts);
  auto r = run(client, get(server.url()));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::refused_address);
  EXPECT_NE(r.error->message.find("loopback addresses are not allowed"), std::string::npos) << r.error->message;

  // A host name: every address it resolves to is checked.
  r = run(client, get(server.url("/", "localhost")));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::refused_address) << r.error->message;
  EXPECT_EQ(server.accepts(), 0);
  std::lock_guard lock(mu);
  ASSERT_GE(checked.size(), 2u);
  EXPECT_EQ(checked[0], std::make_pair(std::string("127.0.0.1"), std::string("127.0.0.1")));
  EXPECT_EQ(checked[1].first, "localhost");
}

TEST(HttpClient, AddressCheckCanAllowSomeAddresses) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); });
  EventLoop loop(1);
  ClientOptions opts;
  opts.address_check = [](const std::string&, const std::string& ip) -> std::optional<std::string> {
    if (ip == "127.0.0.1") return std::nullopt;
    return "only 127.0.0.1";
  };
  HttpClient client(loop, opts);
  auto r = run(client, get(server.url("/", "localhost")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(server.accepts(), 1);
}

TEST(HttpClient, RedirectsAreNotFollowed) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.status = 302;
    r.headers.push_back({"Location", "/elsewhere"});
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/start")));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->status, 302);
  EXPECT_EQ(r.response->header("location"), "/elsewhere");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClient, ResponseOverTheLimitIsAProtocolError) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(std::string(4000, 'x')); });
  EventLoop loop(1);
  HttpClient client(loop);
  ClientRequest req = get(server.url());
  req.max_response_bytes = 1000;
  auto r = run(client, req);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::protocol);
  EXPECT_NE(r.error->message.find("1000"), std::string::npos) << r.error->message;
  EXPECT_EQ(client.idle_connections(), 0u);
  req.max_response_bytes = 4000;
  r = run(client, req);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body.size(), 4000u);
}

TEST(HttpClient, HeadResponseHasNoBody) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.headers.push_back({"Content-Length", "1234"});
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  ClientRequest req = get(server.url());
  req.method = http::Method::head;
  // The server's Content-Length is for GET; the client must not wait for a body.
  auto r = run(client, req);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body, "");
}

TEST(HttpClient, DestroyedWithRequestInFlight) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.never_reply = true;
    return r;
  });
  EventLoop loop(2);
  auto promise = std::make_shared<std::promise<ClientResult>>();
  {
    LoopbackServer ok_server([](const SeenRequest&) { return ok_reply(); });
    HttpClient client(loop);
    ASSERT_TRUE(run(client, get(ok_server.url())).ok());  // leaves an idle connection to close
    ClientRequest req = get(server.url());
    req.timeout = 150ms;
    client.request(req, [promise](ClientResult r) { promise->set_value(std::move(r)); });
  }
  auto f = promise->get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::timeout);
}

TEST(HttpClient, LoopDestroyedWithRequestInFlightDropsIt) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.never_reply = true;
    return r;
  });
  auto calls = std::make_shared<std::atomic<int>>(0);
  {
    EventLoop loop(2);
    HttpClient client(loop);
    ClientRequest req = get(server.url());
    req.timeout = 10s;
    client.request(req, [calls](ClientResult) { ++*calls; });
    // Let it connect and send, so the loop has I/O outstanding when it stops.
    for (int i = 0; i < 200 && server.requests().empty(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(server.requests().size(), 1u);
  }
  EXPECT_EQ(*calls, 0);
  EXPECT_EQ(calls.use_count(), 1);  // the dropped callback was freed
}

// --- TLS -------------------------------------------------------------------

TlsOptions trust(const std::string& ca = "ca.pem") {
  TlsOptions t;
  t.ca_file = pki().file(ca);
  return t;
}

TEST(HttpClientTls, SucceedsWithCaFileAndReusesConnection) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply("secure"); }, pki().server());
  EventLoop loop(2);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/a")), trust());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body, "secure");
  EXPECT_EQ(client.idle_connections(), 1u);
  r = run(client, get(server.url("/b")), trust());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(server.accepts(), 1);
  // Another TLS profile never shares that connection.
  TlsOptions insecure;
  insecure.verify = false;
  r = run(client, get(server.url("/c")), insecure);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(server.accepts(), 2);
}

TEST(HttpClientTls, RetriesWhenPooledConnectionWasClosedByServer) {
  LoopbackServer server(
      [](const SeenRequest& req) {
        ServerReply r = ok_reply(req.target);
        r.close_after = req.target == "/first";
        return r;
      },
      pki().server());
  EventLoop loop(1);
  HttpClient client(loop);
  ASSERT_TRUE(run(client, get(server.url("/first")), trust()).ok());
  ASSERT_TRUE(server.wait_closed(1));
  auto r = run(client, get(server.url("/second")), trust());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body, "/second");
  EXPECT_EQ(server.accepts(), 2);
}

TEST(HttpClientTls, VerifiesHostNameForDnsNames) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); }, pki().server());
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url("/", "localhost")), trust());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(server.requests().at(0).header("Host"), "localhost:" + std::to_string(server.port()));
}

TEST(HttpClientTls, WrongCaIsATlsError) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); }, pki().server());
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url()), trust("other_ca.pem"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::tls);
  EXPECT_NE(r.error->message.find("certificate verify failed"), std::string::npos) << r.error->message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpClientTls, HostNameMismatchIsATlsError) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply(); }, pki().server("wrong_host"));
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url()), trust());
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::tls);
  EXPECT_NE(r.error->message.find("mismatch"), std::string::npos) << r.error->message;

  r = run(client, get(server.url("/", "localhost")), trust());
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::tls);
  EXPECT_NE(r.error->message.find("mismatch"), std::string::npos) << r.error->message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpClientTls, MutualTls) {
  LoopbackServer server([](const SeenRequest&) { return ok_reply("hello client"); },
                        pki().server("server", /*require_client_cert=*/true));
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get(server.url()), trust());
  ASSERT_TRUE(r.error) << describe(r);
  EXPECT_EQ(r.error->kind, Kind::tls) << r.error->message;

  TlsOptions with_cert = trust();
  with_cert.client_cert_file = pki().file("client.pem");
  with_cert.client_key_file = pki().file("client.key");
  r = run(client, get(server.url()), with_cert);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response->body, "hello client");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClientTls, UnreadableFilesAreTlsErrors) {
  EventLoop loop(1);
  HttpClient client(loop);
  auto r = run(client, get("https://127.0.0.1:1/"), trust("missing.pem"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::tls);
  TlsOptions half = trust();
  half.client_cert_file = pki().file("client.pem");
  r = run(client, get("https://127.0.0.1:1/"), half);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Kind::tls);
}

// --- OAuth2 ----------------------------------------------------------------

ServerReply token_reply(const std::string& token, int expires_in = 3600) {
  ServerReply r;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body =
      R"({"access_token":")" + token + R"(","token_type":"bearer","expires_in":)" + std::to_string(expires_in) + "}";
  return r;
}

OAuth2ClientCredentials creds(const LoopbackServer& server) {
  OAuth2ClientCredentials c;
  c.token_url = server.url("/token");
  c.client_id = "client id";
  c.client_secret = "s3cr:t/+";
  c.scope = "o2ims read";
  return c;
}

struct TokenResult {
  std::string token;
  std::string error;
};

TokenResult get_token(OAuth2TokenSource& source) {
  auto promise = std::make_shared<std::promise<TokenResult>>();
  auto f = promise->get_future();
  source.get([promise](std::string token, std::string error) { promise->set_value({token, error}); });
  if (f.wait_for(5s) != std::future_status::ready) {
    ADD_FAILURE() << "token request did not complete";
    return {};
  }
  return f.get();
}

TEST(OAuth2, FetchesOnceForConcurrentCallersAndCaches) {
  std::atomic<int> issued{0};
  LoopbackServer server([&](const SeenRequest&) {
    ServerReply r = token_reply("tok-" + std::to_string(++issued));
    r.delay = 50ms;  // both callers arrive while the fetch is in flight
    return r;
  });
  EventLoop loop(2);
  HttpClient client(loop);
  OAuth2TokenSource source(client, creds(server));

  auto first = std::make_shared<std::promise<TokenResult>>();
  auto second = std::make_shared<std::promise<TokenResult>>();
  source.get([first](std::string t, std::string e) { first->set_value({t, e}); });
  source.get([second](std::string t, std::string e) { second->set_value({t, e}); });
  auto a = first->get_future();
  auto b = second->get_future();
  ASSERT_EQ(a.wait_for(3s), std::future_status::ready);
  ASSERT_EQ(b.wait_for(3s), std::future_status::ready);
  auto ra = a.get();
  auto rb = b.get();
  EXPECT_EQ(ra.token, "tok-1") << ra.error;
  EXPECT_EQ(rb.token, "tok-1") << rb.error;

  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/token");
  EXPECT_EQ(seen[0].header("Content-Type"), "application/x-www-form-urlencoded");
  // base64("client+id:s3cr%3At%2F%2B"): both parts form-encoded first (RFC 6749 2.3.1).
  EXPECT_EQ(seen[0].header("Authorization"), "Basic Y2xpZW50K2lkOnMzY3IlM0F0JTJGJTJC");
  EXPECT_EQ(seen[0].body, "grant_type=client_credentials&scope=o2ims+read");

  EXPECT_EQ(get_token(source).token, "tok-1");  // cached
  EXPECT_EQ(server.requests().size(), 1u);

  source.invalidate();
  EXPECT_EQ(get_token(source).token, "tok-2");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(OAuth2, RefetchesATokenAboutToExpire) {
  std::atomic<int> issued{0};
  LoopbackServer server([&](const SeenRequest&) { return token_reply("tok-" + std::to_string(++issued), 0); });
  EventLoop loop(1);
  HttpClient client(loop);
  auto c = creds(server);
  c.scope.clear();
  OAuth2TokenSource source(client, c);
  EXPECT_EQ(get_token(source).token, "tok-1");
  EXPECT_EQ(get_token(source).token, "tok-2");
  EXPECT_EQ(server.requests().at(0).body, "grant_type=client_credentials");
}

TEST(OAuth2, ErrorResponseReportsStatusAndCodeButNotTheSecret) {
  LoopbackServer server([](const SeenRequest&) {
    ServerReply r;
    r.status = 401;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = R"({"error":"invalid_client","error_description":"secret s3cr:t/+ is wrong"})";
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  OAuth2TokenSource source(client, creds(server));
  auto r = get_token(source);
  EXPECT_TRUE(r.token.empty());
  EXPECT_NE(r.error.find("401"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("invalid_client"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("s3cr"), std::string::npos) << r.error;
  // Failures are not cached.
  get_token(source);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(OAuth2, RejectsUnusableTokenResponses) {
  LoopbackServer server([](const SeenRequest& req) {
    ServerReply r;
    if (req.body.find("scope=mac") != std::string::npos) {
      r.body = R"({"access_token":"abc","token_type":"mac"})";
    } else if (req.body.find("scope=nojson") != std::string::npos) {
      r.body = "<html>not json</html>";
    } else if (req.body.find("scope=notoken") != std::string::npos) {
      r.body = R"({"token_type":"Bearer"})";
    } else {
      r.body = R"({"access_token":"abc","token_type":"Bearer"})";  // no expires_in: one hour
    }
    return r;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  for (const char* scope : {"mac", "nojson", "notoken"}) {
    auto c = creds(server);
    c.scope = scope;
    OAuth2TokenSource source(client, c);
    auto r = get_token(source);
    EXPECT_TRUE(r.token.empty()) << scope;
    EXPECT_FALSE(r.error.empty()) << scope;
  }
  OAuth2TokenSource source(client, creds(server));
  auto r = get_token(source);
  EXPECT_EQ(r.token, "abc") << r.error;
  get_token(source);
  EXPECT_EQ(server.requests().size(), 4u);  // the last one came from the cache
}

TEST(OAuth2, TransportFailureIsAnError) {
  EventLoop loop(1);
  HttpClient client(loop);
  OAuth2ClientCredentials c;
  c.token_url = "not a url";
  c.client_id = "id";
  c.client_secret = "secret";
  OAuth2TokenSource source(client, c);
  auto r = get_token(source);
  EXPECT_TRUE(r.token.empty());
  EXPECT_NE(r.error.find("bad_url"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("secret"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace o2gw::net
