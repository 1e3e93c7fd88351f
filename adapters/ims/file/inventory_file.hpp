// The inventory file: a YAML description of an O-Cloud (locations, sites,
// resource types with alarm dictionaries, pools, resources, deployment
// managers), documented in docs/inventory-file.md. Parsing is pure: text in,
// objects out, so the file adapter, the unit tests and the fuzzer share it.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "ims/common/o2_objects.hpp"
#include "o2gw/alarms.hpp"
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

// One entry of the optional top-level `alarms:` list: a condition the file
// declares active, raised on every load (source "file/<instance>").
struct InventoryFileAlarm {
  std::string key;             // unique within the file
  std::string resource_key;    // a top-level resource's key
  std::string type_key;        // the resource's type
  std::string definition_key;  // an alarm definition key of that type's dictionary
  Severity severity = Severity::major;
  nlohmann::json extensions = nlohmann::json::object();
};

struct InventoryFileContents {
  OCloudModel model;
  std::vector<InventoryFileAlarm> alarms;
};

// The whole file: the O-Cloud model and the declared alarms (references checked).
InventoryFileContents parse_inventory_contents(const std::string& text, const std::string& origin);

// The reports the declared alarms become for adapter instance ctx.spec.name.
std::vector<AlarmReport> inventory_alarm_reports(const std::vector<InventoryFileAlarm>& alarms,
                                                 const AdapterContext& ctx);

// Parses and validates the text (syntax, required and unknown keys, types,
// enum values, duplicates, references) into a model. `origin` names the text
// in errors, usually the file path. Throws InventoryFileError.
OCloudModel parse_inventory_model(const std::string& text, const std::string& origin);

// parse_inventory_model, then the O2 objects with ids derived through ctx.
std::vector<InventoryObject> parse_inventory_file(const std::string& text, const std::string& origin,
                                                  const AdapterContext& ctx);

}  // namespace o2gw::ims
