#include "o2gw/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <chrono>

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
      {"target", req.target},
      {"route", res.route},
      {"status", res.status},
      {"bytes", res.body.size()},
      {"durationUs", static_cast<long long>(seconds * 1e6)},
  };
  logger->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void flush_logs() {
  access_logger().reset();
  // Drains the async queue and joins its thread, so no access line is lost at exit.
  spdlog::shutdown();
}

}  // namespace o2gw
