// The inventory file: a YAML description of an O-Cloud (locations, sites,
// resource types with alarm dictionaries, pools, resources, deployment
// managers), documented in docs/inventory-file.md. Parsing is pure: text in,
// objects out, so the file adapter, the unit tests and the fuzzer share it.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "ims/common/o2_objects.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"

namespace o2gw::ims {

// Everything wrong with an inventory file is reported as one of these, naming
// the file, the 1-based line (0 when no line applies) and what to fix.
class InventoryFileError : public std::runtime_error {
 public:
  InventoryFileError(std::string origin, int line, std::string reason);

  [[nodiscard]] const std::string& origin() const { return origin_; }
  [[nodiscard]] int line() const { return line_; }
  [[nodiscard]] const std::string& reason() const { return reason_; }

 private:
  std::string origin_;
  int line_ = 0;
  std::string reason_;
};

// Current (and only) format version; a file may declare it with `version: 1`.
inline constexpr int kInventoryFileFormatVersion = 1;

// Parses and validates the text (syntax, required and unknown keys, types,
// enum values, duplicates, references) into a model. `origin` names the text
// in errors, usually the file path. Throws InventoryFileError.
OCloudModel parse_inventory_model(const std::string& text, const std::string& origin);

// parse_inventory_model, then the O2 objects with ids derived through ctx.
std::vector<InventoryObject> parse_inventory_file(const std::string& text, const std::string& origin,
                                                  const AdapterContext& ctx);

}  // namespace o2gw::ims
