// A small HTTP/1.1 server on 127.0.0.1 (optionally TLS, optionally requiring a
// client certificate) for the outbound client's tests. It runs on its own thread
// and io_context; the handler decides each reply, including misbehaviour
// (closing a keep-alive connection silently, never answering).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "o2gw/http.hpp"

namespace o2gw::test {

struct SeenRequest {
  std::string method;
  std::string target;
  std::vector<http::Header> headers;
  std::string body;
  [[nodiscard]] std::string header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return h.value;
      }
    }
    return {};
  }
};

struct ServerReply {
  int status = 200;
  std::vector<http::Header> headers;
  std::string body;
  unsigned version = 11;
  bool keep_alive = true;    // false: "Connection: close" (or HTTP/1.0 without keep-alive)
  bool close_after = false;  // close after replying although the reply allowed keep-alive
  bool never_reply = false;  // read the request and hold the connection without answering
  std::chrono::milliseconds delay{0};
};

struct ServerTls {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // set: a client certificate signed by it is required
};

class LoopbackServer {
 public:
  using Handler = std::function<ServerReply(const SeenRequest&)>;

  explicit LoopbackServer(Handler handler, std::optional<ServerTls> tls = std::nullopt) : handler_(std::move(handler)) {
    namespace ssl = boost::asio::ssl;
    if (tls) {
      ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      ssl_ctx_->use_certificate_chain_file(tls->cert_file);
      ssl_ctx_->use_private_key_file(tls->key_file, ssl::context::pem);
      if (!tls->client_ca_file.empty()) {
        ssl_ctx_->load_verify_file(tls->client_ca_file);
        ssl_ctx_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
    }
    using tcp = boost::asio::ip::tcp;
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(ioc_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~LoopbackServer() {
    ioc_.stop();
    thread_.join();
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url(std::string_view path = "/", std::string_view host = "127.0.0.1") const {
    return std::string(ssl_ctx_ ? "https://" : "http://") + std::string(host) + ":" + std::to_string(port_) +
           std::string(path);
  }

  [[nodiscard]] int accepts() const {
    std::lock_guard lock(mu_);
    return accepts_;
  }
  [[nodiscard]] std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until the server has closed `n` connections in total.
  bool wait_closed(int n, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return closed_ >= n; });
  }

 private:
  static constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      {
        std::lock_guard lock(mu_);
        ++accepts_;
      }
      boost::asio::co_spawn(ioc_, session(std::move(sock)), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock) {
    if (ssl_ctx_) {
      boost::beast::ssl_stream<boost::beast::tcp_stream> stream(std::move(sock), *ssl_ctx_);
      auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server, kTuple);
      if (!ec) co_await serve(stream);
      boost::beast::get_lowest_layer(stream).close();
    } else {
      boost::beast::tcp_stream stream(std::move(sock));
      co_await serve(stream);
      stream.close();
    }
    {
      std::lock_guard lock(mu_);
      ++closed_;
    }
    cv_.notify_all();
  }

  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream) {
    namespace bhttp = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [read_ec, read_n] = co_await bhttp::async_read(stream, buffer, req, kTuple);
      if (read_ec) co_return;
      SeenRequest seen;
      seen.method = std::string(req.method_string());
      seen.target = std::string(req.target());
      for (const auto& f : req) seen.headers.push_back({std::string(f.name_string()), std::string(f.value())});
      seen.body = req.body();
      {
        std::lock_guard lock(mu_);
        requests_.push_back(seen);
      }
      ServerReply reply = handler_(seen);
      if (reply.delay.count() > 0) {
        boost::asio::steady_timer t(ioc_, reply.delay);
        co_await t.async_wait(kTuple);
      }
      if (reply.never_reply) {
        // Until the client gives up and closes.
        char byte = 0;
        co_await stream.async_read_some(boost::asio::buffer(&byte, 1), kTuple);
        co_return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), reply.version};
      for (const auto& h : reply.headers) res.insert(h.name, h.value);
      res.body() = reply.body;
      res.keep_alive(reply.keep_alive);
      res.prepare_payload();
      auto [write_ec, write_n] = co_await bhttp::async_write(stream, res, kTuple);
      if (write_ec || !reply.keep_alive || reply.close_after) co_return;
    }
  }

  Handler handler_;
  std::unique_ptr<boost::asio::ssl::context> ssl_ctx_;  // outlives the io_context and its streams
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int accepts_ = 0;
  int closed_ = 0;
  std::vector<SeenRequest> requests_;
  std::thread thread_;
};

}  // namespace o2gw::test
