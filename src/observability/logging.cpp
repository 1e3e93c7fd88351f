#include "o2gw/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <chrono>

#include "o2gw/auth.hpp"

namespace o2gw {

namespace {
std::shared_ptr<spdlog::logger>& access_logger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}
}  // namespace

void setup_logging(const std::string& level) {
  auto app = spdlog::stderr_logger_mt("o2gw");
  app->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  app->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(app);
  spdlog::flush_on(spdlog::level::info);
  // Access lines are queued and written by a background thread, off the I/O threads.
  spdlog::init_thread_pool(65536, 1);
  auto access = spdlog::create_async_nb<spdlog::sinks::stdout_sink_mt>("access");
  access->set_pattern("%v");
  access->set_level(spdlog::level::info);
  access_logger() = access;
  // Access lines reach a pipe or file within a second without a write(2) per request.
  spdlog::flush_every(std::chrono::seconds(1));
}

namespace {

// A token sent in the query string is refused, but the request is still
// logged: blank the value so the refused credential does not land in the log.
std::string loggable_target(const std::string& target) {
  auto q = target.find('?');
  if (q == std::string::npos || target.find("access_token", q) == std::string::npos) return target;
  std::string out = target.substr(0, q + 1);
  std::string_view rest = std::string_view(target).substr(q + 1);
  bool first = true;
  while (!rest.empty() || first) {
    auto amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    if (!first) out += '&';
    first = false;
    auto eq = param.find('=');
    if (param.substr(0, eq) == "access_token" && eq != std::string_view::npos) {
      out += "access_token=REDACTED";
    } else {
      out += param;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

void log_access(const http::Request& req, const http::Response& res, double seconds, std::string_view peer) {
  auto& logger = access_logger();
  if (!logger) return;
  auto now = std::chrono::system_clock::now();
  // Never log headers or bodies: they may carry credentials. The path and query are kept.
  nlohmann::json line = {
      {"ts", std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()},
      {"requestId", req.request_id},
      {"peer", peer},
      {"method", req.method_text},
      {"target", loggable_target(req.target)},
      {"route", res.route},
      {"status", res.status},
      {"bytes", res.body.size()},
      {"durationUs", static_cast<long long>(seconds * 1e6)},
  };
  if (req.principal) line["subject"] = req.principal->subject;
  logger->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void flush_logs() {
  access_logger().reset();
  // Drains the async queue and joins its thread, so no access line is lost at exit.
  spdlog::shutdown();
}

}  // namespace o2gw
