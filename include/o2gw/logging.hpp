// Process logging: human-readable application log on stderr, and a JSON access
// log line per request on stdout through an asynchronous spdlog logger.
#pragma once

#include <string>
#include <string_view>

#include "o2gw/http.hpp"

namespace o2gw {

void setup_logging(const std::string& level);
void log_access(const http::Request& req, const http::Response& res, double seconds, std::string_view peer);
void flush_logs();

}  // namespace o2gw
