// Attribute schemas of the inventory objects, and attribute-path resolution.
#include <array>
#include <stdexcept>

#include "o2gw/inventory.hpp"
#include "query_internal.hpp"

namespace o2gw {

AttributeSchema::AttributeSchema(std::string name, std::string id_attribute)
    : name_(std::move(name)), id_(std::move(id_attribute)) {}

AttributeSchema& AttributeSchema::push(Attribute a) {
  if (find(a.name) != nullptr) throw std::logic_error("schema " + name_ + ": duplicate attribute " + a.name);
  attrs_.push_back(std::move(a));
  return *this;
}

AttributeSchema& AttributeSchema::add(std::string name, AttrType type) {
  if (type == AttrType::record) throw std::logic_error("schema " + name_ + ": use add_record for " + name);
  return push({std::move(name), type, false, nullptr, false});
}

AttributeSchema& AttributeSchema::add_array(std::string name, AttrType type) {
  if (type == AttrType::record) throw std::logic_error("schema " + name_ + ": use add_record for " + name);
  return push({std::move(name), type, true, nullptr, false});
}

AttributeSchema& AttributeSchema::add_record(std::string name, AttributeSchema fields, bool array) {
  return push(
      {std::move(name), AttrType::record, array, std::make_shared<const AttributeSchema>(std::move(fields)), false});
}

AttributeSchema& AttributeSchema::add_recursive_array(std::string name) {
  return push({std::move(name), AttrType::record, true, nullptr, true});
}

AttributeSchema& AttributeSchema::exclude_by_default(std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    const Attribute* a = find(n);
    if (a == nullptr || !a->complex()) {
      throw std::logic_error("schema " + name_ + ": " + std::string(n) + " is not a complex attribute");
    }
    if (!excluded_by_default(n)) excluded_.emplace_back(n);
  }
  return *this;
}

