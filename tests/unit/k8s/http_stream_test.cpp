// HttpClient::stream, the transport under Kubernetes watches: bodies delivered
// as they arrive, cancellation, the two timeouts, and pooling only after a
// clean end. The server is scripted byte by byte over blocking sockets.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "o2gw/http_client.hpp"

namespace o2gw::net {
namespace {

using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;

class ScriptServer {
 public:
  // Runs once per request on its connection; returns false to close the connection.
  using Script = std::function<bool(tcp::socket&, const std::string& request_head, const std::atomic<bool>& stop)>;

  explicit ScriptServer(Script script) : script_(std::move(script)) {
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptServer() {
    stop_ = true;
    {  // wake the blocking accept
      boost::system::error_code ec;
      tcp::socket s(ioc_);
      s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    accept_thread_.join();
    for (auto& t : sessions_) t.join();
  }
  [[nodiscard]] std::string url(const std::string& path = "/watch") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] int accepts() const { return accepts_; }
  [[nodiscard]] int requests() const { return requests_; }
  bool wait_closed(int n, std::chrono::milliseconds limit = 3s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return closed_ >= n; });
  }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stop_) return;
      ++accepts_;
      sessions_.emplace_back([this, s = std::move(sock)]() mutable { session(std::move(s)); });
    }
  }
  void session(tcp::socket sock) {
    boost::asio::streambuf buf;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = boost::asio::read_until(sock, buf, "\r\n\r\n", ec);
      if (ec) break;
      std::string head(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_begin(buf.data()) + n);
      buf.consume(n);
      ++requests_;
      if (!script_(sock, head, stop_)) break;
    }
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    std::lock_guard lock(mu_);
    ++closed_;
    cv_.notify_all();
  }

  Script script_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepts_{0};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::vector<std::thread> sessions_;
  std::mutex mu_;
  std::condition_variable cv_;
  int closed_ = 0;
};

bool send(tcp::socket& s, const std::string& bytes) {
  boost::system::error_code ec;
  boost::asio::write(s, boost::asio::buffer(bytes), ec);
  return !ec;
}
std::string chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}
const std::string kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

// What one stream produced.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  int status = 0;
  std::vector<std::string> pieces;
  bool done = false;
  std::optional<ClientError> error;
  int done_calls = 0;
  std::function<bool(const std::string&)> keep_going = [](const std::string&) { return true; };

  StreamHandle start(HttpClient& client, ClientRequest req) {
    return client.stream(
        std::move(req), TlsOptions{},
        [this](int s, const std::vector<http::Header>&) {
          std::lock_guard lock(mu);
          status = s;
        },
        [this](std::string_view data) {
          std::lock_guard lock(mu);
          pieces.emplace_back(data);
          cv.notify_all();
          return keep_going(all_locked());
        },
        [this](std::optional<ClientError> e) {
          std::lock_guard lock(mu);
          done = true;
          ++done_calls;
          error = std::move(e);
          cv.notify_all();
        });
  }
  std::string all_locked() const {
    std::string out;
    for (const auto& p : pieces) out += p;
    return out;
  }
  std::string all() {
    std::lock_guard lock(mu);
    return all_locked();
  }
  bool wait_done(std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return done; });
  }
  bool wait_data(std::size_t bytes, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return all_locked().size() >= bytes; });
  }
};

ClientRequest stream_request(const std::string& url) {
  ClientRequest req;
  req.url = url;
  req.timeout = 2s;
  return req;
}

