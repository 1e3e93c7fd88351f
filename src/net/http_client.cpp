#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "o2gw/http_client.hpp"

namespace o2gw::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 token characters, for header names.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (is_alnum(c)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// No CR, LF or NUL: anything else in a value cannot split the header block.
bool is_safe_header_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos;
}

std::uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string host_and_port(const UrlParts& url) {
  std::string out = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  out += ":" + std::to_string(url.port);
  return out;
}

// The Host header: the port only when it is not the scheme's default (RFC 9110 7.2).
std::string host_header(const UrlParts& url) {
  std::string out = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != default_port(url.scheme)) out += ":" + std::to_string(url.port);
  return out;
}

std::optional<bhttp::verb> to_verb(http::Method m) {
  switch (m) {
    case http::Method::get: return bhttp::verb::get;
    case http::Method::head: return bhttp::verb::head;
    case http::Method::post: return bhttp::verb::post;
    case http::Method::put: return bhttp::verb::put;
    case http::Method::patch: return bhttp::verb::patch;
    case http::Method::del: return bhttp::verb::delete_;
    case http::Method::options: return bhttp::verb::options;
    case http::Method::other: break;
  }
  return std::nullopt;
}

// Headers whose value the client owns: message framing and connection management.
bool is_client_managed_header(std::string_view name) {
  for (std::string_view managed :
       {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "trailer"}) {
    if (iequals(name, managed)) return true;
  }
  return false;
}

// host_name_verification, plus an X509 error when the name is what failed, so the
// handshake error reads "hostname mismatch" rather than a bare "certificate verify failed".
struct VerifyHostName {
  ssl::host_name_verification check;
  bool ip_literal;
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    if (check(preverified, ctx)) return true;
    if (preverified) {
      X509_STORE_CTX_set_error(ctx.native_handle(),
                               ip_literal ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
    }
    return false;
  }
};

std::string file_stamp(const std::filesystem::path& p) {
  if (p.empty()) return "-";
  std::error_code ec;
  auto t = std::filesystem::last_write_time(p, ec);
  return ec ? "?" : std::to_string(t.time_since_epoch().count());
}

using TlsContextOrError = std::variant<std::shared_ptr<ssl::context>, std::string>;

TlsContextOrError make_tls_context(const TlsOptions& tls) {
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
      return std::string("cannot restrict TLS to version 1.2 or later");
    }
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    error_code ec;
    if (tls.verify) {
      ctx->set_verify_mode(ssl::verify_peer, ec);
      if (tls.ca_file.empty() && tls.ca_pem.empty()) {
        ctx->set_default_verify_paths(ec);
        if (ec) return "cannot load the system trust store: " + ec.message();
      }
      if (!tls.ca_file.empty()) {
        ctx->load_verify_file(tls.ca_file.string(), ec);
        if (ec) return "cannot load CA file " + tls.ca_file.string() + ": " + ec.message();
      }
      if (!tls.ca_pem.empty()) {
        ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec);
        if (ec) return "cannot load the in-memory CA certificates: " + ec.message();
      }
    } else {
      ctx->set_verify_mode(ssl::verify_none, ec);
    }
    if (!tls.client_cert_file.empty() && !tls.client_cert_pem.empty()) {
      return std::string("a client certificate is given both as a file and in memory");
    }
    if (!tls.client_key_file.empty() && !tls.client_key_pem.empty()) {
      return std::string("a client key is given both as a file and in memory");
    }
    bool has_cert = !tls.client_cert_file.empty() || !tls.client_cert_pem.empty();
    bool has_key = !tls.client_key_file.empty() || !tls.client_key_pem.empty();
    if (has_cert != has_key) {
      return std::string("a client certificate needs both a certificate and a key");
    }
    if (!tls.client_cert_file.empty()) {
      ctx->use_certificate_chain_file(tls.client_cert_file.string(), ec);
      if (ec) return "cannot load client certificate " + tls.client_cert_file.string() + ": " + ec.message();
    } else if (!tls.client_cert_pem.empty()) {
      ctx->use_certificate_chain(asio::buffer(tls.client_cert_pem), ec);
      if (ec) return "cannot load the in-memory client certificate: " + ec.message();
    }
    if (!tls.client_key_file.empty()) {
      ctx->use_private_key_file(tls.client_key_file.string(), ssl::context::pem, ec);
      if (ec) return "cannot load client key " + tls.client_key_file.string() + ": " + ec.message();
    } else if (!tls.client_key_pem.empty()) {
      ctx->use_private_key(asio::buffer(tls.client_key_pem), ssl::context::pem, ec);
      if (ec) return "cannot load the in-memory client key: " + ec.message();
    }
    if (has_cert && SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return std::string("the client key does not match the client certificate");
    }
    return ctx;
  } catch (const std::exception& e) {
    return std::string("cannot create TLS context: ") + e.what();
  }
}

