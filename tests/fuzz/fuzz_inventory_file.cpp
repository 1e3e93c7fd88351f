// libFuzzer target for the inventory file parser: arbitrary bytes must either
// parse or be rejected with InventoryFileError. Any other exception, a crash,
// a hang or a sanitizer report is a bug in the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ims/file/inventory_file.hpp"
#include "o2gw/registry.hpp"
#include "o2gw/uuid.hpp"

namespace {

const o2gw::AdapterContext& fuzz_context() {
  static const o2gw::AdapterContext ctx = [] {
    o2gw::AdapterContext c;
    c.spec.name = "fuzz";
    c.ocloud_id = *o2gw::Uuid::parse("7a1f0c52-93d4-4b8e-a6f1-2c0de5b49a11");
    return c;
  }();
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto objects = o2gw::ims::parse_inventory_file(text, "fuzz.yaml", fuzz_context());
    // Whatever parses must be servable: every object finalized with an id.
    for (const auto& o : objects) {
      if (o.id.empty() || o.json.empty()) __builtin_trap();
    }
  } catch (const o2gw::ims::InventoryFileError& e) {
    // Rejections must say where: a line within the input (0 only when none applies).
    if (e.line() < 0) __builtin_trap();
  }
  return 0;
}
