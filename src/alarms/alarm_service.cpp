// The alarm service: resolves source reports to AlarmEventRecords, keeps them in
// memory and in the store (with their history), and writes each event's
// notifications to the shared outbox in the same transaction.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include "o2gw/alarms.hpp"
#include "o2gw/events.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/query.hpp"
#include "o2gw/store.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw {

namespace {

// Namespace of the probableCauseId derivation (UUIDv5 of the alarm definition id).
const Uuid& probable_cause_namespace() {
  static const Uuid ns = *Uuid::parse("5b1f5a6e-9c0d-4c47-8f3e-2d6a0c9b7e14");
  return ns;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "Fan failure", "fan-failure", "FAN_FAILURE" all become "fanfailure": a definition
// may be named by its alarmName or by the key it was declared with.
std::string slug(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0)
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string rfc3339_ms(std::int64_t ms) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

const nlohmann::json* string_field(const nlohmann::json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? &*it : nullptr;
}

constexpr int kMaxRetentionDays = 36500;

// The notification as stored with its event: everything but globalCloudID and
// consumerSubscriptionId, which render_alarm_notification puts in front.
nlohmann::json notification_doc(const AlarmEntry& a, int event_type, const std::string& object_ref) {
  nlohmann::json n = nlohmann::json::object();
  n["notificationEventType"] = event_type;
  n["objectRef"] = object_ref;
  for (const char* f : {"alarmEventRecordId", "resourceTypeID", "resourceID", "alarmDefinitionID", "probableCauseID",
                        "alarmRaisedTime"}) {
    n[f] = a.doc.at(f);
  }
  n["alarmChangedTime"] = a.doc.value("alarmChangedTime", a.doc.at("alarmRaisedTime").get<std::string>());
  // The spec spells it without "d" in the notification.
  if (auto t = a.doc.find("alarmAcknowledgedTime"); t != a.doc.end()) n["alarmAcknowledgeTime"] = *t;
  n["alarmAcknowledged"] = a.doc.at("alarmAcknowledged");
  n["perceivedSeverity"] = a.doc.at("perceivedSeverity");
  n["extensions"] = a.doc.at("extensions");
  return n;
}

AlarmPtr finalize(AlarmEntry e) {
  e.json = e.doc.dump();
  return std::make_shared<const AlarmEntry>(std::move(e));
}

std::string_view metric_event(int event_type) {
  switch (event_type) {
    case 0: return "raised";
    case 1: return "changed";
    case 2: return "cleared";
    default: return "acknowledged";
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Names, times, schemas.

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::critical: return "CRITICAL";
    case Severity::major: return "MAJOR";
    case Severity::minor: return "MINOR";
    case Severity::warning: return "WARNING";
    case Severity::indeterminate: return "INDETERMINATE";
    case Severity::cleared: return "CLEARED";
  }
  return "INDETERMINATE";
}

std::optional<Severity> parse_severity_name(std::string_view text) {
  const std::string l = lower(text);
  for (int i = 0; i <= 5; ++i) {
    auto s = static_cast<Severity>(i);
    if (l == lower(severity_name(s))) return s;
  }
  return std::nullopt;
}

std::string_view alarm_event_type_name(AlarmEventType t) {
  switch (t) {
    case AlarmEventType::created: return "NEW";
    case AlarmEventType::changed: return "CHANGE";
    case AlarmEventType::cleared: return "CLEAR";
    case AlarmEventType::acknowledged: return "ACKNOWLEDGE";
  }
  return "NEW";
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  const char* p = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == nullptr) return std::nullopt;
  if (*p == '.') {
    ++p;
    if (std::isdigit(static_cast<unsigned char>(*p)) == 0) return std::nullopt;
    while (std::isdigit(static_cast<unsigned char>(*p)) != 0) ++p;
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || std::string_view(p + 1).size() < 5) return std::nullopt;
    offset = sign * (hh * 3600L + mm * 60L);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (*p != '\0') return std::nullopt;
  std::int64_t secs = timegm(&tm) - offset;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
}

std::string probable_cause_id(std::string_view alarm_definition_id) {
  return Uuid::v5(probable_cause_namespace(), lower(alarm_definition_id)).str();
}

nlohmann::json probable_causes(const InventoryCache& inventory) {
  std::map<std::string, nlohmann::json> by_id;
  inventory.visit(Kind::alarm_dictionary, [&](const InventoryObject& dict) {
    auto defs = dict.doc.find("alarmDefinition");
    if (defs == dict.doc.end() || !defs->is_array()) return;
    for (const auto& d : *defs) {
      const auto* id = string_field(d, "alarmDefinitionId");
      if (id == nullptr) continue;
      std::string pid = probable_cause_id(id->get<std::string>());
      by_id[pid] = {{"probableCauseId", pid},
                    {"name", d.value("alarmName", std::string())},
                    {"description", d.value("alarmDescription", std::string())}};
    }
  });
  nlohmann::json out = nlohmann::json::array();
  for (auto& [id, pc] : by_id) out.push_back(std::move(pc));
  return out;
}

const AttributeSchema& alarm_record_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("AlarmEventRecord", "alarmEventRecordId");
    s.add("alarmEventRecordId", AttrType::uuid)
        .add("alarmDefinitionID", AttrType::uuid)
        .add("probableCauseID", AttrType::uuid)
        .add("resourceTypeID", AttrType::uuid)
        .add("resourceID", AttrType::uuid)
        .add("alarmRaisedTime", AttrType::datetime)
        .add("alarmChangedTime", AttrType::datetime)
        .add("alarmClearedTime", AttrType::datetime)
        .add("alarmAcknowledgedTime", AttrType::datetime)
        .add("alarmAcknowledged", AttrType::boolean)
        .add("perceivedSeverity", AttrType::integer)
        .add("extensions", AttrType::object);
    return s;
  }();
  return schema;
}