const AttributeSchema::Attribute* AttributeSchema::find(std::string_view name) const {
  for (const auto& a : attrs_) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const AttributeSchema* AttributeSchema::fields_of(const Attribute& a) const {
  if (a.type != AttrType::record) return nullptr;
  return a.recursive ? this : a.fields.get();
}

bool AttributeSchema::excluded_by_default(std::string_view name) const {
  for (const auto& e : excluded_) {
    if (e == name) return true;
  }
  return false;
}

namespace {

using T = AttrType;

// Field names and types as in the O-RAN O2-IMS OpenAPI documents (resources and common).
// Default exclusions: the complex attributes that are large or of interest to few
// readers, so that a plain list stays small; `fields` or `all_fields` bring them back.
std::array<AttributeSchema, kKindCount> build_inventory_schemas() {
  AttributeSchema alarm_definition("AlarmDefinition");
  alarm_definition.add("alarmDefinitionId", T::uuid)
      .add("alarmName", T::string)
      .add("alarmLastChange", T::string)
      .add("alarmChangeType", T::string)
      .add("alarmDescription", T::string)
      .add("proposedRepairActions", T::string)
      .add("clearingType", T::string)
      .add_array("managementInterfaceId", T::string)
      .add_array("pkNotificationField", T::string)
      .add("alarmAdditionalFields", T::object);
  AttributeSchema alarm_dictionary("AlarmDictionary", "alarmDictionaryId");
  alarm_dictionary.add("alarmDictionaryId", T::uuid)
      .add("alarmDictionaryVersion", T::string)
      .add("alarmDictionarySchemaVersion", T::string)
      .add("entityType", T::string)
      .add("vendor", T::string)
      .add_array("managementInterfaceId", T::string)
      .add_array("pkNotificationField", T::string)
      .add_record("alarmDefinition", std::move(alarm_definition), true)
      .exclude_by_default({"alarmDefinition"});

  AttributeSchema resource_type("ResourceType", "resourceTypeId");
  resource_type.add("resourceTypeId", T::uuid)
      .add("name", T::string)
      .add("description", T::string)
      .add("vendor", T::string)
      .add("model", T::string)
      .add("version", T::string)
      .add("alarmDictionaryId", T::uuid)
      .add("resourceKind", T::string)
      .add("resourceClass", T::string)
      .add("extensions", T::object)
      // Embedded for the O-Cloud conformance suite (resourceType_allfields); bulky, so not by default.
      .add_record("alarmDictionary", alarm_dictionary)
      .exclude_by_default({"extensions", "alarmDictionary"});

  AttributeSchema resource_pool("ResourcePool", "resourcePoolId");
  resource_pool.add("resourcePoolId", T::uuid)
      .add("name", T::string)
      .add("description", T::string)
      .add("oCloudSiteId", T::uuid)
      .add("globalLocationId", T::string)  // o2gw: v1 conformance
      .add("oCloudId", T::uuid)            // o2gw: v1 conformance
      .add("extensions", T::object)
      .exclude_by_default({"extensions"});

  AttributeSchema resource("Resource", "resourceId");
  resource.add("resourceId", T::uuid)
      .add("resourcePoolId", T::uuid)
      .add("resourceTypeId", T::uuid)
      .add("globalAssetId", T::string)
      .add("description", T::string)
      .add_recursive_array("elements")
      .add_array("tags", T::string)
      .add_array("groups", T::string)
      .add("extensions", T::object)
      .exclude_by_default({"elements", "extensions"});

  AttributeSchema deployment_manager("DeploymentManager", "deploymentManagerId");
  deployment_manager.add("deploymentManagerId", T::uuid)
      .add("name", T::string)
      .add("description", T::string)
      .add("oCloudId", T::uuid)
      .add("serviceUri", T::string)
      .add_array("supportedLocations", T::string)
      .add("capabilities", T::object)
      .add("capacity", T::object)
      .add("extensions", T::object)
      // capabilities and capacity stay in the default set: the O-Cloud conformance
      // schema for the deploymentManagers list (deploymentManagers_properties.json) requires them.
      .exclude_by_default({"extensions"});

  AttributeSchema coordinate("GeoJsonPoint");
  coordinate.add("type", T::string).add_array("coordinates", T::number);
  AttributeSchema civic_address("CivicAddressElement");
  civic_address.add("caType", T::integer).add("caValue", T::string);
  AttributeSchema location("LocationInfo", "globalLocationId");
  location.add("globalLocationId", T::string)
      .add("name", T::string)
      .add("description", T::string)
      .add_array("oCloudSiteIds", T::uuid)
      .add_record("coordinate", std::move(coordinate))
      .add_record("civicAddress", std::move(civic_address), true)
      .add("address", T::string)
      .add("extensions", T::object)
      .exclude_by_default({"extensions"});

  AttributeSchema site("OCloudSiteInfo", "oCloudSiteId");
  site.add("oCloudSiteId", T::uuid)
      .add("globalLocationId", T::string)
      .add("name", T::string)
      .add("description", T::string)
      .add_array("resourcePools", T::uuid)
      .add("extensions", T::object)
      .exclude_by_default({"extensions"});

  // Indexed by Kind.
  return {std::move(resource_type),      std::move(alarm_dictionary), std::move(resource_pool), std::move(resource),
          std::move(deployment_manager), std::move(location),         std::move(site)};
}

}  // namespace

const AttributeSchema& schema_for(Kind kind) {
  static_assert(static_cast<int>(Kind::resource_type) == 0 && static_cast<int>(Kind::alarm_dictionary) == 1 &&
                static_cast<int>(Kind::resource_pool) == 2 && static_cast<int>(Kind::resource) == 3 &&
                static_cast<int>(Kind::deployment_manager) == 4 && static_cast<int>(Kind::location) == 5 &&
                static_cast<int>(Kind::ocloud_site) == 6 && kKindCount == 7);
  static const std::array<AttributeSchema, kKindCount> schemas = build_inventory_schemas();
  return schemas.at(static_cast<std::size_t>(kind));
}

namespace query_detail {

bool resolve_path(const AttributeSchema& schema, std::string_view path, ResolvedPath& out, std::string& error,
                  std::size_t& error_offset) {
  out = ResolvedPath{};
  const AttributeSchema* fields = &schema;  // null below a scalar
  bool open = false;                        // below an open object
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    std::string_view so_far = path.substr(0, slash);
    if (seg.empty()) {
      error = path.empty() ? "empty attribute name" : "empty segment in attribute '" + excerpt(path) + "'";
      error_offset = pos;
      return false;
    }
    out.segments.emplace_back(seg);
    if (open) {
      out.dynamic = true;
      out.complex = false;  // typed by whatever the document holds
    } else if (fields == nullptr) {
      error = "attribute '" + excerpt(path.substr(0, pos - 1)) + "' has no sub-attributes";
      error_offset = pos;
      return false;
    } else {
      const AttributeSchema::Attribute* a = fields->find(seg);
      if (a == nullptr) {
        error = "unknown attribute '" + excerpt(so_far) + "'";
        error_offset = pos;
        return false;
      }
      out.type = a->type;
      out.through_array = out.through_array || a->array;
      out.complex = a->type == AttrType::object || a->type == AttrType::record;
      open = a->type == AttrType::object;
      fields = fields->fields_of(*a);
    }
    if (slash == std::string_view::npos) return true;
    pos = slash + 1;
  }
}

}  // namespace query_detail
}  // namespace o2gw
