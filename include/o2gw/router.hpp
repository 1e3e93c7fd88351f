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

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // GET routes also answer HEAD. Registering the same method+template twice throws.
  void add(http::Method method, std::string path_template, Handler handler);

  enum class Outcome { matched, not_found, method_not_allowed };
  struct Match {
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;
    std::string_view route;  // the template, stable for the router's lifetime
    PathParams params;
    std::string allow;  // for 405: "GET, HEAD"
  };
  [[nodiscard]] Match match(http::Method method, std::string_view path) const;

  // Every registered (method, template), for the OpenAPI coverage test and docs.
  [[nodiscard]] std::vector<std::pair<http::Method, std::string>> routes() const;

  // Dispatches: 404/405 problem responses, or the handler's response with route set.
  [[nodiscard]] http::Response dispatch(const http::Request& req) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  std::vector<std::unique_ptr<std::string>> templates_;
  std::vector<std::pair<http::Method, std::string>> route_list_;
};

}  // namespace o2gw