const AttributeSchema& probable_cause_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("ProbableCause", "probableCauseId");
    s.add("probableCauseId", AttrType::uuid).add("name", AttrType::string).add("description", AttrType::string);
    return s;
  }();
  return schema;
}

const AttributeSchema& alarm_subscription_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("AlarmSubscriptionInfo", "alarmSubscriptionId");
    s.add("alarmSubscriptionId", AttrType::uuid)
        .add("consumerSubscriptionId", AttrType::uuid)
        .add("filter", AttrType::string)
        .add("callback", AttrType::string);
    return s;
  }();
  return schema;
}

const AttributeSchema& alarm_event_schema() {
  static const AttributeSchema schema = [] {
    AttributeSchema s("AlarmEventNotification");
    s.add("notificationEventType", AttrType::integer)
        .add("objectRef", AttrType::string)
        .add("alarmEventRecordId", AttrType::uuid)
        .add("resourceTypeID", AttrType::uuid)
        .add("resourceID", AttrType::uuid)
        .add("alarmDefinitionID", AttrType::uuid)
        .add("probableCauseID", AttrType::uuid)
        .add("alarmRaisedTime", AttrType::datetime)
        .add("alarmChangedTime", AttrType::datetime)
        .add("alarmAcknowledgeTime", AttrType::datetime)
        .add("alarmAcknowledged", AttrType::boolean)
        .add("perceivedSeverity", AttrType::integer)
        .add("extensions", AttrType::object);
    return s;
  }();
  return schema;
}

Parsed<Filter> parse_alarm_subscription_filter(std::string_view text) {
  for (int t = 0; t <= 3; ++t) {
    if (text == alarm_event_type_name(static_cast<AlarmEventType>(t))) {
      return Filter::parse("(eq,notificationEventType," + std::to_string(t) + ")", alarm_event_schema());
    }
  }
  return Filter::parse(text, alarm_event_schema());
}

