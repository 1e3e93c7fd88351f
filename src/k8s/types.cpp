// Resource paths, errors and Status objects, typed core/v1 views, quantities
// and discovery documents: pure functions, no I/O.
#include <cmath>
#include <cstdlib>

#include "o2gw/http.hpp"
#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

using nlohmann::json;

namespace {

// A string member, or "" when absent or not a string (API objects are outside input).
std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it != j.end() ? *it : kNull;
}

std::map<std::string, std::string> string_map(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

std::string_view default_reason(int status) {
  switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return status >= 500 ? "InternalError" : "Unknown";
  }
}

// Printable ASCII only, at most `limit` characters: a non-Status error body (a
// proxy's HTML page) is shown, but cannot inject control characters into logs.
std::string printable_excerpt(std::string_view body, std::size_t limit) {
  std::string out;
  for (char c : body) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : ' ';
  }
  return out;
}

// net::client_error_kind_name lives with the HTTP client, which the fuzz build lacks.
std::string_view transport_kind(net::ClientError::Kind k) {
  using K = net::ClientError::Kind;
  switch (k) {
    case K::bad_url: return "bad_url";
    case K::refused_address: return "refused_address";
    case K::resolve: return "resolve";
    case K::connect: return "connect";
    case K::tls: return "tls";
    case K::timeout: return "timeout";
    case K::protocol: return "protocol";
  }
  return "unknown";
}

}  // namespace

// ---------------------------------------------------------------------------
// ResourceRef

std::string ResourceRef::api_version() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::path(std::string_view ns, std::string_view name) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    out += "/namespaces/";
    out += http::percent_encode(ns);
  }
  out += '/';
  out += resource;
  if (!name.empty()) {
    out += '/';
    out += http::percent_encode(name);
  }
  return out;
}

namespace resources {
namespace {
ResourceRef make(std::string group, std::string version, std::string resource, std::string kind, bool namespaced) {
  return {std::move(group), std::move(version), std::move(resource), std::move(kind), namespaced};
}
}  // namespace
ResourceRef nodes() {
  return make("", "v1", "nodes", "Node", false);
}
ResourceRef namespaces() {
  return make("", "v1", "namespaces", "Namespace", false);
}
ResourceRef pods() {
  return make("", "v1", "pods", "Pod", true);
}
ResourceRef config_maps() {
  return make("", "v1", "configmaps", "ConfigMap", true);
}
ResourceRef secrets() {
  return make("", "v1", "secrets", "Secret", true);
}
ResourceRef services() {
  return make("", "v1", "services", "Service", true);
}
ResourceRef openshift_machine_sets() {
  return make("machine.openshift.io", "v1beta1", "machinesets", "MachineSet", true);
}
ResourceRef openshift_machines() {
  return make("machine.openshift.io", "v1beta1", "machines", "Machine", true);
}
ResourceRef capi_machine_deployments() {
  return make("cluster.x-k8s.io", "v1beta1", "machinedeployments", "MachineDeployment", true);
}
ResourceRef capi_machine_sets() {
  return make("cluster.x-k8s.io", "v1beta1", "machinesets", "MachineSet", true);
}
ResourceRef capi_machines() {
  return make("cluster.x-k8s.io", "v1beta1", "machines", "Machine", true);
}
}  // namespace resources