TEST(HttpStream, DeliversChunksAsTheyArriveThenPoolsTheConnection) {
  ScriptServer server([](tcp::socket& s, const std::string& head, const std::atomic<bool>&) {
    if (head.find("GET /watch") == std::string::npos) {
      return send(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    if (!send(s, kChunkedHead + chunk("{\"a\":1}\n"))) return false;
    std::this_thread::sleep_for(80ms);
    if (!send(s, chunk("{\"b\":"))) return false;
    std::this_thread::sleep_for(80ms);
    return send(s, chunk("2}\n") + "0\r\n\r\n");
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_done());
  EXPECT_FALSE(rec.error) << rec.error->message;
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.all(), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_GE(rec.pieces.size(), 3u);  // not buffered to the end
  EXPECT_FALSE(handle.active());
  EXPECT_EQ(client.idle_connections(), 1u);
  // The pooled connection serves the next request.
  auto promise = std::make_shared<std::promise<ClientResult>>();
  client.request(stream_request(server.url("/other")), [promise](ClientResult r) { promise->set_value(std::move(r)); });
  auto r = promise->get_future().get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(server.accepts(), 1);
  EXPECT_EQ(rec.done_calls, 1);
}

TEST(HttpStream, ChunksThatArriveTogetherAreDeliveredTogether) {
  // 200 small chunks in one write: the consumer should see them in a few large
  // pieces (one per read), not one callback per chunk.
  ScriptServer server([](tcp::socket& s, const std::string&, const std::atomic<bool>&) {
    std::string body = kChunkedHead;
    for (int i = 0; i < 200; ++i) body += chunk("{\"i\":" + std::to_string(i) + "}\n");
    return send(s, body + "0\r\n\r\n");
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_done());
  EXPECT_FALSE(rec.error);
  std::string all = rec.all();
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 200);
  EXPECT_LE(rec.pieces.size(), 10u);
}

TEST(HttpStream, ErrorStatusBodyIsStreamedToo) {
  ScriptServer server([](tcp::socket& s, const std::string&, const std::atomic<bool>&) {
    return send(s,
                "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"code\": 410}\n");
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_done());
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(rec.status, 410);
  EXPECT_EQ(rec.all(), "{\"code\": 410}\n");
}

// An endless stream: a chunk every 20 ms until the client goes away.
bool endless(tcp::socket& s, const std::string&, const std::atomic<bool>& stop) {
  if (!send(s, kChunkedHead)) return false;
  for (int i = 0; !stop; ++i) {
    if (!send(s, chunk("{\"n\":" + std::to_string(i) + "}\n"))) return false;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(HttpStream, CancelStopsCallbacksAndClosesTheConnection) {
  ScriptServer server(endless);
  EventLoop loop(2);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_data(20));
  EXPECT_TRUE(handle.active());
  handle.cancel();
  EXPECT_FALSE(handle.active());
  std::size_t pieces = 0;
  {
    std::lock_guard lock(rec.mu);
    pieces = rec.pieces.size();
  }
  ASSERT_TRUE(server.wait_closed(1));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(rec.mu);
  EXPECT_EQ(rec.pieces.size(), pieces);  // nothing after cancel() returned
  EXPECT_FALSE(rec.done);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpStream, DestroyingTheHandleCancels) {
  ScriptServer server(endless);
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  {
    auto handle = rec.start(client, stream_request(server.url()));
    ASSERT_TRUE(rec.wait_data(10));
  }
  ASSERT_TRUE(server.wait_closed(1));
  EXPECT_FALSE(rec.done);
}

TEST(HttpStream, CancelFromInsideACallback) {
  ScriptServer server(endless);
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  StreamHandle handle;
  std::mutex handle_mu;
  std::promise<void> cancelled;
  rec.keep_going = [&](const std::string&) {
    std::lock_guard lock(handle_mu);
    handle.cancel();
    cancelled.set_value();
    return true;
  };
  {
    std::lock_guard lock(handle_mu);
    handle = rec.start(client, stream_request(server.url()));
  }
  ASSERT_EQ(cancelled.get_future().wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(server.wait_closed(1));
  std::lock_guard lock(rec.mu);
  EXPECT_EQ(rec.pieces.size(), 1u);
  EXPECT_FALSE(rec.done);
}

TEST(HttpStream, ConsumerStopEndsCleanlyWithoutPooling) {
  ScriptServer server(endless);
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  rec.keep_going = [](const std::string& so_far) { return so_far.size() < 30; };
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_done());
  EXPECT_FALSE(rec.error);
  EXPECT_GE(rec.all().size(), 30u);
  ASSERT_TRUE(server.wait_closed(1));
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpStream, RequestTimeoutCoversOnlyTheHead) {
  // Data every 150 ms for 600 ms: longer than the 100 ms request timeout in
  // total, but never silent for the 400 ms idle limit.
  ScriptServer server([](tcp::socket& s, const std::string&, const std::atomic<bool>&) {
    if (!send(s, kChunkedHead)) return false;
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(150ms);
      if (!send(s, chunk("x"))) return false;
    }
    return send(s, "0\r\n\r\n");
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto req = stream_request(server.url());
  req.timeout = 100ms;
  req.stream_idle_timeout = 400ms;
  auto handle = rec.start(client, req);
  ASSERT_TRUE(rec.wait_done());
  EXPECT_FALSE(rec.error) << rec.error->message;
  EXPECT_EQ(rec.all(), "xxxx");
}

TEST(HttpStream, IdleTimeout) {
  ScriptServer server([](tcp::socket& s, const std::string&, const std::atomic<bool>& stop) {
    send(s, kChunkedHead + chunk("first"));
    while (!stop) std::this_thread::sleep_for(10ms);  // then silence
    return false;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto req = stream_request(server.url());
  req.stream_idle_timeout = 200ms;
  auto started = std::chrono::steady_clock::now();
  auto handle = rec.start(client, req);
  ASSERT_TRUE(rec.wait_done());
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->kind, ClientError::Kind::timeout);
  EXPECT_NE(rec.error->message.find("200 ms"), std::string::npos) << rec.error->message;
  EXPECT_EQ(rec.all(), "first");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
}

TEST(HttpStream, HeadTimeout) {
  ScriptServer server([](tcp::socket&, const std::string&, const std::atomic<bool>& stop) {
    while (!stop) std::this_thread::sleep_for(10ms);
    return false;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto req = stream_request(server.url());
  req.timeout = 200ms;
  auto handle = rec.start(client, req);
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->kind, ClientError::Kind::timeout);
  EXPECT_EQ(rec.status, 0);
}

TEST(HttpStream, ConnectionDroppedMidStreamIsAProtocolError) {
  ScriptServer server([](tcp::socket& s, const std::string&, const std::atomic<bool>&) {
    send(s, kChunkedHead + chunk("{\"a\":1}\n") + "20\r\npartial");
    return false;
  });
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request(server.url()));
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->kind, ClientError::Kind::protocol);
  EXPECT_EQ(rec.all().substr(0, 8), "{\"a\":1}\n");
}

TEST(HttpStream, BadUrlReportsThroughOnDone) {
  EventLoop loop(1);
  HttpClient client(loop);
  Recorder rec;
  auto handle = rec.start(client, stream_request("ftp://x/"));
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->kind, ClientError::Kind::bad_url);
}

TEST(HttpStream, ProfileKeyCoversInMemoryPemWithoutRevealingIt) {
  TlsOptions a;
  TlsOptions b;
  b.ca_pem = "-----BEGIN CERTIFICATE-----\nsecret-material\n-----END CERTIFICATE-----\n";
  EXPECT_NE(a.profile_key(), b.profile_key());
  EXPECT_EQ(b.profile_key().find("secret-material"), std::string::npos);
  TlsOptions c = b;
  c.ca_pem.back() = ' ';
  EXPECT_NE(b.profile_key(), c.profile_key());
  TlsOptions d;
  d.client_key_pem = b.ca_pem;
  EXPECT_NE(b.profile_key(), d.profile_key());
}

TEST(HttpStream, BadInMemoryPemIsATlsErrorWithoutTheContent) {
  EventLoop loop(1);
  HttpClient client(loop);
  TlsOptions tls;
  tls.ca_pem = "-----BEGIN CERTIFICATE-----\nnot-a-cert-secret\n-----END CERTIFICATE-----\n";
  auto promise = std::make_shared<std::promise<ClientResult>>();
  client.request(stream_request("https://127.0.0.1:1/"), tls,
                 [promise](ClientResult r) { promise->set_value(std::move(r)); });
  auto r = promise->get_future().get();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientError::Kind::tls);
  EXPECT_EQ(r.error->message.find("not-a-cert-secret"), std::string::npos);
  TlsOptions both;
  both.client_cert_file = "/x";
  both.client_cert_pem = "y";
  both.client_key_pem = "z";
  auto promise2 = std::make_shared<std::promise<ClientResult>>();
  client.request(stream_request("https://127.0.0.1:1/"), both,
                 [promise2](ClientResult res) { promise2->set_value(std::move(res)); });
  r = promise2->get_future().get();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientError::Kind::tls);
}

}  // namespace
}  // namespace o2gw::net