std::string render_alarm_notification(std::string_view global_cloud_id, const std::string& consumer_id,
                                      const EventRecord& event) {
  std::string out;
  out.reserve(96 + event.post_json.size());
  out += R"({"globalCloudID":)";
  out += nlohmann::json(global_cloud_id).dump();
  if (!consumer_id.empty()) {
    out += R"(,"consumerSubscriptionId":)";
    out += nlohmann::json(consumer_id).dump();
  }
  // post_json is a non-empty object: splice its members in.
  if (event.post_json.size() > 2) {
    out += ',';
    out.append(event.post_json, 1, std::string::npos);
  } else {
    out += '}';
  }
  return out;
}

// ---------------------------------------------------------------------------

struct AlarmService::Resolved {
  std::string resource_id;
  std::string resource_type_id;
  std::string definition_id;
  std::string clearing_type;
};

AlarmService::AlarmService(Store& store, const InventoryCache& inventory, AlarmServiceOptions options, Metrics* metrics)
    : store_(store), inventory_(inventory), opt_(std::move(options)), metrics_(metrics) {
  config_ = {{"retentionPeriod", opt_.default_retention_days}, {"extensions", nlohmann::json::object()}};
}

void AlarmService::set_clock(std::function<Clock::time_point()> clock) {
  clock_ = std::move(clock);
}

AlarmService::Clock::time_point AlarmService::now() const {
  return clock_ ? clock_() : Clock::now();
}

void AlarmService::connect(SubscriptionService* subscriptions, WebhookDeliverer* deliverer,
                           std::string object_ref_base) {
  std::lock_guard lock(mu_);
  opt_.object_ref_base = std::move(object_ref_base);
  subs_ = subscriptions;
  deliverer_ = deliverer;
}

void AlarmService::load() {
  std::lock_guard lock(mu_);
  by_id_.clear();
  active_.clear();
  for (auto& row : store_.alarms()) {
    AlarmEntry e;
    e.doc = nlohmann::json::parse(row.record_json, nullptr, false);
    if (!e.doc.is_object()) {
      spdlog::error("alarm {}: stored record is not valid JSON; skipped", row.id);
      continue;
    }
    e.id = row.id;
    e.source = std::move(row.source);
    e.key = std::move(row.key);
    e.active = row.active;
    e.clearing_type = std::move(row.clearing_type);
    e.raised_ms = row.raised_ms;
    e.changed_ms = row.changed_ms;
    e.cleared_ms = row.cleared_ms;
    if (e.active) active_[{e.source, e.key}] = e.id;
    std::string id = e.id;  // the right-hand side below is evaluated first
    by_id_[id] = finalize(std::move(e));
  }
  if (auto stored = store_.alarm_configuration()) {
    auto j = nlohmann::json::parse(*stored, nullptr, false);
    if (j.is_object()) config_ = std::move(j);
  }
  if (metrics_ != nullptr) metrics_->set_active_alarms(static_cast<double>(active_.size()));
  spdlog::info("alarms: {} stored, {} active", by_id_.size(), active_.size());
}

