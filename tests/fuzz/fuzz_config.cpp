// Fuzzes configuration parsing: YAML text to JSON to the typed Config. Only a
// ConfigError may escape; anything else (or a sanitizer report) is a bug.
#include <string>

#include "o2gw/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto doc = o2gw::yaml_to_json(text, "fuzz.yaml");
    (void)o2gw::parse_config(doc);
  } catch (const o2gw::ConfigError&) {
  }
  return 0;
}
