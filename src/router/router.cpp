#include "o2gw/router.hpp"

#include <map>
#include <optional>
#include <stdexcept>

#include "o2gw/problem.hpp"

namespace o2gw {

namespace {
const std::string kEmpty;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segs;
  if (path.empty() || path.front() != '/') return segs;
  path.remove_prefix(1);
  // A single trailing slash is tolerated: "/a/b/" matches "/a/b".
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return segs;
  while (true) {
    auto slash = path.find('/');
    segs.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segs;
}
}  // namespace

const std::string& PathParams::get(std::string_view name) const {
  for (const auto& [k, v] : values) {
    if (k == name) return v;
  }
  return kEmpty;
}

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literal;
  std::unique_ptr<Node> param;  // one parameter child per position
  std::string param_name;
  struct Entry {
    Handler handler;
    AsyncHandler async;
    std::string_view route;
  };
  std::map<http::Method, Entry> handlers;
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(http::Method method, std::string path_template, Handler handler) {
  add_entry(method, std::move(path_template), std::move(handler), nullptr);
}

void Router::add_async(http::Method method, std::string path_template, AsyncHandler handler) {
  add_entry(method, std::move(path_template), nullptr, std::move(handler));
}

void Router::add_entry(http::Method method, std::string path_template, Handler handler, AsyncHandler async) {
  templates_.push_back(std::make_unique<std::string>(std::move(path_template)));
  const std::string& tmpl = *templates_.back();
  Node* node = root_.get();
  for (std::string_view seg : split_path(tmpl)) {
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      std::string name(seg.substr(1, seg.size() - 2));
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param_name = name;
      } else if (node->param_name != name) {
        throw std::logic_error("conflicting parameter names at " + tmpl);
      }
      node = node->param.get();
    } else {
      auto it = node->literal.find(seg);
      if (it == node->literal.end()) {
        it = node->literal.emplace(std::string(seg), std::make_unique<Node>()).first;
      }
      node = it->second.get();
    }
  }
  if (node->handlers.count(method) != 0) {
    throw std::logic_error("duplicate route " + std::string(http::method_name(method)) + " " + tmpl);
  }
  node->handlers[method] = Node::Entry{std::move(handler), std::move(async), tmpl};
  route_list_.emplace_back(method, tmpl);
}

Router::Match Router::match(http::Method method, std::string_view path) const {
  Match m;
  const Node* node = root_.get();
  auto segs = split_path(path);
  if (path.empty() || path.front() != '/') return m;
  for (std::string_view seg : segs) {
    // Literal segments win over parameters: "/resourceTypes/x/alarmDictionary".
    auto it = node->literal.find(seg);
    if (it != node->literal.end()) {
      node = it->second.get();
    } else if (node->param && !seg.empty()) {
      m.params.values.emplace_back(node->param_name, std::string(seg));
      node = node->param.get();
    } else {
      return m;
    }
  }
  if (node->handlers.empty()) return m;
  auto want = method == http::Method::head ? http::Method::get : method;
  auto it = node->handlers.find(method);
  if (it == node->handlers.end()) it = node->handlers.find(want);
  if (it != node->handlers.end()) {
    m.outcome = Outcome::matched;
    if (it->second.async) {
      m.async_handler = &it->second.async;
    } else {
      m.handler = &it->second.handler;
    }
    m.route = it->second.route;
    return m;
  }
  m.outcome = Outcome::method_not_allowed;
  m.route = node->handlers.begin()->second.route;
  for (const auto& [meth, entry] : node->handlers) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += http::method_name(meth);
    if (meth == http::Method::get) m.allow += ", HEAD";
  }
  return m;
}

std::vector<std::pair<http::Method, std::string>> Router::routes() const { return route_list_; }

http::Response Router::dispatch(const http::Request& req) const {
  std::optional<http::Response> out;
  dispatch_async(req, [&out](http::Response r) { out = std::move(r); });
  if (!out) return problem_response(req, 500, "internal error: the handler did not complete synchronously");
  return std::move(*out);
}

void Router::dispatch_async(const http::Request& req, Responder done) const {
  dispatch_matched(req, match(req.method, req.path), std::move(done));
}

void Router::dispatch_matched(const http::Request& req, Match m, Responder done) const {
  if (m.outcome == Outcome::matched && m.async_handler != nullptr) {
    std::string_view route = m.route;
    (*m.async_handler)(req, m.params, [route, done = std::move(done)](http::Response r) {
      r.route = route;
      done(std::move(r));
    });
    return;
  }
  done(respond(req, m));
}

http::Response Router::respond(const http::Request& req, const Match& m) const {
  switch (m.outcome) {
    case Outcome::matched: {
      http::Response r = (*m.handler)(req, m.params);
      r.route = m.route;
      return r;
    }
    case Outcome::method_not_allowed: {
      auto r = problem_response(req, 405,
                                "method " + req.method_text + " is not allowed on this resource; allowed: " +
                                    m.allow);
      r.set_header("Allow", m.allow);
      r.route = m.route;
      return r;
    }
    case Outcome::not_found:
      break;
  }
  return problem_response(req, 404, "no resource at this path");
}

}  // namespace o2gw