std::optional<AlarmRejection> AlarmService::resolve(const AlarmReport& r, Resolved& out) const {
  out.resource_id = lower(r.resource_id);
  if (out.resource_id.empty()) return AlarmRejection{"no resource id"};
  if (r.resource_type_id.empty()) {
    auto res = inventory_.get(Kind::resource, out.resource_id);
    if (!res) return AlarmRejection{"no resource with resourceId " + out.resource_id + " in the inventory"};
    const auto* t = string_field(res->doc, "resourceTypeId");
    if (t == nullptr) return AlarmRejection{"resource " + out.resource_id + " has no resourceTypeId"};
    out.resource_type_id = lower(t->get<std::string>());
  } else {
    out.resource_type_id = lower(r.resource_type_id);
    bool known = false;
    for (Kind k : {Kind::resource, Kind::deployment_manager, Kind::resource_pool}) {
      known = known || inventory_.get(k, out.resource_id) != nullptr;
    }
    if (!known) return AlarmRejection{"no object with id " + out.resource_id + " in the inventory"};
  }
  auto type = inventory_.get(Kind::resource_type, out.resource_type_id);
  if (!type) return AlarmRejection{"no resource type with resourceTypeId " + out.resource_type_id};
  const nlohmann::json* defs = nullptr;
  ObjectPtr dict;
  if (const auto* dict_id = string_field(type->doc, "alarmDictionaryId")) {
    dict = inventory_.get(Kind::alarm_dictionary, dict_id->get<std::string>());
    if (dict) {
      auto it = dict->doc.find("alarmDefinition");
      if (it != dict->doc.end() && it->is_array()) defs = &*it;
    }
  }
  if (defs == nullptr) {
    if (auto it = type->doc.find("alarmDictionary"); it != type->doc.end() && it->is_object()) {
      auto d = it->find("alarmDefinition");
      if (d != it->end() && d->is_array()) defs = &*d;
    }
  }
  if (defs == nullptr) return AlarmRejection{"resource type " + out.resource_type_id + " has no alarm dictionary"};
  const std::string wanted_id = lower(r.definition);
  const std::string wanted_slug = slug(r.definition);
  for (const auto& d : *defs) {
    const auto* id = string_field(d, "alarmDefinitionId");
    if (id == nullptr) continue;
    const auto* name = string_field(d, "alarmName");
    bool match = lower(id->get<std::string>()) == wanted_id ||
                 (name != nullptr && (lower(name->get<std::string>()) == wanted_id ||
                                      (!wanted_slug.empty() && slug(name->get<std::string>()) == wanted_slug)));
    if (!match) continue;
    out.definition_id = lower(id->get<std::string>());
    out.clearing_type = d.value("clearingType", std::string());
    return std::nullopt;
  }
  return AlarmRejection{"no alarm definition '" + r.definition + "' in the alarm dictionary of resource type " +
                        out.resource_type_id};
}

AlarmPtr AlarmService::active_locked(std::string_view source, std::string_view key) const {
  auto it = active_.find({std::string(source), std::string(key)});
  if (it == active_.end()) return nullptr;
  auto a = by_id_.find(it->second);
  return a == by_id_.end() ? nullptr : a->second;
}

std::optional<AlarmRejection> AlarmService::raise(const AlarmReport& report) {
  if (report.severity == Severity::cleared) return AlarmRejection{"severity CLEARED is not raised: clear the alarm"};
  if (report.source.empty() || report.key.empty()) return AlarmRejection{"an alarm needs a source and a key"};
  if (!report.extensions.is_object()) return AlarmRejection{"extensions must be a JSON object"};
  Resolved res;
  if (auto why = resolve(report, res)) return why;
  const auto at = now();
  const std::int64_t at_ms = to_ms(at);
  std::lock_guard lock(mu_);
  if (auto current = active_locked(report.source, report.key)) {
    AlarmEntry next = *current;
    next.doc["perceivedSeverity"] = static_cast<int>(report.severity);
    next.doc["extensions"] = report.extensions;
    next.doc["resourceID"] = res.resource_id;
    next.doc["resourceTypeID"] = res.resource_type_id;
    next.doc["alarmDefinitionID"] = res.definition_id;
    next.doc["probableCauseID"] = probable_cause_id(res.definition_id);
    if (next.doc == current->doc) return std::nullopt;  // the same report again
    next.doc["alarmChangedTime"] = format_rfc3339(at);
    next.changed_ms = at_ms;
    next.clearing_type = res.clearing_type;
    commit(std::move(next), static_cast<int>(AlarmEventType::changed), at_ms);
    return std::nullopt;
  }
  AlarmEntry e;
  e.id = Uuid::v4().str();
  e.source = report.source;
  e.key = report.key;
  e.active = true;
  e.clearing_type = res.clearing_type;
  const auto raised = report.since.value_or(at);
  e.raised_ms = to_ms(raised);
  e.changed_ms = at_ms;
  e.doc = {{"alarmEventRecordId", e.id},
           {"alarmDefinitionID", res.definition_id},
           {"probableCauseID", probable_cause_id(res.definition_id)},
           {"resourceTypeID", res.resource_type_id},
           {"resourceID", res.resource_id},
           {"alarmRaisedTime", format_rfc3339(raised)},
           {"alarmAcknowledged", false},
           {"perceivedSeverity", static_cast<int>(report.severity)},
           {"extensions", report.extensions}};
  commit(std::move(e), static_cast<int>(AlarmEventType::created), at_ms);
  return std::nullopt;
}

