#include "o2gw/health_alarms.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "o2gw/alarms.hpp"
#include "o2gw/inventory.hpp"

namespace o2gw {
namespace {

using nlohmann::json;

// Definitions are not inventory objects; their ids derive as the IMS adapters' do.
constexpr std::string_view kAlarmDefinitionKind = "alarmDefinition";
constexpr std::string_view kDictionaryVersion = "1.0";

InventoryObject finished(Kind kind, std::string id, std::string parent_id, json doc) {
  InventoryObject o;
  o.kind = kind;
  o.id = std::move(id);
  o.parent_id = std::move(parent_id);
  o.source = std::string(AdapterHealthAlarms::kInventorySource);
  o.doc = std::move(doc);
  o.finalize();
  return o;
}

bool is_down(AdapterStatus s) {
  return s == AdapterStatus::unhealthy || s == AdapterStatus::failed;
}

}  // namespace

struct AdapterHealthAlarms::State {
  InventoryCache& inventory;
  AlarmSink& sink;
  std::string type_id;
  std::string dictionary_id;
  std::string definition_id;

  std::mutex mu;  // one round at a time
  bool first_round = true;
  std::map<std::string, AlarmReport> reported;  // by key
  std::set<std::string> without_target;         // instances down with nothing to alarm on (logged once)
  std::string last_rejection;

  State(InventoryCache& i, AlarmSink& s, const Uuid& ocloud_id) : inventory(i), sink(s) {
    // Ids as AdapterContext::derive_id makes them for an instance named "o2gw".
    AdapterContext ctx;
    ctx.spec.name = std::string(kInventorySource);
    ctx.ocloud_id = ocloud_id;
    type_id = ctx.derive_id(kind_name(Kind::resource_type), kResourceTypeKey);
    dictionary_id = ctx.derive_id(kind_name(Kind::alarm_dictionary), kResourceTypeKey);
    definition_id =
        ctx.derive_id(kAlarmDefinitionKind, std::string(kResourceTypeKey) + "/" + std::string(kDefinitionKey));
  }

  void publish() {
    json definition = {
        {"alarmDefinitionId", definition_id},
        {"alarmName", "Adapter unhealthy"},
        {"alarmLastChange", kDictionaryVersion},
        {"alarmChangeType", "ADDED"},
        {"alarmDescription",
         "The gateway cannot reach or read the back end behind this deployment manager or resource pool (a "
         "Kubernetes API server, an inventory file, ...). Its inventory may be stale: the last known state is "
         "still served, and changes in the back end are not seen until the adapter recovers."},
        {"proposedRepairActions",
         "Read the adapter's detail (extensions.detail, or GET /admin/v1/adapters): check the back end's "
         "reachability, credentials and permissions, and the adapter's configuration."},
        {"clearingType", "AUTOMATIC"},
        {"managementInterfaceId", json::array({"O2IMS"})},
        {"pkNotificationField", json::array({"alarmDefinitionID"})},
        {"alarmAdditionalFields", {{"severity", "MAJOR"}}}};
    json dictionary = {{"alarmDictionaryId", dictionary_id},
                       {"alarmDictionaryVersion", kDictionaryVersion},
                       {"alarmDictionarySchemaVersion", "1.0"},
                       {"entityType", "o2gw-adapter"},
                       {"vendor", "o2gw"},
                       {"managementInterfaceId", json::array({"O2IMS"})},
                       {"pkNotificationField", json::array({"alarmDefinitionID"})},
                       {"alarmDefinition", json::array({definition})}};
    json type = {{"resourceTypeId", type_id},
                 {"name", "O-Cloud management service"},
                 {"description",
                  "The gateway's adapters to the O-Cloud's back ends; alarms about their health are raised on "
                  "the deployment managers and resource pools they serve"},
                 {"vendor", "o2gw"},
                 {"model", "o2gw"},
                 {"version", ""},
                 {"resourceKind", "LOGICAL"},
                 {"resourceClass", "UNDEFINED"},
                 {"extensions", json::object()},
                 {"alarmDictionaryId", dictionary_id},
                 {"alarmDictionary", dictionary}};
    std::vector<InventoryObject> objects;
    objects.push_back(finished(Kind::alarm_dictionary, dictionary_id, type_id, std::move(dictionary)));
    objects.push_back(finished(Kind::resource_type, type_id, "", std::move(type)));
    inventory.apply(std::string(kInventorySource), std::move(objects), {});
  }