std::vector<ResourceRef> parse_api_resources(const json& list) {
  std::vector<ResourceRef> out;
  std::string gv = str(list, "groupVersion");
  std::string group;
  std::string version = gv;
  if (auto slash = gv.find('/'); slash != std::string::npos) {
    group = gv.substr(0, slash);
    version = gv.substr(slash + 1);
  }
  const json& items = member(list, "resources");
  if (!items.is_array()) return out;
  for (const auto& r : items) {
    std::string name = str(r, "name");
    std::string kind = str(r, "kind");
    // "nodes/status", "pods/log": subresources, not something to list or watch.
    if (name.empty() || kind.empty() || name.find('/') != std::string::npos) continue;
    ResourceRef ref;
    // A resource may live in another group than the list's (rare; discovery says so).
    ref.group = r.contains("group") && r["group"].is_string() ? r["group"].get<std::string>() : group;
    ref.version = r.contains("version") && r["version"].is_string() ? r["version"].get<std::string>() : version;
    ref.resource = std::move(name);
    ref.kind = std::move(kind);
    const json& ns = member(r, "namespaced");
    ref.namespaced = ns.is_boolean() && ns.get<bool>();
    out.push_back(std::move(ref));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Errors

std::string Error::describe() const {
  if (transport) {
    return "request failed (" + std::string(transport_kind(transport->kind)) + "): " + message;
  }
  std::string out = "HTTP " + std::to_string(status);
  if (!reason.empty()) out += " " + reason;
  if (!message.empty()) out += ": " + message;
  return out;
}

Error error_from_status(const json& status, int fallback_status) {
  Error e;
  const json& code = member(status, "code");
  e.status = code.is_number_integer() && code.get<std::int64_t>() >= 100 && code.get<std::int64_t>() < 600
                 ? static_cast<int>(code.get<std::int64_t>())
                 : fallback_status;
  e.reason = str(status, "reason");
  if (e.reason.empty()) e.reason = std::string(default_reason(e.status));
  e.message = printable_excerpt(str(status, "message"), 1024);
  const json& retry = member(member(status, "details"), "retryAfterSeconds");
  if (retry.is_number_integer() && retry.get<std::int64_t>() > 0 && retry.get<std::int64_t>() < 3600) {
    e.retry_after_seconds = static_cast<int>(retry.get<std::int64_t>());
  }
  return e;
}

Error error_from_response(int status, std::string_view body) {
  json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && str(parsed, "kind") == "Status") {
    Error e = error_from_status(parsed, status);
    e.status = status;  // the HTTP status is authoritative for the caller's checks
    return e;
  }
  Error e;
  e.status = status;
  e.reason = std::string(default_reason(status));
  e.message = body.empty() ? "the server returned HTTP " + std::to_string(status) + " without a Status"
                           : printable_excerpt(body, 200);
  return e;
}

Error error_from_transport(const net::ClientError& t) {
  Error e;
  e.transport = t;
  e.message = t.message;
  return e;
}

// ---------------------------------------------------------------------------
// Typed views

ObjectMeta ObjectMeta::from(const json& object) {
  const json& m = member(object, "metadata");
  ObjectMeta out;
  out.name = str(m, "name");
  out.ns = str(m, "namespace");
  out.uid = str(m, "uid");
  out.resource_version = str(m, "resourceVersion");
  out.labels = string_map(member(m, "labels"));
  out.annotations = string_map(member(m, "annotations"));
  return out;
}

bool Node::ready() const {
  for (const auto& c : conditions) {
    if (c.type == "Ready") return c.status == "True";
  }
  return false;
}

Node Node::from(const json& object) {
  Node n;
  n.metadata = ObjectMeta::from(object);
  const json& spec = member(object, "spec");
  n.provider_id = str(spec, "providerID");
  const json& unschedulable = member(spec, "unschedulable");
  n.unschedulable = unschedulable.is_boolean() && unschedulable.get<bool>();
  if (const json& taints = member(spec, "taints"); taints.is_array()) {
    for (const auto& t : taints) n.taints.push_back({str(t, "key"), str(t, "value"), str(t, "effect")});
  }
  const json& status = member(object, "status");
  n.capacity = string_map(member(status, "capacity"));
  n.allocatable = string_map(member(status, "allocatable"));
  if (const json& conditions = member(status, "conditions"); conditions.is_array()) {
    for (const auto& c : conditions) {
      n.conditions.push_back(
          {str(c, "type"), str(c, "status"), str(c, "reason"), str(c, "message"), str(c, "lastTransitionTime")});
    }
  }
  if (const json& addresses = member(status, "addresses"); addresses.is_array()) {
    for (const auto& a : addresses) n.addresses.push_back({str(a, "type"), str(a, "address")});
  }
  const json& info = member(status, "nodeInfo");
  n.machine_id = str(info, "machineID");
  n.system_uuid = str(info, "systemUUID");
  n.boot_id = str(info, "bootID");
  n.kernel_version = str(info, "kernelVersion");
  n.os_image = str(info, "osImage");
  n.container_runtime_version = str(info, "containerRuntimeVersion");
  n.kubelet_version = str(info, "kubeletVersion");
  n.operating_system = str(info, "operatingSystem");
  n.architecture = str(info, "architecture");
  return n;
}

std::string object_key(const json& object) {
  const json& m = member(object, "metadata");
  std::string ns = str(m, "namespace");
  std::string name = str(m, "name");
  return ns.empty() ? name : ns + "/" + name;
}

// ---------------------------------------------------------------------------
// Quantities: <signedNumber><suffix>, suffix one of the binary (Ki..Ei), decimal
// (n u m "" k M G T P E) or exponent (e3, E-2) forms of the Kubernetes grammar.

std::optional<double> parse_quantity(std::string_view q) {
  if (q.empty() || q.size() > 64) return std::nullopt;
  std::size_t i = 0;
  if (q[i] == '+' || q[i] == '-') ++i;
  std::size_t digits = 0;
  std::size_t dots = 0;
  std::size_t number_end = i;
  while (number_end < q.size() && ((q[number_end] >= '0' && q[number_end] <= '9') || q[number_end] == '.')) {
    if (q[number_end] == '.') {
      ++dots;
    } else {
      ++digits;
    }
    ++number_end;
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  // strtod on a bounded copy: it must not read a suffix such as "e3" itself, nor hex or "inf".
  std::string number(q.substr(0, number_end));
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;

  std::string_view suffix = q.substr(number_end);
  double scale = 1;
  if (suffix.empty()) {
    scale = 1;
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    auto pos = kBinary.find(suffix[0]);
    if (pos == std::string_view::npos) return std::nullopt;
    scale = std::ldexp(1.0, 10 * static_cast<int>(pos + 1));
  } else if (suffix.size() == 1 && std::string_view("numkMGTPE").find(suffix[0]) != std::string_view::npos) {
    switch (suffix[0]) {
      case 'n': scale = 1e-9; break;
      case 'u': scale = 1e-6; break;
      case 'm': scale = 1e-3; break;
      case 'k': scale = 1e3; break;
      case 'M': scale = 1e6; break;
      case 'G': scale = 1e9; break;
      case 'T': scale = 1e12; break;
      case 'P': scale = 1e15; break;
      case 'E': scale = 1e18; break;
      default: return std::nullopt;
    }
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    // "1E" alone is exa (above); "1e3" / "1E-2" an exponent.
    std::string_view exp = suffix.substr(1);
    std::size_t j = 0;
    bool negative = false;
    if (j < exp.size() && (exp[j] == '+' || exp[j] == '-')) negative = exp[j++] == '-';
    if (j == exp.size() || exp.size() - j > 4) return std::nullopt;
    int e = 0;
    for (; j < exp.size(); ++j) {
      if (exp[j] < '0' || exp[j] > '9') return std::nullopt;
      e = e * 10 + (exp[j] - '0');
    }
    scale = std::pow(10.0, negative ? -e : e);
  } else {
    return std::nullopt;
  }
  double out = value * scale;
  if (!std::isfinite(out)) return std::nullopt;
  return out;
}

}  // namespace o2gw::k8s