void AlarmService::clear(std::string_view source, std::string_view key) {
  const std::int64_t at_ms = to_ms(now());
  std::lock_guard lock(mu_);
  if (auto current = active_locked(source, key)) clear_locked(current, at_ms);
}

void AlarmService::retain_only(std::string_view source, const std::vector<std::string>& active_keys) {
  const std::set<std::string_view> keep(active_keys.begin(), active_keys.end());
  const std::int64_t at_ms = to_ms(now());
  std::lock_guard lock(mu_);
  std::vector<AlarmPtr> doomed;
  for (auto it = active_.lower_bound({std::string(source), std::string()});
       it != active_.end() && it->first.first == source; ++it) {
    if (keep.contains(it->first.second)) continue;
    if (auto a = by_id_.find(it->second); a != by_id_.end()) doomed.push_back(a->second);
  }
  for (const auto& a : doomed) clear_locked(a, at_ms);
}

void AlarmService::clear_locked(const AlarmPtr& alarm, std::int64_t at_ms) {
  AlarmEntry next = *alarm;
  next.active = false;
  next.cleared_ms = at_ms;
  next.changed_ms = at_ms;
  const std::string t = rfc3339_ms(at_ms);
  next.doc["perceivedSeverity"] = static_cast<int>(Severity::cleared);
  next.doc["alarmClearedTime"] = t;
  next.doc["alarmChangedTime"] = t;
  commit(std::move(next), static_cast<int>(AlarmEventType::cleared), at_ms);
}

void AlarmService::commit(AlarmEntry next, int event_type, std::int64_t at_ms) {
  AlarmPtr entry = finalize(std::move(next));
  AlarmRow row{entry->id,   entry->source,    entry->key,        entry->active,    entry->clearing_type,
               entry->json, entry->raised_ms, entry->changed_ms, entry->cleared_ms};
  AlarmHistoryRow history{entry->id, event_type, entry->json, at_ms};

  // Match the subscribers before the write, so the event and its notifications are one transaction.
  std::vector<PendingEvent> pending;
  if (subs_ != nullptr) {
    const std::string object_ref = opt_.object_ref_base + "/" + entry->id;
    nlohmann::json doc = notification_doc(*entry, event_type, object_ref);
    PendingEvent pe;
    for (const auto& s : *subs_->snapshot()) {
      if (s->filter_broken) continue;
      bool report = true;
      if (!s->filter.empty()) {
        bool match = s->filter.matches(doc);
        report = opt_.filter_mode == SubscriptionsConfig::FilterMode::exclude ? !match : match;
      }
      if (!report) continue;
      OutboxEntry e;
      e.notification_id = Uuid::v7().str();
      e.subscription_id = s->record.id;
      e.next_attempt_ms = at_ms;
      e.enqueued_ms = at_ms;
      pe.entries.push_back(std::move(e));
    }
    if (!pe.entries.empty()) {
      pe.event.family = SubscriptionFamily::alarm;
      pe.event.event_type = event_type;
      pe.event.object_ref = object_ref;
      pe.event.post_json = doc.dump();
      pe.event.created_ms = at_ms;
      pending.push_back(std::move(pe));
    }
  }
  try {
    store_.save_alarm(row, history, pending);
  } catch (const std::exception& e) {
    // Better a subscription deleted meanwhile costs its notification than the alarm is lost.
    spdlog::error("alarm {}: storing the {} event failed ({}); retrying without notifications", entry->id,
                  alarm_event_type_name(static_cast<AlarmEventType>(event_type)), e.what());
    pending.clear();
    try {
      store_.save_alarm(row, history, pending);
    } catch (const std::exception& again) {
      spdlog::critical("alarm {}: the event could not be stored: {}", entry->id, again.what());
      return;
    }
  }
  if (entry->active) {
    active_[{entry->source, entry->key}] = entry->id;
  } else {
    active_.erase({entry->source, entry->key});
  }
  by_id_[entry->id] = entry;
  spdlog::info("alarm {} {} ({}/{}, severity {})", entry->id,
               alarm_event_type_name(static_cast<AlarmEventType>(event_type)), entry->source, entry->key,
               entry->doc.value("perceivedSeverity", 4));
  if (metrics_ != nullptr) {
    metrics_->count_alarm(metric_event(event_type));
    metrics_->set_active_alarms(static_cast<double>(active_.size()));
  }
  if (!pending.empty() && deliverer_ != nullptr) {
    std::vector<OutboxEntry> entries;
    std::vector<std::shared_ptr<const EventRecord>> events;
    for (auto& pe : pending) {
      events.push_back(std::make_shared<const EventRecord>(std::move(pe.event)));
      for (auto& e : pe.entries) entries.push_back(std::move(e));
    }
    if (metrics_ != nullptr) metrics_->count_notifications("enqueued", static_cast<double>(entries.size()));
    deliverer_->submit(std::move(entries), std::move(events));
  }
}