// One keep-alive connection. Everything that touches it runs on its strand, `ex`.
struct Connection {
  Connection(asio::any_io_executor executor, std::shared_ptr<ssl::context> ctx, std::string key)
      : ex(std::move(executor)), tls_context(std::move(ctx)), idle_timer(ex), pool_key(std::move(key)) {
    if (tls_context) {
      tls.emplace(ex, *tls_context);
    } else {
      plain.emplace(ex);
    }
  }

  beast::tcp_stream& tcp_layer() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }

  void close() {
    error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().close();
  }

  asio::any_io_executor ex;
  std::shared_ptr<ssl::context> tls_context;  // before `tls`: the stream uses it
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  asio::steady_timer idle_timer;
  beast::flat_buffer buffer;
  std::string pool_key;
};

// Closes a connection on its own strand (never concurrently with its handlers).
void retire(std::shared_ptr<Connection> conn) {
  auto ex = conn->ex;
  asio::post(ex, [conn = std::move(conn)] {
    conn->idle_timer.cancel();
    conn->close();
  });
}

}  // namespace

std::string_view client_error_kind_name(ClientError::Kind k) {
  switch (k) {
    case ClientError::Kind::bad_url: return "bad_url";
    case ClientError::Kind::refused_address: return "refused_address";
    case ClientError::Kind::resolve: return "resolve";
    case ClientError::Kind::connect: return "connect";
    case ClientError::Kind::tls: return "tls";
    case ClientError::Kind::timeout: return "timeout";
    case ClientError::Kind::protocol: return "protocol";
  }
  return "unknown";
}

std::string_view ClientResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

namespace {

// Hex SHA-256, so in-memory keys can be told apart without appearing in the key.
std::string digest_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "?";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{len} * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string TlsOptions::profile_key() const {
  // Length-prefixed fields: no two different option sets can produce the same key.
  std::string key;
  auto add = [&key](const std::string& s) {
    key += std::to_string(s.size());
    key += ':';
    key += s;
    key += ';';
  };
  for (const auto& p : {ca_file, client_cert_file, client_key_file}) add(p.string());
  for (const auto* pem : {&ca_pem, &client_cert_pem, &client_key_pem}) add(pem->empty() ? "" : digest_hex(*pem));
  key += verify ? "verify" : "noverify";
  return key;
}

std::optional<UrlParts> parse_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  UrlParts out;
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path_and_query = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  // userinfo is refused outright: "http://trusted@evil/" reads as trusted to a human.
  if (authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      has_port = true;
      port_text = after.substr(1);
    }
    // IPv6 only; zone identifiers and IPvFuture are not supported.
    if (host.find('%') != std::string_view::npos) return std::nullopt;
    error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::nullopt;
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != '~') return std::nullopt;
    }
  }
  out.host = lower(host);

  out.port = default_port(out.scheme);
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : port_text) {
      if (!is_digit(c)) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
  }

  // Sent verbatim in the request line: printable ASCII only (no spaces, no controls).
  for (char c : path_and_query) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return std::nullopt;
  }
  out.target = path_and_query.empty() || path_and_query.front() == '?' ? "/" + std::string(path_and_query)
                                                                       : std::string(path_and_query);
  return out;
}

// ---------------------------------------------------------------------------

// Shared by a StreamHandle and the RequestOp serving it. Every callback runs with
// `mu` held, and cancel() takes it too: once cancel() returns no callback is
// running or will start. Recursive, so a callback may cancel its own stream.
struct StreamState {
  using HeadFn = std::function<void(int, const std::vector<http::Header>&)>;
  using DataFn = std::function<bool(std::string_view)>;
  using DoneFn = std::function<void(std::optional<ClientError>)>;

