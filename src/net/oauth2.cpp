#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <mutex>
#include <variant>

#include "o2gw/http_client.hpp"

namespace o2gw::net {

namespace {

using Clock = std::chrono::steady_clock;
using Callback = std::function<void(std::string token, std::string error)>;

constexpr std::chrono::seconds kRefreshMargin{30};
constexpr std::chrono::seconds kDefaultLifetime{3600};

// application/x-www-form-urlencoded (RFC 6749 Appendix B): unreserved characters
// as is, space as '+', everything else percent-encoded.
std::string form_encode(std::string_view s) {
  std::string encoded = http::percent_encode(s);
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%20") == 0) {
      out += '+';
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Token text ends up in an Authorization header: printable ASCII without spaces only.
bool is_printable_token(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return !s.empty();
}

// The endpoint's `error` code, trimmed to what RFC 6749 5.2 allows, for the log.
std::string safe_error_code(const nlohmann::json& body) {
  if (!body.is_object()) return {};
  auto it = body.find("error");
  if (it == body.end() || !it->is_string()) return {};
  std::string out;
  for (char c : it->get_ref<const std::string&>()) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') out += c;
    if (out.size() >= 64) break;
  }
  return out;
}

struct Token {
  std::string value;
  std::chrono::seconds lifetime{0};
};

// Returns the token, or the reason the response is unusable.
std::variant<Token, std::string> parse_token_response(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::string("token endpoint response is not a JSON object");
  auto token = json.find("access_token");
  if (token == json.end() || !token->is_string() || !is_printable_token(token->get_ref<const std::string&>())) {
    return std::string("token endpoint response has no usable access_token");
  }
  if (auto type = json.find("token_type"); type != json.end()) {
    if (!type->is_string() || !iequals(type->get_ref<const std::string&>(), "bearer")) {
      return std::string("token endpoint issued a token that is not a Bearer token");
    }
  }
  Token out;
  out.value = token->get<std::string>();
  out.lifetime = kDefaultLifetime;
  if (auto exp = json.find("expires_in"); exp != json.end() && !exp->is_null()) {
    double seconds = 0;
    if (exp->is_number()) {
      seconds = exp->get<double>();
    } else if (exp->is_string()) {
      // Some servers send the number as a string.
      const auto& text = exp->get_ref<const std::string&>();
      if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
        return std::string("token endpoint response has an invalid expires_in");
      }
      seconds = std::stod(text);
    } else {
      return std::string("token endpoint response has an invalid expires_in");
    }
    if (!std::isfinite(seconds) || seconds < 0) return std::string("token endpoint response has an invalid expires_in");
    out.lifetime = std::chrono::seconds(static_cast<long long>(std::min(seconds, 10.0 * 365 * 24 * 3600)));
  }
  return out;
}

}  // namespace

struct OAuth2TokenSource::Impl : std::enable_shared_from_this<OAuth2TokenSource::Impl> {
  Impl(HttpClient& c, OAuth2ClientCredentials cr) : client(c), creds(std::move(cr)) {}

  HttpClient& client;
  const OAuth2ClientCredentials creds;
  std::mutex mu;
  std::string token;
  Clock::time_point refresh_at;
  bool fetching = false;
  std::vector<Callback> waiters;  // callers waiting on the fetch in flight

  void fetch() {
    ClientRequest req;
    req.method = http::Method::post;
    req.url = creds.token_url;
    req.body = "grant_type=client_credentials";
    if (!creds.scope.empty()) req.body += "&scope=" + form_encode(creds.scope);
    // RFC 6749 2.3.1: client id and secret are form-encoded before Basic encoding.
    req.headers.push_back(
        {"Authorization", "Basic " + base64(form_encode(creds.client_id) + ":" + form_encode(creds.client_secret))});
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"Accept", "application/json"});
    client.request(std::move(req), creds.tls,
                   [self = shared_from_this()](ClientResult r) { self->on_result(std::move(r)); });
  }

  void on_result(ClientResult r) {
    std::string error;
    Token fetched;
    if (!r.ok()) {
      error = "token request failed (" + std::string(client_error_kind_name(r.error->kind)) + "): " + r.error->message;
    } else if (r.response->status < 200 || r.response->status > 299) {
      error = "token endpoint returned HTTP " + std::to_string(r.response->status);
      std::string code = safe_error_code(nlohmann::json::parse(r.response->body, nullptr, false));
      if (!code.empty()) error += " (error: " + code + ")";
    } else {
      auto parsed = parse_token_response(r.response->body);
      if (auto* reason = std::get_if<std::string>(&parsed)) {
        error = std::move(*reason);
      } else {
        fetched = std::move(std::get<Token>(parsed));
      }
    }

    std::vector<Callback> to_call;
    {
      std::lock_guard lock(mu);
      fetching = false;
      to_call.swap(waiters);
      if (error.empty()) {
        token = fetched.value;
        // Refreshed 30 s early, or halfway through a token that lives less than a minute.
        auto margin = std::min<Clock::duration>(kRefreshMargin, fetched.lifetime / 2);
        refresh_at = Clock::now() + fetched.lifetime - margin;
      }
    }
    for (auto& cb : to_call) {
      if (error.empty()) {
        cb(fetched.value, {});
      } else {
        cb({}, error);
      }
    }
  }
};

OAuth2TokenSource::OAuth2TokenSource(HttpClient& client, OAuth2ClientCredentials creds)
    : impl_(std::make_shared<Impl>(client, std::move(creds))) {}

// A fetch in flight keeps Impl alive and still answers its waiters.
OAuth2TokenSource::~OAuth2TokenSource() = default;

// A cached token is handed over at once, on the calling thread; otherwise done
// runs on the client's loop when the fetch completes.
void OAuth2TokenSource::get(std::function<void(std::string token, std::string error)> done) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->token.empty() && Clock::now() < impl_->refresh_at) {
    std::string cached = impl_->token;
    lock.unlock();
    done(std::move(cached), {});
    return;
  }
  impl_->waiters.push_back(std::move(done));
  if (impl_->fetching) return;
  impl_->fetching = true;
  lock.unlock();
  impl_->fetch();
}

void OAuth2TokenSource::invalidate() {
  std::lock_guard lock(impl_->mu);
  impl_->token.clear();
}

}  // namespace o2gw::net
