// Alertmanager webhook payloads -> AlarmSink reports and clears.
#include "o2gw/alertmanager.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "o2gw/inventory.hpp"
#include "o2gw/problem.hpp"

namespace o2gw {

namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One field check; on failure `error` holds the public reason.
struct Checker {
  const AlertmanagerLimits& limits;
  std::string error;

  bool fail(std::string reason) {
    error = std::move(reason);
    return false;
  }
  bool string_at(const json& obj, const char* key, const std::string& where, std::string& out, bool required) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return required ? fail(where + key + ": required") : true;
    }
    if (!it->is_string()) return fail(where + key + ": must be a string");
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > limits.max_string) return fail(where + key + ": longer than " + std::to_string(limits.max_string));
    out = s;
    return true;
  }
  bool string_map_at(const json& obj, const char* key, const std::string& where,
                     std::map<std::string, std::string>& out, bool required) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return required ? fail(where + key + ": required") : true;
    }
    if (!it->is_object()) return fail(where + key + ": must be an object of strings");
    if (it->size() > limits.max_labels) {
      return fail(where + key + ": more than " + std::to_string(limits.max_labels) + " entries");
    }
    for (const auto& [name, value] : it->items()) {
      if (!value.is_string()) return fail(where + key + "." + name + ": must be a string");
      const auto& s = value.get_ref<const std::string&>();
      if (s.size() > limits.max_string || name.size() > limits.max_string) {
        return fail(where + key + "." + name + ": longer than " + std::to_string(limits.max_string));
      }
      out.emplace(name, s);
    }
    return true;
  }
  bool status_at(const json& obj, const std::string& where, bool& firing) {
    std::string status;
    if (!string_at(obj, "status", where, status, true)) return false;
    if (status == "firing") {
      firing = true;
    } else if (status == "resolved") {
      firing = false;
    } else {
      return fail(where + "status: must be \"firing\" or \"resolved\"");
    }
    return true;
  }
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string host_part(std::string_view v) {
  if (v.starts_with('[')) {
    auto close = v.find(']');
    return close == std::string_view::npos ? std::string() : std::string(v.substr(1, close - 1));
  }
  auto colon = v.rfind(':');
  if (colon == std::string_view::npos || v.find(':') != colon) return {};  // no port, or a bare IPv6 address
  return std::string(v.substr(0, colon));
}

}  // namespace

std::variant<AlertmanagerPayload, std::string> parse_alertmanager_payload(std::string_view body,
                                                                          const AlertmanagerLimits& limits) {
  if (body.size() > limits.max_alerts * 4096 + 65536) return std::string("the payload is too large");
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return std::string("the request body is not valid JSON");
  if (!doc.is_object()) return std::string("the request body must be a JSON object (an Alertmanager webhook payload)");
  Checker check{limits, {}};
  AlertmanagerPayload out;
  std::string version;
  if (!check.string_at(doc, "version", "", version, true)) return check.error;
  if (version != "4")
    return std::string("version: \"" + version.substr(0, 16) + "\" is not supported (expected \"4\")");
  if (!check.string_at(doc, "groupKey", "", out.group_key, true) ||
      !check.string_at(doc, "receiver", "", out.receiver, true) || !check.status_at(doc, "", out.firing)) {
    return check.error;
  }
  std::map<std::string, std::string> ignored;
  for (const char* key : {"groupLabels", "commonLabels", "commonAnnotations"}) {
    ignored.clear();
    if (!check.string_map_at(doc, key, "", ignored, false)) return check.error;
  }
  std::string external_url;
  if (!check.string_at(doc, "externalURL", "", external_url, false)) return check.error;
  if (auto t = doc.find("truncatedAlerts"); t != doc.end() && !t->is_null() && !t->is_number_integer()) {
    return std::string("truncatedAlerts: must be an integer");
  }
  auto alerts = doc.find("alerts");
  if (alerts == doc.end() || alerts->is_null()) return std::string("alerts: required");
  if (!alerts->is_array()) return std::string("alerts: must be an array");
  if (alerts->size() > limits.max_alerts) {
    return std::string("alerts: more than " + std::to_string(limits.max_alerts) + " alerts");
  }
  out.alerts.reserve(alerts->size());
  for (std::size_t i = 0; i < alerts->size(); ++i) {
    const json& a = (*alerts)[i];
    const std::string where = "alerts[" + std::to_string(i) + "].";
    if (!a.is_object()) return "alerts[" + std::to_string(i) + "]: must be an object";
    AlertmanagerAlert alert;
    if (!check.status_at(a, where, alert.firing) || !check.string_map_at(a, "labels", where, alert.labels, true) ||
        !check.string_map_at(a, "annotations", where, alert.annotations, false) ||
        !check.string_at(a, "startsAt", where, alert.starts_at, false) ||
        !check.string_at(a, "endsAt", where, alert.ends_at, false) ||
        !check.string_at(a, "generatorURL", where, alert.generator_url, false) ||
        !check.string_at(a, "fingerprint", where, alert.fingerprint, false)) {
      return check.error;
    }
    if (!alert.starts_at.empty() && !parse_alert_time(alert.starts_at) && !alert.starts_at.starts_with("0001-")) {
      return where + "startsAt: not an RFC 3339 date-time between 1970 and 2262";
    }
    if (alert.fingerprint.empty()) alert.fingerprint = alertmanager_label_fingerprint(alert.labels);
    out.alerts.push_back(std::move(alert));
  }
  return out;
}