  std::recursive_mutex mu;
  bool cancelled = false;
  bool finished = false;
  int running = 0;  // callbacks on the stack: they must not be destroyed under themselves
  HeadFn on_head;
  DataFn on_data;
  DoneFn on_done;
  std::function<void()> abort;  // closes the op's connection, on its strand

  struct Callbacks {
    HeadFn head;
    DataFn data;
    DoneFn done;
  };
  // Under mu. The caller destroys what it gets back (user closures may hold
  // anything; their destruction must not run inside their own call).
  Callbacks take_callbacks() { return {std::move(on_head), std::move(on_data), std::move(on_done)}; }

  // Runs f (one of the callbacks) unless cancelled; false when cancelled before or during.
  template <class F>
  bool invoke(F&& f) {
    Callbacks released;
    std::lock_guard lock(mu);
    if (cancelled || finished) return false;
    struct Depth {
      int& n;
      explicit Depth(int& r) : n(r) { ++n; }
      ~Depth() { --n; }
    };
    {
      Depth depth(running);
      f();
    }
    if (cancelled && running == 0) released = take_callbacks();
    return !cancelled;
  }

  bool head(int status, const std::vector<http::Header>& headers) {
    return invoke([&] { on_head(status, headers); });
  }
  bool data(std::string_view chunk) {
    bool more = true;
    bool live = invoke([&] { more = on_data(chunk); });
    return live && more;
  }
  void done(std::optional<ClientError> error) {
    Callbacks released;
    std::lock_guard lock(mu);
    if (cancelled || finished) return;
    finished = true;
    released = take_callbacks();
    if (released.done) released.done(std::move(error));
  }
};

StreamHandle::~StreamHandle() {
  cancel();
}

StreamHandle::StreamHandle(StreamHandle&&) noexcept = default;

StreamHandle& StreamHandle::operator=(StreamHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

void StreamHandle::cancel() {
  if (!state_) return;
  StreamState::Callbacks released;
  std::function<void()> abort;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->cancelled && !state_->finished) {
      state_->cancelled = true;
      abort = std::move(state_->abort);
      if (state_->running == 0) released = state_->take_callbacks();
    }
  }
  if (abort) abort();
}

bool StreamHandle::active() const {
  if (!state_) return false;
  std::lock_guard lock(state_->mu);
  return !state_->cancelled && !state_->finished;
}

namespace {

// The client's shared state: options, the idle pool and the TLS contexts. Requests
// in flight hold a reference, so it outlives an HttpClient destroyed under them.
struct ClientCore : std::enable_shared_from_this<ClientCore> {
  struct IdleEntry {
    std::shared_ptr<Connection> conn;
    Clock::time_point since;
  };
  struct CachedTlsContext {
    std::string file_stamps;
    std::shared_ptr<ssl::context> ctx;
  };

  ClientCore(asio::io_context& io, ClientOptions opts) : ioc(io), options(std::move(opts)) {}

  asio::io_context& ioc;
  const ClientOptions options;
  mutable std::mutex mu;
  bool closed = false;
  std::unordered_map<std::string, std::deque<IdleEntry>> idle;
  std::unordered_map<std::string, CachedTlsContext> tls_contexts;

  // One context per TLS profile. The files' modification times are part of the
  // cache check so a rotated certificate or CA is picked up without a restart.
  TlsContextOrError tls_context(const TlsOptions& tls) {
    std::string key = tls.profile_key();
    std::string stamps =
        file_stamp(tls.ca_file) + "/" + file_stamp(tls.client_cert_file) + "/" + file_stamp(tls.client_key_file);
    {
      std::lock_guard lock(mu);
      auto it = tls_contexts.find(key);
      if (it != tls_contexts.end() && it->second.file_stamps == stamps) return it->second.ctx;
    }
    auto made = make_tls_context(tls);
    if (auto* ctx = std::get_if<std::shared_ptr<ssl::context>>(&made)) {
      std::lock_guard lock(mu);
      tls_contexts[key] = {stamps, *ctx};
    }
    return made;
  }

