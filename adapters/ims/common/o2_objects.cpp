#include "ims/common/o2_objects.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "ims/common/parallel_chunks.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;

// Definitions are not inventory objects of their own, but their ids must be as
// stable as the dictionary's.
constexpr std::string_view kAlarmDefinitionKind = "alarmDefinition";
// Below this many resources per core, threads cost more than they save.
constexpr std::size_t kResourcesPerThread = 2048;

json string_array(std::vector<std::string> values) {
  json out = json::array();
  for (auto& v : values) out.push_back(std::move(v));
  return out;
}

json object_or_empty(json value) {
  return value.is_object() ? std::move(value) : json::object();
}

InventoryObject finished(Kind kind, std::string id, std::string parent_id, json doc, const AdapterContext& ctx) {
  InventoryObject obj;
  obj.kind = kind;
  obj.id = std::move(id);
  obj.parent_id = std::move(parent_id);
  obj.source = ctx.spec.name;
  obj.doc = std::move(doc);
  obj.finalize();
  return obj;
}

// Looks a key up in a key -> value table built from the model; a miss is a
// programming error of the adapter that built the model.
const std::string& lookup(const std::unordered_map<std::string, std::string>& table, const std::string& key,
                          std::string_view what) {
  auto it = table.find(key);
  if (it == table.end()) {
    throw std::invalid_argument("unknown " + std::string(what) + " '" + key + "'");
  }
  return it->second;
}

template <typename TypeIdFn>
json resource_doc(ResourceSpec spec, const std::string& key_path, const std::string& type_id,
                  const std::string& resource_pool_id, const O2Ids& ids, const TypeIdFn& type_id_of) {
  json elements = json::array();
  for (auto& element : spec.elements) {
    std::string element_path = key_path + "/" + element.key;
    // An element without a type of its own is a part of the same kind of thing.
    std::string element_type_id = element.type_key.empty() ? type_id : type_id_of(element.type_key);
    elements.push_back(
        resource_doc(std::move(element), element_path, element_type_id, resource_pool_id, ids, type_id_of));
  }
  json doc = json::object();
  doc["resourceId"] = ids.resource(key_path);
  doc["resourcePoolId"] = resource_pool_id;
  doc["resourceTypeId"] = type_id;
  doc["globalAssetId"] = std::move(spec.global_asset_id);
  doc["description"] = std::move(spec.description);
  doc["elements"] = std::move(elements);
  doc["tags"] = string_array(std::move(spec.tags));
  doc["groups"] = string_array(std::move(spec.groups));
  doc["extensions"] = object_or_empty(std::move(spec.extensions));
  return doc;
}

json alarm_definition_doc(AlarmDefinitionSpec def, const std::string& type_key, const O2Ids& ids) {
  json doc = json::object();
  doc["alarmDefinitionId"] = ids.alarm_definition(type_key, def.key);
  doc["alarmName"] = std::move(def.name);
  doc["alarmLastChange"] = std::move(def.last_change);
  doc["alarmChangeType"] = std::move(def.change_type);
  doc["alarmDescription"] = std::move(def.description);
  doc["proposedRepairActions"] = std::move(def.proposed_repair_actions);
  doc["clearingType"] = std::move(def.clearing_type);
  doc["managementInterfaceId"] = json::array({kManagementInterfaceO2ims});
  doc["pkNotificationField"] = string_array(std::move(def.pk_notification_field));
  doc["alarmAdditionalFields"] = object_or_empty(std::move(def.additional_fields));
  return doc;
}

}  // namespace

std::string O2Ids::resource_type(std::string_view key) const {
  return ctx_.derive_id(kind_name(Kind::resource_type), key);
}
std::string O2Ids::alarm_dictionary(std::string_view resource_type_key) const {
  return ctx_.derive_id(kind_name(Kind::alarm_dictionary), resource_type_key);
}
std::string O2Ids::alarm_definition(std::string_view resource_type_key, std::string_view definition_key) const {
  std::string path;
  path.reserve(resource_type_key.size() + definition_key.size() + 1);
  path.append(resource_type_key).append("/").append(definition_key);
  return ctx_.derive_id(kAlarmDefinitionKind, path);
}
std::string O2Ids::resource_pool(std::string_view key) const {
  return ctx_.derive_id(kind_name(Kind::resource_pool), key);
}
std::string O2Ids::resource(std::string_view key_path) const {
  return ctx_.derive_id(kind_name(Kind::resource), key_path);
}
std::string O2Ids::deployment_manager(std::string_view key) const {
  return ctx_.derive_id(kind_name(Kind::deployment_manager), key);
}
std::string O2Ids::site(std::string_view key) const {
  return ctx_.derive_id(kind_name(Kind::ocloud_site), key);
}