std::vector<AlarmPtr> AlarmService::alarms() const {
  std::lock_guard lock(mu_);
  std::vector<AlarmPtr> out;
  out.reserve(by_id_.size());
  for (const auto& [id, a] : by_id_) out.push_back(a);
  return out;
}

AlarmPtr AlarmService::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(lower(id));
  return it == by_id_.end() ? nullptr : it->second;
}

std::size_t AlarmService::active_count() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

AlarmService::PatchResult AlarmService::patch(const std::string& id, const nlohmann::json& body) {
  auto bad = [](std::string detail) { return Problem{400, "Bad Request", std::move(detail)}; };
  if (!body.is_object()) return bad("the request body must be a JSON object (AlarmEventRecordModifications)");
  for (const auto& [k, v] : body.items()) {
    if (k != "alarmAcknowledged" && k != "perceivedSeverity") {
      return bad("unknown field '" + k +
                 "' (AlarmEventRecordModifications has alarmAcknowledged and perceivedSeverity)");
    }
  }
  const bool ack = body.contains("alarmAcknowledged");
  const bool sev = body.contains("perceivedSeverity");
  if (ack && sev) return bad("alarmAcknowledged and perceivedSeverity cannot be modified in one request");
  if (!ack && !sev) return bad("the request body must set alarmAcknowledged or perceivedSeverity");
  if (ack) {
    const auto& v = body["alarmAcknowledged"];
    if (!v.is_boolean()) return bad("alarmAcknowledged must be a boolean");
    if (!v.get<bool>()) return bad("alarmAcknowledged can only be set to true: an acknowledgement cannot be withdrawn");
  } else {
    const auto& v = body["perceivedSeverity"];
    if (!v.is_number_integer()) return bad("perceivedSeverity must be an integer");
    if (v.get<std::int64_t>() != static_cast<int>(Severity::cleared)) {
      return bad("perceivedSeverity can only be set to 5 (CLEARED)");
    }
  }
  const auto at = now();
  const std::int64_t at_ms = to_ms(at);
  std::lock_guard lock(mu_);
  auto it = by_id_.find(lower(id));
  if (it == by_id_.end()) return Problem{404, "Not Found", "no alarm with alarmEventRecordId " + id};
  AlarmPtr current = it->second;
  if (ack) {
    if (current->doc.value("alarmAcknowledged", false)) {
      return Problem{409, "Conflict", "alarm " + current->id + " is already acknowledged"};
    }
    AlarmEntry next = *current;
    next.doc["alarmAcknowledged"] = true;
    next.doc["alarmAcknowledgedTime"] = format_rfc3339(at);
    commit(std::move(next), static_cast<int>(AlarmEventType::acknowledged), at_ms);
    return nlohmann::json{{"alarmAcknowledged", true}};
  }
  if (!current->active) return Problem{409, "Conflict", "alarm " + current->id + " is already cleared"};
  if (lower(current->clearing_type) != "manual") {
    return Problem{409, "Conflict",
                   "alarm " + current->id + " cannot be cleared manually: its definition's clearingType is " +
                       (current->clearing_type.empty() ? std::string("not MANUAL") : current->clearing_type) +
                       ", so only its source clears it"};
  }
  clear_locked(current, at_ms);
  return nlohmann::json{{"perceivedSeverity", static_cast<int>(Severity::cleared)}};
}