  // The objects of `kind` owned by each of `sources`, by source.
  std::map<std::string, std::vector<std::string>> owned_by(Kind kind, const std::set<std::string>& sources) const {
    std::map<std::string, std::vector<std::string>> out;
    inventory.visit(kind, [&](const InventoryObject& o) {
      if (sources.contains(o.source)) out[o.source].push_back(o.id);
    });
    return out;
  }

  void update(const std::vector<AdapterState>& states) {
    std::lock_guard lock(mu);
    std::set<std::string> down;
    for (const auto& s : states) {
      if (s.category == Category::ims && is_down(s.status)) down.insert(s.name);
    }
    std::map<std::string, std::vector<std::string>> managers;
    std::map<std::string, std::vector<std::string>> pools;
    if (!down.empty()) {
      managers = owned_by(Kind::deployment_manager, down);
      std::set<std::string> need_pools;
      for (const auto& name : down) {
        if (!managers.contains(name)) need_pools.insert(name);
      }
      if (!need_pools.empty()) pools = owned_by(Kind::resource_pool, need_pools);
    }

    std::map<std::string, AlarmReport> wanted;
    for (const auto& s : states) {
      if (!down.contains(s.name)) {
        without_target.erase(s.name);
        continue;
      }
      const bool on_manager = managers.contains(s.name);
      const std::vector<std::string>* targets = on_manager ? &managers[s.name] : nullptr;
      if (targets == nullptr && pools.contains(s.name)) targets = &pools[s.name];
      if (targets == nullptr) {
        if (without_target.insert(s.name).second) {
          spdlog::info("adapter {} is {} but serves no deployment manager or resource pool: no alarm raised", s.name,
                       status_name(s.status));
        }
        continue;
      }
      without_target.erase(s.name);
      for (const auto& id : *targets) {
        AlarmReport r;
        r.source = std::string(kAlarmSource);
        r.key = s.name + "/" + id;
        r.resource_id = id;
        r.resource_type_id = type_id;
        r.definition = definition_id;  // by id: resolved whatever the names look like
        r.severity = Severity::major;
        r.extensions = json{{"adapter", s.name},
                            {"adapterType", s.type},
                            {"status", status_name(s.status)},
                            {"detail", s.detail},
                            {"objectKind", on_manager ? "deploymentManager" : "resourcePool"}};
        std::string key = r.key;
        wanted.emplace(std::move(key), std::move(r));
      }
    }

    for (auto it = reported.begin(); it != reported.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      sink.clear(kAlarmSource, it->first);
      it = reported.erase(it);
    }
    for (auto& [key, r] : wanted) {
      // The detail is that of the round the instance went down: a detail that
      // changes every round (counters, times) must not become a CHANGE every round.
      auto it = reported.find(key);
      if (it != reported.end() && it->second.extensions["status"] == r.extensions["status"]) continue;
      if (auto rejected = sink.raise(r)) {
        if (rejected->reason != last_rejection) {
          spdlog::warn("alarm for adapter {} not raised: {}", r.extensions["adapter"].get<std::string>(),
                       rejected->reason);
          last_rejection = rejected->reason;
        }
        continue;  // tried again next round
      }
      reported.insert_or_assign(key, r);
    }
    if (first_round) {
      first_round = false;
      std::vector<std::string> keys;
      for (const auto& [key, r] : reported) keys.push_back(key);
      sink.retain_only(kAlarmSource, keys);
    }
  }
};

AdapterHealthAlarms::AdapterHealthAlarms(InventoryCache& inventory, AlarmSink& sink, Uuid ocloud_id)
    : state_(std::make_shared<State>(inventory, sink, ocloud_id)) {
  state_->publish();
}

AdapterHealthAlarms::AdapterHealthAlarms(Registry& registry, InventoryCache& inventory, AlarmSink& sink, Uuid ocloud_id)
    : AdapterHealthAlarms(inventory, sink, ocloud_id) {
  registry.add_states_listener([state = state_](const std::vector<AdapterState>& states) { state->update(states); });
}

void AdapterHealthAlarms::update(const std::vector<AdapterState>& states) {
  state_->update(states);
}

const std::string& AdapterHealthAlarms::resource_type_id() const {
  return state_->type_id;
}

const std::string& AdapterHealthAlarms::alarm_definition_id() const {
  return state_->definition_id;
}

}  // namespace o2gw
