// Fuzzes kubeconfig parsing (YAML text plus a context name, NUL-separated) and
// resource quantities. Only a ConfigError may escape. (Messages quote names and
// paths from the document by design, so secrecy is checked by the unit tests.)
#include <cstdlib>
#include <string>

#include "o2gw/k8s.hpp"
#include "split_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto [yaml, context] = o2gw::fuzz::split_input<2>(data, size);
  try {
    auto config = o2gw::k8s::parse_kubeconfig(yaml, "/nonexistent-o2gw-fuzz", context, "fuzz.yaml");
    // What a successful parse promises.
    if (config.server.rfind("http", 0) != 0 || config.namespace_.empty() || config.context.empty()) std::abort();
    if (!config.server.empty() && config.server.back() == '/') std::abort();
  } catch (const o2gw::k8s::ConfigError&) {
  }
  if (auto q = o2gw::k8s::parse_quantity(context)) {
    (void)*q;
  }
  return 0;
}