  // Most recently used first: the likeliest to still be open on the server side.
  std::shared_ptr<Connection> take_idle(const std::string& key) {
    std::vector<std::shared_ptr<Connection>> expired;
    std::shared_ptr<Connection> found;
    {
      std::lock_guard lock(mu);
      auto it = idle.find(key);
      if (it == idle.end()) return nullptr;
      auto& list = it->second;
      auto now = Clock::now();
      while (!list.empty() && now - list.front().since >= options.idle_timeout) {
        expired.push_back(std::move(list.front().conn));
        list.pop_front();
      }
      if (!list.empty()) {
        found = std::move(list.back().conn);
        list.pop_back();
      }
      if (list.empty()) idle.erase(it);
    }
    for (auto& c : expired) retire(std::move(c));
    return found;
  }

  // On conn's strand, after a complete response that allows keep-alive.
  void release(const std::shared_ptr<Connection>& conn) {
    {
      std::lock_guard lock(mu);
      auto& list = idle[conn->pool_key];
      if (closed || list.size() >= options.max_idle_per_endpoint) {
        if (list.empty()) idle.erase(conn->pool_key);
        conn->close();
        return;
      }
      list.push_back({conn, Clock::now()});
    }
    // Pool membership (under the mutex) decides who owns the connection; the timer
    // only evicts it if no request has taken it in the meantime.
    conn->idle_timer.expires_after(options.idle_timeout);
    conn->idle_timer.async_wait(
        [weak_self = weak_from_this(), weak_conn = std::weak_ptr<Connection>(conn)](const error_code& ec) {
          if (ec) return;
          auto self = weak_self.lock();
          auto c = weak_conn.lock();
          if (self && c) self->evict(c);
        });
  }

  // On conn's strand.
  void evict(const std::shared_ptr<Connection>& conn) {
    bool found = false;
    {
      std::lock_guard lock(mu);
      auto it = idle.find(conn->pool_key);
      if (it == idle.end()) return;
      auto& list = it->second;
      for (auto e = list.begin(); e != list.end(); ++e) {
        if (e->conn == conn) {
          list.erase(e);
          found = true;
          break;
        }
      }
      if (list.empty()) idle.erase(it);
    }
    if (found) conn->close();
  }

  void shutdown() {
    std::vector<std::shared_ptr<Connection>> all;
    {
      std::lock_guard lock(mu);
      closed = true;
      for (auto& [key, list] : idle) {
        for (auto& e : list) all.push_back(std::move(e.conn));
      }
      idle.clear();
    }
    for (auto& c : all) retire(std::move(c));
  }

  std::size_t idle_count() const {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& [key, list] : idle) n += list.size();
    return n;
  }
};

using Done = std::function<void(ClientResult)>;

ClientResult error_result(ClientError::Kind kind, std::string message) {
  ClientResult r;
  r.error = ClientError{kind, std::move(message)};
  return r;
}

// One request, from resolution to the response (or the error). Every step runs on
// `ex_`: a fresh strand, or the strand of the pooled connection it reuses. Each
// pending operation holds the connection it works on: after a timeout the op lets
// go of conn_ while the aborted operation still has to complete on its stream and buffer.
class RequestOp : public std::enable_shared_from_this<RequestOp> {
 public:
  struct Params {
    std::shared_ptr<ClientCore> client;
    UrlParts url;
    std::string pool_key;
    std::shared_ptr<ssl::context> tls_context;  // null for http
    bool tls_verify = true;
    bhttp::request<bhttp::string_body> request;
    std::chrono::milliseconds timeout;
    std::size_t max_response_bytes = 0;
    Done done;                            // request(): the result
    std::shared_ptr<StreamState> stream;  // stream(): the consumer (then `done` is unused)
    std::chrono::milliseconds stream_idle_timeout{0};
  };

  RequestOp(Params p, asio::any_io_executor ex, std::shared_ptr<Connection> reused)
      : p_(std::move(p)),
        ex_(std::move(ex)),
        deadline_(ex_),
        resolver_(ex_),
        conn_(std::move(reused)),
        reused_(conn_ != nullptr),
        ip_literal_(is_ip_literal(p_.url.host)) {}

  [[nodiscard]] const asio::any_io_executor& executor() const { return ex_; }

  void start() {
    arm_deadline(p_.timeout);
    if (conn_) {
      conn_->idle_timer.cancel();
      send();
    } else {
      open();
    }
  }

  // Cancelling a stream: close without a callback (on the strand).
  void abort_stream() {
    if (finished_) return;
    finished_ = true;
    disarm_deadline();
    resolver_.cancel();
    if (conn_) {
      conn_->close();
      conn_.reset();
    }
  }

