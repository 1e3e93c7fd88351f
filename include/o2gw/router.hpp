// Router on method + path template ("/a/{id}/b"). Matching is by segments; a
// single trailing slash is tolerated. Results distinguish "no such path" (404)
// from "path exists, method not allowed" (405 with Allow).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "o2gw/http.hpp"

namespace o2gw {

struct PathParams {
  std::vector<std::pair<std::string_view, std::string>> values;
  [[nodiscard]] const std::string& get(std::string_view name) const;
};

using Handler = std::function<http::Response(const http::Request&, const PathParams&)>;
// Completes a request whose handler must wait (a database write, an outbound check).
// Call it exactly once, from any thread; the session resumes on its own strand.
using Responder = std::function<void(http::Response)>;
using AsyncHandler = std::function<void(const http::Request&, const PathParams&, Responder)>;

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // GET routes also answer HEAD. Registering the same method+template twice throws.
  void add(http::Method method, std::string path_template, Handler handler);
  // A handler that answers later through its Responder (it must not block the I/O thread).
  void add_async(http::Method method, std::string path_template, AsyncHandler handler);

  enum class Outcome { matched, not_found, method_not_allowed };
  struct Match {
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;              // set for synchronous routes
    const AsyncHandler* async_handler = nullptr;  // set for asynchronous routes
    std::string_view route;  // the template, stable for the router's lifetime
    PathParams params;
    std::string allow;  // for 405: "GET, HEAD"
  };
  [[nodiscard]] Match match(http::Method method, std::string_view path) const;

  // Every registered (method, template), for the OpenAPI coverage test and docs.
  [[nodiscard]] std::vector<std::pair<http::Method, std::string>> routes() const;

  // Dispatches: 404/405 problem responses, or the handler's response with route set.
  // Asynchronous routes must complete before their handler returns here, else 500.
  [[nodiscard]] http::Response dispatch(const http::Request& req) const;
  // Dispatches any route; `done` runs exactly once (for synchronous routes, before this returns).
  void dispatch_async(const http::Request& req, Responder done) const;
  // The same, for a request already matched (the security gate matches first to find the route's roles).
  void dispatch_matched(const http::Request& req, Match m, Responder done) const;

 private:
  struct Node;
  [[nodiscard]] http::Response respond(const http::Request& req, const Match& m) const;
  void add_entry(http::Method method, std::string path_template, Handler handler, AsyncHandler async);
  std::unique_ptr<Node> root_;
  std::vector<std::unique_ptr<std::string>> templates_;
  std::vector<std::pair<http::Method, std::string>> route_list_;
};

}  // namespace o2gw