nlohmann::json AlarmService::configuration() const {
  std::lock_guard lock(mu_);
  return config_;
}

AlarmService::PatchResult AlarmService::update_configuration(const nlohmann::json& body, bool merge) {
  auto bad = [](std::string detail) { return Problem{400, "Bad Request", std::move(detail)}; };
  const char* noun = merge ? "AlarmServiceConfigurationPatch" : "AlarmServiceConfiguration";
  if (!body.is_object()) return bad(std::string("the request body must be a JSON object (") + noun + ")");
  for (const auto& [k, v] : body.items()) {
    if (k != "retentionPeriod" && k != "extensions") {
      return bad("unknown field '" + k + "' (" + noun + " has retentionPeriod and extensions)");
    }
  }
  if (auto r = body.find("retentionPeriod"); r != body.end()) {
    if (r->is_null() && merge) return bad("retentionPeriod cannot be removed");
    if (!r->is_number_integer()) return bad("retentionPeriod must be an integer (days)");
    if (r->get<std::int64_t>() < 1) return bad("retentionPeriod must be at least 1 (day)");
    if (r->get<std::int64_t>() > kMaxRetentionDays) {
      return bad("retentionPeriod must be at most " + std::to_string(kMaxRetentionDays) + " (days)");
    }
  } else if (!merge) {
    return bad("retentionPeriod is required");
  }
  if (auto e = body.find("extensions"); e != body.end() && !e->is_object() && !(merge && e->is_null())) {
    return bad("extensions must be a JSON object");
  }
  std::lock_guard lock(mu_);
  nlohmann::json next = config_;
  if (merge) {
    next.merge_patch(body);
    if (!next.contains("extensions")) next["extensions"] = nlohmann::json::object();
  } else {
    next = {{"retentionPeriod", body["retentionPeriod"]},
            {"extensions", body.value("extensions", nlohmann::json::object())}};
  }
  try {
    store_.save_alarm_configuration(next.dump());
  } catch (const std::exception& e) {
    spdlog::error("storing the alarm service configuration failed: {}", e.what());
    return Problem{500, "Internal Server Error", "the configuration could not be stored; see the server log"};
  }
  config_ = next;
  return next;
}

std::size_t AlarmService::purge(Clock::time_point at) {
  std::lock_guard lock(mu_);
  const std::int64_t days = config_.value("retentionPeriod", opt_.default_retention_days);
  const std::int64_t cutoff = to_ms(at) - days * 86400LL * 1000LL;
  std::vector<std::string> ids;
  try {
    ids = store_.purge_alarms(cutoff);
  } catch (const std::exception& e) {
    spdlog::error("purging cleared alarms failed: {}", e.what());
    return 0;
  }
  for (const auto& id : ids) by_id_.erase(id);
  if (!ids.empty()) spdlog::info("purged {} cleared alarm(s) older than {} day(s)", ids.size(), days);
  return ids.size();
}

}  // namespace o2gw