 private:
  enum class Phase { resolving, connecting, handshaking, writing, reading, streaming };

  // A generation guards against a wait that already expired and is queued with
  // success when the timer is re-armed (a stream re-arms it for every read).
  void arm_deadline(std::chrono::milliseconds d) {
    unsigned gen = ++deadline_gen_;
    deadline_.expires_after(d);
    deadline_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (!ec && gen == self->deadline_gen_) self->on_deadline();
    });
  }
  void disarm_deadline() {
    ++deadline_gen_;
    deadline_.cancel();
  }

  static std::string_view phase_name(Phase ph) {
    switch (ph) {
      case Phase::resolving: return "resolving";
      case Phase::connecting: return "connecting";
      case Phase::handshaking: return "in the TLS handshake";
      case Phase::writing: return "sending the request";
      case Phase::reading: return "waiting for the response";
      case Phase::streaming: return "with no data on the stream";
    }
    return "";
  }

  void open() {
    conn_ = std::make_shared<Connection>(ex_, p_.tls_context, p_.pool_key);
    phase_ = Phase::resolving;
    if (ip_literal_) {
      error_code ec;
      tcp::endpoint ep(asio::ip::make_address(p_.url.host, ec), p_.url.port);
      check_and_connect({ep});
      return;
    }
    resolver_.async_resolve(p_.url.host, std::to_string(p_.url.port),
                            [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void on_resolve(const error_code& ec, const tcp::resolver::results_type& results) {
    if (finished_) return;
    if (ec) {
      fail(ClientError::Kind::resolve, "cannot resolve " + p_.url.host + ": " + ec.message());
      return;
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    check_and_connect(std::move(endpoints));
  }

  // The address check runs on what is about to be dialled, so a name that
  // resolves differently each time (DNS rebinding) is checked on every request.
  void check_and_connect(std::vector<tcp::endpoint> candidates) {
    std::vector<tcp::endpoint> allowed;
    std::string first_refusal;
    for (const auto& ep : candidates) {
      std::optional<std::string> refusal;
      if (p_.client->options.address_check) {
        refusal = p_.client->options.address_check(p_.url.host, ep.address().to_string());
      }
      if (!refusal) {
        allowed.push_back(ep);
      } else if (first_refusal.empty()) {
        first_refusal = ep.address().to_string() + ": " + *refusal;
      }
    }
    if (allowed.empty()) {
      fail(ClientError::Kind::refused_address, candidates.empty()
                                                   ? "no address for " + p_.url.host
                                                   : "address of " + p_.url.host + " refused (" + first_refusal + ")");
      return;
    }
    phase_ = Phase::connecting;
    conn_->tcp_layer().async_connect(
        allowed, [self = shared_from_this(), conn = conn_](const error_code& ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      fail(ClientError::Kind::connect, "cannot connect to " + host_and_port(p_.url) + ": " + ec.message());
      return;
    }
    error_code ignored;
    conn_->tcp_layer().socket().set_option(tcp::no_delay(true), ignored);
    if (conn_->tls) {
      handshake();
    } else {
      send();
    }
  }

  void handshake() {
    phase_ = Phase::handshaking;
    auto& stream = *conn_->tls;
    // SNI carries host names only (RFC 6066 3).
    if (!ip_literal_ && SSL_set_tlsext_host_name(stream.native_handle(), p_.url.host.c_str()) != 1) {
      fail(ClientError::Kind::tls, "cannot set the TLS server name");
      return;
    }
    if (p_.tls_verify) {
      error_code ec;
      stream.set_verify_callback(VerifyHostName{ssl::host_name_verification(p_.url.host), ip_literal_}, ec);
      if (ec) {
        fail(ClientError::Kind::tls, "cannot set up host name verification: " + ec.message());
        return;
      }
    }
    stream.async_handshake(ssl::stream_base::client,
                           [self = shared_from_this(), conn = conn_](const error_code& ec) { self->on_handshake(ec); });
  }

  void on_handshake(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      fail(ClientError::Kind::tls, "TLS handshake with " + host_and_port(p_.url) + " failed: " + tls_reason(ec));
      return;
    }
    send();
  }

  // OpenSSL's verification result says why a certificate was refused; the
  // handshake error itself only says "certificate verify failed".
  std::string tls_reason(const error_code& ec) {
    if (p_.tls_verify && conn_ && conn_->tls) {
      long result = SSL_get_verify_result(conn_->tls->native_handle());
      if (result != X509_V_OK)
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(result);
    }
    return ec.message();
  }

  void send() {
    phase_ = Phase::writing;
    conn_->with_stream([&](auto& stream) {
      bhttp::async_write(
          stream, p_.request,
          [self = shared_from_this(), conn = conn_](const error_code& ec, std::size_t) { self->on_write(ec); });
    });
  }

  void on_write(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      io_failed(ec);
      return;
    }
    read();
  }

  void read() {
    phase_ = Phase::reading;
    if (p_.stream) {
      read_stream_head();
      return;
    }
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(p_.max_response_bytes);
    if (p_.request.method() == bhttp::verb::head) parser_->skip(true);
    conn_->with_stream([&](auto& stream) {
      bhttp::async_read(
          stream, conn_->buffer, *parser_,
          [self = shared_from_this(), conn = conn_](const error_code& ec, std::size_t) { self->on_read(ec); });
    });
  }

  void on_read(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      io_failed(ec);
      return;
    }
    auto& msg = parser_->get();
    int status = msg.result_int();
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200 && status != 101) {
      got_response_bytes_ = true;
      read();
      return;
    }
    ClientResponse res;
    res.status = status;
    for (const auto& field : msg) {
      res.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    res.body = std::move(msg.body());
    // keep_alive() is false for "Connection: close" and for HTTP/1.0 without
    // "keep-alive"; leftover bytes would be the start of a response nobody asked for.
    bool reusable = msg.keep_alive() && !parser_->need_eof() && status != 101 && conn_->buffer.size() == 0;
    ClientResult result;
    result.response = std::move(res);
    finish(std::move(result), reusable);
  }

  // --- stream(): the head under the request deadline, then the body piece by piece.

  void read_stream_head() {
    stream_parser_.emplace();
    stream_parser_->header_limit(64 * 1024);
    stream_parser_->body_limit(boost::none);  // the consumer decides when it has had enough
    if (p_.request.method() == bhttp::verb::head) stream_parser_->skip(true);
    conn_->with_stream([&](auto& stream) {
      bhttp::async_read_header(
          stream, conn_->buffer, *stream_parser_,
          [self = shared_from_this(), conn = conn_](const error_code& ec, std::size_t) { self->on_stream_head(ec); });
    });
  }

  void on_stream_head(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      io_failed(ec);
      return;
    }
    auto& msg = stream_parser_->get();
    int status = msg.result_int();
    got_response_bytes_ = true;
    if (status >= 100 && status < 200 && status != 101) {
      read_stream_head();
      return;
    }
    std::vector<http::Header> headers;
    for (const auto& field : msg) headers.push_back({std::string(field.name_string()), std::string(field.value())});
    phase_ = Phase::streaming;
    disarm_deadline();
    if (!p_.stream->head(status, headers)) {
      abort_stream();
      return;
    }
    if (stream_parser_->is_done()) {
      finish({}, stream_reusable());
      return;
    }
    chunk_.resize(std::size_t{64} * 1024);
    read_stream_body();
  }

  void read_stream_body() {
    if (p_.stream_idle_timeout.count() > 0) arm_deadline(p_.stream_idle_timeout);
    auto& body = stream_parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    body.more = true;
    conn_->with_stream([&](auto& stream) {
      bhttp::async_read_some(
          stream, conn_->buffer, *stream_parser_,
          [self = shared_from_this(), conn = conn_](const error_code& ec, std::size_t) { self->on_stream_body(ec); });
    });
  }

  void on_stream_body(error_code ec) {
    if (finished_) return;
    // buffer_body reports a full buffer as need_buffer: not an error, just a pause.
    if (ec == bhttp::error::need_buffer) ec = {};
    if (!ec) ec = parse_buffered();
    if (ec) {
      io_failed(ec);
      return;
    }
    std::size_t n = chunk_.size() - stream_parser_->get().body().size;
    if (n > 0 && !p_.stream->data(std::string_view(chunk_.data(), n))) {
      // Stopped by the consumer (or cancelled: then done() does nothing).
      finish({}, false);
      return;
    }
    if (stream_parser_->is_done()) {
      finish({}, stream_reusable());
      return;
    }
    read_stream_body();
  }

  // A read stops at the end of one chunk of a chunked body. Chunks that arrived
  // with it are parsed too, so they reach the consumer in one piece (a watch
  // batches the events of one piece). Not the parser's eager mode: that would
  // hold the data back until the buffer is full.
  error_code parse_buffered() {
    auto& parser = *stream_parser_;
    auto& buffer = conn_->buffer;
    while (!parser.is_done() && buffer.size() > 0 && parser.get().body().size > 0) {
      error_code ec;
      std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) return {};
      if (ec) return ec;
      if (used == 0) return {};
    }
    return {};
  }

  bool stream_reusable() {
    const auto& msg = stream_parser_->get();
    return msg.keep_alive() && !stream_parser_->need_eof() && msg.result_int() != 101 && conn_->buffer.size() == 0;
  }

  void io_failed(const error_code& ec) {
    bool no_response_yet = !got_response_bytes_ && conn_->buffer.size() == 0 && !(parser_ && parser_->got_some()) &&
                           !(stream_parser_ && stream_parser_->got_some());
    // A pooled connection the server has meanwhile closed fails like this; the
    // request never reached the application, so one fresh attempt is safe.
    if (reused_ && no_response_yet) {
      spdlog::debug("http client: pooled connection to {} was stale ({}), retrying on a new one", host_and_port(p_.url),
                    ec.message());
      reused_ = false;
      conn_->close();
      conn_.reset();
      parser_.reset();
      stream_parser_.reset();
      open();
      return;
    }
    std::string where = host_and_port(p_.url);
    if (ec == bhttp::error::body_limit) {
      fail(ClientError::Kind::protocol,
           "response from " + where + " exceeds the limit of " + std::to_string(p_.max_response_bytes) + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      fail(ClientError::Kind::protocol, "response header from " + where + " is too large");
    } else if (ec.category() == asio::error::get_ssl_category()) {
      // e.g. the server refusing our client certificate, which TLS 1.3 reports after the handshake.
      fail(ClientError::Kind::tls, "TLS error with " + where + ": " + tls_reason(ec));
    } else if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated ||
               ec == bhttp::error::partial_message) {
      fail(ClientError::Kind::protocol, "connection to " + where + " closed before the response was complete");
    } else {
      fail(ClientError::Kind::protocol, std::string(phase_ == Phase::writing ? "sending to " : "reading from ") +
                                            where + " failed: " + ec.message());
    }
  }

  void on_deadline() {
    if (finished_) return;
    resolver_.cancel();
    auto limit = phase_ == Phase::streaming ? p_.stream_idle_timeout : p_.timeout;
    fail(ClientError::Kind::timeout, "request to " + host_and_port(p_.url) + " timed out after " +
                                         std::to_string(limit.count()) + " ms " + std::string(phase_name(phase_)));
  }

  void fail(ClientError::Kind kind, std::string message) { finish(error_result(kind, std::move(message)), false); }

  void finish(ClientResult result, bool reusable) {
    if (finished_) return;
    finished_ = true;
    disarm_deadline();
    if (conn_) {
      if (reusable) {
        p_.client->release(conn_);
      } else {
        // Closing also aborts whatever is still pending on it (after a timeout).
        conn_->close();
      }
      conn_.reset();
    }
    if (p_.stream) {
      p_.stream->done(std::move(result.error));
      return;
    }
    auto done = std::move(p_.done);
    done(std::move(result));
  }

  Params p_;
  asio::any_io_executor ex_;
  asio::steady_timer deadline_;
  tcp::resolver resolver_;
  std::shared_ptr<Connection> conn_;
  bool reused_;
  bool ip_literal_;
  bool finished_ = false;
  bool got_response_bytes_ = false;
  unsigned deadline_gen_ = 0;
  Phase phase_ = Phase::resolving;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> stream_parser_;
  std::vector<char> chunk_;  // stream(): where the parser puts the body
};

}  // namespace

