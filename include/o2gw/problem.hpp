// RFC 9457 / O-RAN ProblemDetails responses: the one way a request fails.
#pragma once

#include <string>
#include <string_view>

#include "o2gw/http.hpp"

namespace o2gw {

struct Problem {
  int status = 500;
  std::string title;   // short, stable per status
  std::string detail;  // public, specific to this occurrence; never internal state
};

std::string_view reason_phrase(int status);

// Builds an application/problem+json response carrying status, title, detail,
// instance (the request path) and the request id.
http::Response problem_response(const http::Request& req, const Problem& p);
http::Response problem_response(const http::Request& req, int status, std::string detail);

// Same, for callers that have no parsed request (malformed request line, oversized header).
http::Response problem_response(std::string_view instance, std::string_view request_id, int status,
                                std::string detail);

}  // namespace o2gw