InventoryObject make_resource(ResourceSpec spec, std::string_view key_path, const std::string& resource_pool_id,
                              const O2Ids& ids, const AdapterContext& ctx) {
  auto type_id_of = [&ids](const std::string& key) { return ids.resource_type(key); };
  std::string path(key_path);
  std::string type_id = ids.resource_type(spec.type_key);
  std::string id = ids.resource(path);
  return finished(Kind::resource, std::move(id), resource_pool_id,
                  resource_doc(std::move(spec), path, type_id, resource_pool_id, ids, type_id_of), ctx);
}

std::vector<InventoryObject> build_inventory(OCloudModel model, const AdapterContext& ctx) {
  const O2Ids ids(ctx);
  const std::string ocloud_id = ctx.ocloud_id.str();
  std::vector<InventoryObject> out;
  out.reserve(model.locations.size() + model.sites.size() + 2 * model.resource_types.size() +
              model.resource_pools.size() + model.resources.size() + model.deployment_managers.size());

  // Key -> id tables, computed once: hashing a name per resource is the cost
  // that matters when a back end has 100,000 of them.
  std::unordered_map<std::string, std::string> site_ids;
  std::unordered_map<std::string, std::string> site_locations;
  std::unordered_map<std::string, std::vector<std::string>> location_sites;
  for (const auto& site : model.sites) {
    std::string id = ids.site(site.key);
    location_sites[site.global_location_id].push_back(id);
    site_locations.emplace(site.key, site.global_location_id);
    site_ids.emplace(site.key, std::move(id));
  }
  std::unordered_map<std::string, std::string> type_ids;
  for (const auto& type : model.resource_types) type_ids.emplace(type.key, ids.resource_type(type.key));
  std::unordered_map<std::string, std::string> pool_ids;
  std::unordered_map<std::string, std::vector<std::string>> site_pools;
  for (const auto& pool : model.resource_pools) {
    std::string id = ids.resource_pool(pool.key);
    lookup(site_ids, pool.site_key, "site");
    site_pools[pool.site_key].push_back(id);
    pool_ids.emplace(pool.key, std::move(id));
  }

  std::unordered_set<std::string> known_locations;
  for (auto& loc : model.locations) {
    json doc = json::object();
    doc["globalLocationId"] = loc.global_location_id;
    doc["name"] = std::move(loc.name);
    doc["description"] = std::move(loc.description);
    auto sites = location_sites.find(loc.global_location_id);
    doc["oCloudSiteIds"] = sites == location_sites.end() ? json::array() : string_array(sites->second);
    if (!loc.coordinate.is_null()) doc["coordinate"] = std::move(loc.coordinate);
    if (!loc.civic_address.is_null()) doc["civicAddress"] = std::move(loc.civic_address);
    if (loc.address) doc["address"] = std::move(*loc.address);
    doc["extensions"] = object_or_empty(std::move(loc.extensions));
    known_locations.insert(loc.global_location_id);
    std::string id = loc.global_location_id;
    out.push_back(finished(Kind::location, std::move(id), "", std::move(doc), ctx));
  }

  for (auto& site : model.sites) {
    if (!known_locations.contains(site.global_location_id)) {
      throw std::invalid_argument("unknown location '" + site.global_location_id + "'");
    }
    json doc = json::object();
    const std::string& id = site_ids.at(site.key);
    doc["oCloudSiteId"] = id;
    doc["globalLocationId"] = std::move(site.global_location_id);
    doc["name"] = std::move(site.name);
    doc["description"] = std::move(site.description);
    auto pools = site_pools.find(site.key);
    doc["resourcePools"] = pools == site_pools.end() ? json::array() : string_array(pools->second);
    doc["extensions"] = object_or_empty(std::move(site.extensions));
    out.push_back(finished(Kind::ocloud_site, id, "", std::move(doc), ctx));
  }

  for (auto& type : model.resource_types) {
    const std::string& id = type_ids.at(type.key);
    json doc = json::object();
    doc["resourceTypeId"] = id;
    doc["name"] = std::move(type.name);
    doc["description"] = std::move(type.description);
    doc["vendor"] = type.vendor;
    doc["model"] = std::move(type.model);
    doc["version"] = std::move(type.version);
    doc["resourceKind"] = std::move(type.resource_kind);
    doc["resourceClass"] = std::move(type.resource_class);
    doc["extensions"] = object_or_empty(std::move(type.extensions));
    if (type.alarm_dictionary) {
      AlarmDictionarySpec& dict = *type.alarm_dictionary;
      std::string dict_id = ids.alarm_dictionary(type.key);
      doc["alarmDictionaryId"] = dict_id;
      json definitions = json::array();
      for (auto& def : dict.definitions) {
        definitions.push_back(alarm_definition_doc(std::move(def), type.key, ids));
      }
      json dict_doc = json::object();
      dict_doc["alarmDictionaryId"] = dict_id;
      dict_doc["alarmDictionaryVersion"] = std::move(dict.version);
      dict_doc["alarmDictionarySchemaVersion"] = std::move(dict.schema_version);
      dict_doc["entityType"] = std::move(dict.entity_type);
      dict_doc["vendor"] = dict.vendor.empty() ? type.vendor : std::move(dict.vendor);
      dict_doc["managementInterfaceId"] = json::array({kManagementInterfaceO2ims});
      dict_doc["pkNotificationField"] = string_array(std::move(dict.pk_notification_field));
      dict_doc["alarmDefinition"] = std::move(definitions);
      // The O-Cloud conformance schema (resourceType_allfields_properties.json) expects the
      // dictionary embedded in the type; lists leave it out by default.
      doc["alarmDictionary"] = dict_doc;
      out.push_back(finished(Kind::alarm_dictionary, std::move(dict_id), id, std::move(dict_doc), ctx));
    }
    out.push_back(finished(Kind::resource_type, id, "", std::move(doc), ctx));
  }

  for (auto& pool : model.resource_pools) {
    const std::string& id = pool_ids.at(pool.key);
    json doc = json::object();
    doc["resourcePoolId"] = id;
    doc["name"] = std::move(pool.name);
    doc["description"] = std::move(pool.description);
    doc["oCloudSiteId"] = site_ids.at(pool.site_key);
    // v1 conformance fields, allowed as extra fields by the v2 specification.
    doc["globalLocationId"] = site_locations.at(pool.site_key);
    doc["oCloudId"] = ocloud_id;
    doc["extensions"] = object_or_empty(std::move(pool.extensions));
    out.push_back(finished(Kind::resource_pool, id, "", std::move(doc), ctx));
  }

  // Resources are the bulk of a large inventory and independent of each other:
  // build them on all cores. The tables above are only read from here on.
  auto type_id_of = [&type_ids](const std::string& key) -> std::string {
    return lookup(type_ids, key, "resource type");
  };
  const std::size_t first_resource = out.size();
  out.resize(first_resource + model.resources.size());
  for_each_chunk(model.resources.size(), kResourcesPerThread, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      ResourceSpec& res = model.resources[i];
      const std::string& pool_id = lookup(pool_ids, res.pool_key, "resource pool");
      const std::string& type_id = lookup(type_ids, res.type_key, "resource type");
      std::string key = std::move(res.key);
      json doc = resource_doc(std::move(res), key, type_id, pool_id, ids, type_id_of);
      std::string id = doc["resourceId"].get<std::string>();
      out[first_resource + i] = finished(Kind::resource, std::move(id), pool_id, std::move(doc), ctx);
    }
  });

  for (auto& dm : model.deployment_managers) {
    json locations = json::array();
    for (const auto& site_key : dm.site_keys) {
      const std::string& loc = lookup(site_locations, site_key, "site");
      // Two sites at one location make one supported location.
      if (std::find(locations.begin(), locations.end(), loc) == locations.end()) {
        locations.push_back(loc);
      }
    }
    std::string id = ids.deployment_manager(dm.key);
    json doc = json::object();
    doc["deploymentManagerId"] = id;
    doc["name"] = std::move(dm.name);
    doc["description"] = std::move(dm.description);
    doc["oCloudId"] = ocloud_id;
    doc["serviceUri"] = std::move(dm.service_uri);
    doc["supportedLocations"] = std::move(locations);
    doc["capabilities"] = object_or_empty(std::move(dm.capabilities));
    doc["capacity"] = object_or_empty(std::move(dm.capacity));
    doc["extensions"] = object_or_empty(std::move(dm.extensions));
    out.push_back(finished(Kind::deployment_manager, std::move(id), "", std::move(doc), ctx));
  }
  return out;
}

}  // namespace o2gw::ims