struct HttpClient::Impl : ClientCore {
  using ClientCore::ClientCore;
};

HttpClient::HttpClient(EventLoop& loop, ClientOptions options)
    : impl_(std::make_shared<Impl>(*static_cast<asio::io_context*>(loop.native()), std::move(options))) {}

// Requests in flight keep Impl alive through their own reference and finish
// normally; only the idle connections are closed here.
HttpClient::~HttpClient() {
  impl_->shutdown();
}

std::size_t HttpClient::idle_connections() const {
  return impl_->idle_count();
}

namespace {

// Checks a request and builds the Beast message and pooling key; an error when
// the request cannot be sent at all.
std::optional<ClientError> prepare(ClientCore& core, ClientRequest& req, const TlsOptions& tls, RequestOp::Params& p) {
  auto url = parse_url(req.url);
  if (!url) return ClientError{ClientError::Kind::bad_url, "not an absolute http(s) URL without userinfo"};
  auto verb = to_verb(req.method);
  if (!verb) return ClientError{ClientError::Kind::bad_url, "unsupported request method"};

  p.timeout = req.timeout;
  p.max_response_bytes = req.max_response_bytes;
  p.stream_idle_timeout = req.stream_idle_timeout;
  p.pool_key = url->scheme + "|" + url->host + "|" + std::to_string(url->port);
  if (url->scheme == "https") {
    auto ctx = core.tls_context(tls);
    if (auto* error = std::get_if<std::string>(&ctx)) return ClientError{ClientError::Kind::tls, *error};
    p.tls_context = std::get<std::shared_ptr<ssl::context>>(ctx);
    p.tls_verify = tls.verify;
    p.pool_key += "|" + tls.profile_key();
  }

  auto& out = p.request;
  out.method(*verb);
  out.target(url->target);
  out.version(11);
  out.set(bhttp::field::host, host_header(*url));
  if (!core.options.user_agent.empty()) out.set(bhttp::field::user_agent, core.options.user_agent);
  for (auto& h : req.headers) {
    if (!is_token(h.name) || !is_safe_header_value(h.value)) {
      return ClientError{ClientError::Kind::protocol, "invalid request header (name or value not allowed in HTTP/1.1)"};
    }
    if (is_client_managed_header(h.name)) continue;
    if (iequals(h.name, "user-agent")) {
      out.set(bhttp::field::user_agent, h.value);
    } else {
      out.insert(h.name, h.value);
    }
  }
  out.body() = std::move(req.body);
  out.keep_alive(true);
  out.prepare_payload();
  p.url = std::move(*url);
  return std::nullopt;
}

// Starts the op on a pooled connection's strand, or on a fresh strand.
std::shared_ptr<RequestOp> launch(const std::shared_ptr<ClientCore>& core, RequestOp::Params p) {
  p.client = core;
  auto conn = core->take_idle(p.pool_key);
  asio::any_io_executor ex = conn ? conn->ex : asio::any_io_executor(asio::make_strand(core->ioc));
  auto op = std::make_shared<RequestOp>(std::move(p), ex, std::move(conn));
  asio::post(ex, [op] { op->start(); });
  return op;
}

}  // namespace

