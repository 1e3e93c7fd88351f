#include "o2gw/problem.hpp"

#include <nlohmann/json.hpp>

namespace o2gw {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Client Error" : "Server Error";
  }
}

http::Response problem_response(std::string_view instance, std::string_view request_id, int status,
                                std::string detail) {
  nlohmann::json body = {
      {"type", "about:blank"},
      {"title", std::string(reason_phrase(status))},
      {"status", status},
      {"detail", std::move(detail)},
      {"instance", std::string(instance)},
  };
  if (!request_id.empty()) {
    body["additionalAttributes"] = {{"requestId", std::string(request_id)}};
  }
  http::Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  // Replace invalid UTF-8 from client input rather than throwing.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

http::Response problem_response(const http::Request& req, const Problem& p) {
  auto r = problem_response(req.path, req.request_id, p.status, p.detail);
  return r;
}

http::Response problem_response(const http::Request& req, int status, std::string detail) {
  return problem_response(req.path, req.request_id, status, std::move(detail));
}

}  // namespace o2gw
