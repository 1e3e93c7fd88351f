#include "ims/kubernetes/kubernetes_options.hpp"

#include <cctype>

#include "o2gw/config.hpp"

namespace o2gw::ims {
namespace {

bool alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// A label name (the part after the optional prefix).
bool is_label_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// A DNS-1123 subdomain: lower-case labels of alphanumerics and '-' joined by '.'.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 63 || part.front() == '-' || part.back() == '-') return false;
    for (char c : part) {
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
        return false;
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace

bool is_label_key(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return is_label_name(key);
  return is_dns_subdomain(key.substr(0, slash)) && is_label_name(key.substr(slash + 1));
}

KubernetesOptions KubernetesOptions::parse(const nlohmann::json& config, const std::string& instance_name) {
  SectionReader reader(config, "");
  KubernetesOptions o;
  const bool has_kubeconfig = reader.has("kubeconfig");
  const std::string kubeconfig = reader.string("kubeconfig", "");
  o.in_cluster = reader.boolean("in_cluster", false);
  if (o.in_cluster && has_kubeconfig) {
    throw ConfigError(reader.path("kubeconfig"), "set either kubeconfig or in_cluster: true, not both");
  }
  if (!o.in_cluster && kubeconfig.empty()) {
    throw ConfigError(reader.path("kubeconfig"),
                      "is required (the path of a kubeconfig file), unless in_cluster: true");
  }
  o.kubeconfig = kubeconfig;
  o.context = reader.string("context", "");
  if (o.in_cluster && !o.context.empty()) {
    throw ConfigError(reader.path("context"), "only applies to a kubeconfig, not to in_cluster: true");
  }

  o.pool_label = reader.string("pool_label", std::string(kDefaultPoolLabel));
  if (!o.pool_label.empty() && !is_label_key(o.pool_label)) {
    throw ConfigError(reader.path("pool_label"), "'" + o.pool_label + "' is not a valid label key");
  }
  const std::string machine_pools = reader.string("machine_pools", "auto");
  if (machine_pools == "auto") {
    o.machine_pools = true;
  } else if (machine_pools == "off") {
    o.machine_pools = false;
  } else {
    throw ConfigError(reader.path("machine_pools"), "must be auto or off, not '" + machine_pools + "'");
  }

  o.cluster_name = reader.string("cluster_name", "");
  o.site = reader.string("site", "");
  o.location = reader.string("location", "");
  o.expose_credentials = reader.boolean("expose_credentials", false);
  o.qps = static_cast<int>(reader.integer("qps", 50, 1, 10000));
  o.burst = static_cast<int>(reader.integer("burst", 100, 1, 100000));
  o.request_timeout = std::chrono::milliseconds(reader.integer("request_timeout_ms", 10000, 100, 600000));
  reader.finish();

  if (o.cluster_name.empty()) o.cluster_name = instance_name;
  if (o.site.empty()) o.site = o.cluster_name;
  if (o.location.empty()) o.location = o.cluster_name;
  return o;
}

}  // namespace o2gw::ims