std::string alertmanager_label_fingerprint(const std::map<std::string, std::string>& labels) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator no label byte sequence can produce on its own
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : labels) {
    mix(k);
    mix(v);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 0xf];
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_alert_time(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (at < s.size() && s[at] == '.') {
    ++at;
    int n = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      if (n < 9) {
        nanos = nanos * 10 + (s[at] - '0');
        ++n;
      }
      ++at;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  if (at >= s.size()) return std::nullopt;
  std::int64_t offset = 0;
  if (s[at] == 'Z' || s[at] == 'z') {
    ++at;
  } else if (s[at] == '+' || s[at] == '-') {
    int oh = 0, om = 0;
    if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' || !digits(s, at + 4, 2, om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset = (s[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  const std::int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                            hour * 3600 + minute * 60 + second - offset;
  // system_clock counts nanoseconds in 64 bits: years past 2262 do not fit.
  constexpr std::int64_t kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 1;
  if (secs < 0 || secs > kMaxSeconds) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

Severity map_alert_severity(const AlertmanagerConfig& config, std::string_view value) {
  const std::string key = lower(value);
  for (const auto& [name, severity] : config.severity_map) {
    if (lower(name) == key) {
      return severity >= 0 && severity <= 4 ? static_cast<Severity>(severity) : Severity::indeterminate;
    }
  }
  return Severity::indeterminate;
}

// ---------------------------------------------------------------------------

struct AlertResourceResolver::Impl {
  static constexpr auto kRebuildEvery = std::chrono::seconds(5);
  Impl(const InventoryCache& c, const AlertmanagerConfig& cfg) : cache(c), config(cfg) {}
  const InventoryCache& cache;
  const AlertmanagerConfig& config;
  std::mutex mu;
  // name -> (rank, resource id); lower rank wins.
  std::unordered_map<std::string, std::pair<int, std::string>> by_name;
  std::chrono::steady_clock::time_point built{};
  bool ever_built = false;

  void rebuild() {
    by_name.clear();
    auto put = [this](const json& v, int rank, const std::string& id) {
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) return;
      auto [it, inserted] = by_name.try_emplace(v.get<std::string>(), rank, id);
      if (!inserted && rank < it->second.first) it->second = {rank, id};
    };
    cache.visit(Kind::resource, [&](const InventoryObject& o) {
      const json& doc = o.doc;
      if (auto e = doc.find("extensions"); e != doc.end() && e->is_object()) {
        auto node = e->find("nodeName");
        auto name = e->find("name");
        // A Kubernetes node carries only nodeName; a machine carries its own name and its node's.
        if (node != e->end()) put(*node, name == e->end() ? 0 : 2, o.id);
        if (name != e->end()) put(*name, 1, o.id);
      }
      if (auto g = doc.find("globalAssetId"); g != doc.end()) put(*g, 3, o.id);
    });
    built = std::chrono::steady_clock::now();
    ever_built = true;
  }

  std::string by_value(const std::string& value) {
    if (value.empty()) return {};
    if (cache.get(Kind::resource, value)) return value;
    auto it = by_name.find(value);
    if (it == by_name.end()) {
      std::string host = host_part(value);
      if (!host.empty()) it = by_name.find(host);
    }
    if (it == by_name.end() || !cache.get(Kind::resource, it->second.second)) return {};
    return it->second.second;
  }

  std::string resolve_once(const std::map<std::string, std::string>& labels) {
    for (const auto& label : config.resource_labels) {
      auto it = labels.find(label);
      if (it == labels.end()) continue;
      if (std::string id = by_value(it->second); !id.empty()) return id;
    }
    return {};
  }
};

AlertResourceResolver::AlertResourceResolver(const InventoryCache& cache, const AlertmanagerConfig& config)
    : impl_(std::make_unique<Impl>(cache, config)) {}
AlertResourceResolver::~AlertResourceResolver() = default;

std::string AlertResourceResolver::resolve(const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(impl_->mu);
  if (!impl_->ever_built) impl_->rebuild();
  std::string id = impl_->resolve_once(labels);
  if (id.empty() && std::chrono::steady_clock::now() - impl_->built >= Impl::kRebuildEvery) {
    impl_->rebuild();
    id = impl_->resolve_once(labels);
  }
  return id;
}

// ---------------------------------------------------------------------------

struct AlertmanagerReceiver::Impl {
  static constexpr std::size_t kMaxLoggedKeys = 10'000;
  AlarmSink& sink;
  AlertmanagerConfig config;
  AlertResourceResolver resolver;
  std::mutex logged_mu;
  std::unordered_set<std::string> logged_unmapped;

  Impl(AlarmSink& s, const InventoryCache& cache, AlertmanagerConfig c)
      : sink(s), config(std::move(c)), resolver(cache, config) {}

  void log_unmapped(const std::string& key, std::string_view alertname, std::string_view why) {
    std::lock_guard lock(logged_mu);
    if (logged_unmapped.size() >= kMaxLoggedKeys) logged_unmapped.clear();
    if (!logged_unmapped.insert(key).second) return;
    // Labels and annotations may carry anything; only the key, name and reason are logged.
    spdlog::warn("alertmanager alert {} ({}) not raised as an alarm: {}", key, alertname.substr(0, 128), why);
  }
  void forget_unmapped(const std::string& key) {
    std::lock_guard lock(logged_mu);
    logged_unmapped.erase(key);
  }
};

AlertmanagerReceiver::AlertmanagerReceiver(AlarmSink& sink, const InventoryCache& cache, AlertmanagerConfig config)
    : impl_(std::make_unique<Impl>(sink, cache, std::move(config))) {}
AlertmanagerReceiver::~AlertmanagerReceiver() = default;

const AlertmanagerConfig& AlertmanagerReceiver::config() const {
  return impl_->config;
}

std::optional<AlarmReport> AlertmanagerReceiver::to_report(const AlertmanagerAlert& alert,
                                                           const std::string& receiver) {
  const AlertmanagerConfig& cfg = impl_->config;
  AlarmReport r;
  r.source = std::string(kAlertmanagerSource);
  r.key = alert.fingerprint;
  r.resource_id = impl_->resolver.resolve(alert.labels);
  if (r.resource_id.empty()) return std::nullopt;
  if (auto d = alert.labels.find(cfg.definition_label); d != alert.labels.end()) r.definition = d->second;
  auto s = alert.labels.find(cfg.severity_label);
  r.severity = s == alert.labels.end() ? Severity::indeterminate : map_alert_severity(cfg, s->second);
  // endsAt is left out on purpose: Alertmanager moves it on every repeat of a
  // firing alert, and a changed extension would be a CHANGE notification.
  r.extensions =
      json{{"labels", alert.labels},      {"annotations", alert.annotations}, {"generatorURL", alert.generator_url},
           {"startsAt", alert.starts_at}, {"fingerprint", alert.fingerprint}, {"receiver", receiver}};
  r.since = parse_alert_time(alert.starts_at);
  return r;
}

AlertmanagerOutcome AlertmanagerReceiver::apply(const AlertmanagerPayload& payload) {
  AlertmanagerOutcome out;
  const std::string& def_label = impl_->config.definition_label;
  for (const auto& alert : payload.alerts) {
    auto name_it = alert.labels.find(def_label);
    std::string_view name = name_it == alert.labels.end() ? std::string_view("-") : std::string_view(name_it->second);
    if (!alert.firing) {
      impl_->sink.clear(kAlertmanagerSource, alert.fingerprint);
      impl_->forget_unmapped(alert.fingerprint);
      ++out.cleared;
      continue;
    }
    auto report = to_report(alert, payload.receiver);
    if (!report) {
      ++out.unmapped;
      impl_->log_unmapped(alert.fingerprint, name, "no resource matches its labels");
      continue;
    }
    if (auto rejected = impl_->sink.raise(*report)) {
      ++out.unmapped;
      impl_->log_unmapped(alert.fingerprint, name, rejected->reason);
      continue;
    }
    impl_->forget_unmapped(alert.fingerprint);
    ++out.raised;
  }
  return out;
}

// ---------------------------------------------------------------------------

namespace {

bool json_media_type(std::string_view ct) {
  if (ct.empty()) return true;
  std::string type = lower(ct.substr(0, ct.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json" || (type.starts_with("application/") && type.ends_with("+json"));
}

bool bearer_matches(std::string_view header, const std::string& token) {
  if (header.size() < 7 || lower(header.substr(0, 7)) != "bearer ") {
    // Compare anyway so a missing header costs the same as a wrong one.
    (void)constant_time_equal(token, token);
    return false;
  }
  std::string_view presented = header.substr(7);
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return constant_time_equal(presented, token);
}

}  // namespace

void register_alertmanager_receiver(Router& router, AlarmSink& sink, const InventoryCache& cache,
                                    const AlertmanagerConfig& config, Metrics* /*metrics*/, WorkPoster post_work) {
  if (!config.enabled) return;
  auto receiver = std::make_shared<AlertmanagerReceiver>(sink, cache, config);
  // The checks that need no store; a payload on success.
  auto admit = [receiver](const http::Request& req) -> std::variant<AlertmanagerPayload, http::Response> {
    const std::string& token = receiver->config().token;
    if (!token.empty() && !bearer_matches(req.header("Authorization"), token)) {
      http::Response r =
          problem_response(req, Problem{401, "Unauthorized", "a valid bearer token is required to post alerts"});
      r.set_header("WWW-Authenticate", R"(Bearer realm="o2gw-alertmanager")");
      return r;
    }
    if (!json_media_type(req.header("Content-Type"))) {
      return problem_response(req, Problem{415, "Unsupported Media Type", "the request body must be application/json"});
    }
    auto parsed = parse_alertmanager_payload(req.body);
    if (auto* error = std::get_if<std::string>(&parsed)) {
      return problem_response(req, Problem{400, "Bad Request", *error});
    }
    return std::move(std::get<AlertmanagerPayload>(parsed));
  };
  auto summary = [](const AlertmanagerOutcome& o) {
    http::Response r;
    r.body = json{{"raised", o.raised}, {"cleared", o.cleared}, {"unmapped", o.unmapped}}.dump();
    return r;
  };
  const std::string path(kAlertmanagerReceiverPath);
  if (!post_work) {
    router.add(http::Method::post, path, [receiver, admit, summary](const http::Request& req, const PathParams&) {
      auto admitted = admit(req);
      if (auto* refused = std::get_if<http::Response>(&admitted)) return std::move(*refused);
      return summary(receiver->apply(std::get<AlertmanagerPayload>(admitted)));
    });
    return;
  }
  router.add_async(
      http::Method::post, path,
      [receiver, admit, summary, post_work](const http::Request& req, const PathParams&, Responder respond) {
        auto admitted = admit(req);
        if (auto* refused = std::get_if<http::Response>(&admitted)) {
          respond(std::move(*refused));
          return;
        }
        auto payload = std::make_shared<AlertmanagerPayload>(std::move(std::get<AlertmanagerPayload>(admitted)));
        post_work(
            [receiver, summary, payload, respond = std::move(respond), path = req.path, request_id = req.request_id] {
              try {
                respond(summary(receiver->apply(*payload)));
              } catch (const std::exception& e) {
                // Alertmanager retries a 5xx, so nothing is lost.
                spdlog::error("alertmanager receiver: applying alerts failed: {}", e.what());
                respond(problem_response(path, request_id, 500, "the alerts could not be stored; retry"));
              }
            });
      });
}

}  // namespace o2gw