void HttpClient::request(ClientRequest req, const TlsOptions& tls, std::function<void(ClientResult)> done) {
  RequestOp::Params p;
  if (auto error = prepare(*impl_, req, tls, p)) {
    asio::post(impl_->ioc,
               [done = std::move(done), r = error_result(error->kind, std::move(error->message))]() mutable {
                 done(std::move(r));
               });
    return;
  }
  p.done = std::move(done);
  launch(impl_, std::move(p));
}

StreamHandle HttpClient::stream(ClientRequest req, const TlsOptions& tls,
                                std::function<void(int status, const std::vector<http::Header>& headers)> on_head,
                                std::function<bool(std::string_view chunk)> on_data,
                                std::function<void(std::optional<ClientError>)> on_done) {
  auto state = std::make_shared<StreamState>();
  state->on_head = std::move(on_head);
  state->on_data = std::move(on_data);
  state->on_done = std::move(on_done);
  StreamHandle handle;
  handle.state_ = state;

  RequestOp::Params p;
  if (auto error = prepare(*impl_, req, tls, p)) {
    asio::post(impl_->ioc, [state, e = std::move(*error)]() mutable { state->done(std::move(e)); });
    return handle;
  }
  p.stream = state;
  // Set under the lock before the op can run, so a cancel() racing the start still reaches it.
  std::lock_guard lock(state->mu);
  auto op = launch(impl_, std::move(p));
  state->abort = [weak = std::weak_ptr<RequestOp>(op), ex = op->executor()] {
    asio::post(ex, [weak] {
      if (auto o = weak.lock()) o->abort_stream();
    });
  };
  return handle;
}

}  // namespace o2gw::net
