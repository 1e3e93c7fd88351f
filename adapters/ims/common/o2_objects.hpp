// Builders for the O2-IMS inventory documents (ResourceType, AlarmDictionary,
// ResourcePool, Resource, DeploymentManager, LocationInfo, OCloudSiteInfo).
// Every IMS adapter that describes an O-Cloud from its own data (the file
// adapter, the simulator) fills an OCloudModel and lets this one place decide
// field names, required fields, computed cross references and derived ids, so
// the shapes served to an SMO are written exactly once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"

namespace o2gw::ims {

// The only management interface an O-Cloud IMS reports alarms over.
inline constexpr std::string_view kManagementInterfaceO2ims = "O2IMS";
// Field of an AlarmEventRecord that carries the alarm definition id.
inline constexpr std::string_view kDefaultPkNotificationField = "alarmDefinitionID";
inline constexpr std::string_view kDefaultAlarmDictionarySchemaVersion = "1.0";

// Allowed enum values, in the order the O2 specification lists them.
inline constexpr std::string_view kResourceKinds[] = {"UNDEFINED", "PHYSICAL", "LOGICAL"};
inline constexpr std::string_view kResourceClasses[] = {"UNDEFINED", "COMPUTE", "NETWORKING", "STORAGE"};
inline constexpr std::string_view kClearingTypes[] = {"AUTOMATIC", "MANUAL"};
inline constexpr std::string_view kAlarmChangeTypes[] = {"ADDED", "DELETED", "MODIFIED"};

// Back-end description of the O-Cloud. Objects refer to each other by `key`
// (stable back-end names); O2 ids are derived from those keys.

struct LocationSpec {
  std::string global_location_id;  // assigned by the SMO; also the O2 id
  std::string name;
  std::string description;
  nlohmann::json coordinate;     // GeoJSON Point object, or null when unknown
  nlohmann::json civic_address;  // array of {caType, caValue}, or null when unknown
  std::optional<std::string> address;
  nlohmann::json extensions = nlohmann::json::object();
};

struct SiteSpec {
  std::string key;
  std::string global_location_id;
  std::string name;
  std::string description;
  nlohmann::json extensions = nlohmann::json::object();
};

struct AlarmDefinitionSpec {
  std::string key;  // unique within its dictionary
  std::string name;
  std::string last_change;  // the dictionary version in which it last changed
  std::string change_type;  // ADDED | DELETED | MODIFIED
  std::string description;
  std::string proposed_repair_actions;
  std::string clearing_type;  // AUTOMATIC | MANUAL
  std::vector<std::string> pk_notification_field;
  nlohmann::json additional_fields = nlohmann::json::object();
};

struct AlarmDictionarySpec {
  std::string version;
  std::string schema_version{kDefaultAlarmDictionarySchemaVersion};
  std::string entity_type;
  std::string vendor;
  std::vector<std::string> pk_notification_field{std::string(kDefaultPkNotificationField)};
  std::vector<AlarmDefinitionSpec> definitions;
};

struct ResourceTypeSpec {
  std::string key;
  std::string name;
  std::string description;
  std::string vendor;
  std::string model;
  std::string version;
  std::string resource_kind;   // UNDEFINED | PHYSICAL | LOGICAL
  std::string resource_class;  // UNDEFINED | COMPUTE | NETWORKING | STORAGE
  nlohmann::json extensions = nlohmann::json::object();
  std::optional<AlarmDictionarySpec> alarm_dictionary;
};

struct ResourcePoolSpec {
  std::string key;
  std::string site_key;
  std::string name;
  std::string description;
  nlohmann::json extensions = nlohmann::json::object();
};

struct ResourceSpec {
  std::string key;       // unique among top-level resources; among siblings for elements
  std::string pool_key;  // ignored for elements: they live in their parent's pool
  std::string type_key;
  std::string description;
  std::string global_asset_id;
  std::vector<std::string> tags;
  std::vector<std::string> groups;
  nlohmann::json extensions = nlohmann::json::object();
  std::vector<ResourceSpec> elements;
};

struct DeploymentManagerSpec {
  std::string key;
  std::string name;
  std::string description;
  std::string service_uri;
  std::vector<std::string> site_keys;
  nlohmann::json capabilities = nlohmann::json::object();
  nlohmann::json capacity = nlohmann::json::object();
  nlohmann::json extensions = nlohmann::json::object();
};

struct OCloudModel {
  std::vector<LocationSpec> locations;
  std::vector<SiteSpec> sites;
  std::vector<ResourceTypeSpec> resource_types;
  std::vector<ResourcePoolSpec> resource_pools;
  std::vector<ResourceSpec> resources;
  std::vector<DeploymentManagerSpec> deployment_managers;
};

// Deterministic O2 ids for back-end keys: UUIDv5 through ctx.derive_id, so an id
// survives restarts and two replicas agree. Elements are keyed by their path
// ("server-01/nic-0"), which cannot collide with a top-level key because keys
// never contain '/'.
class O2Ids {
 public:
  explicit O2Ids(const AdapterContext& ctx) : ctx_(ctx) {}

  [[nodiscard]] std::string resource_type(std::string_view key) const;
  [[nodiscard]] std::string alarm_dictionary(std::string_view resource_type_key) const;
  [[nodiscard]] std::string alarm_definition(std::string_view resource_type_key, std::string_view definition_key) const;
  [[nodiscard]] std::string resource_pool(std::string_view key) const;
  [[nodiscard]] std::string resource(std::string_view key_path) const;
  [[nodiscard]] std::string deployment_manager(std::string_view key) const;
  [[nodiscard]] std::string site(std::string_view key) const;

 private:
  const AdapterContext& ctx_;
};

// Builds every O2 object of the model, finalized and owned by ctx.spec.name.
// Location.oCloudSiteIds, OCloudSite.resourcePools, ResourcePool.globalLocationId
// and DeploymentManager.supportedLocations are computed from the other objects.
// References must resolve: a dangling key throws std::invalid_argument (the
// file parser reports those earlier, with a line number). Takes the model by
// value so callers that are done with it can move its JSON into the documents.
std::vector<InventoryObject> build_inventory(OCloudModel model, const AdapterContext& ctx);

// One Resource (with its elements), for adapters that update resources one at a
// time. `key_path` is the resource's key (or element path) used for its id.
InventoryObject make_resource(ResourceSpec spec, std::string_view key_path, const std::string& resource_pool_id,
                              const O2Ids& ids, const AdapterContext& ctx);

// True when `value` is one of `allowed` (the enum tables above).
template <std::size_t N>
[[nodiscard]] bool is_one_of(std::string_view value, const std::string_view (&allowed)[N]) {
  for (auto a : allowed) {
    if (a == value) return true;
  }
  return false;
}

}  // namespace o2gw::ims
