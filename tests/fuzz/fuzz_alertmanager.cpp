// Fuzzes the Alertmanager webhook receiver's input path: the payload parser and,
// for payloads it accepts, the mapping to alarm reports (resource resolution
// against a small inventory, severity, fingerprints, RFC 3339 times). A crash,
// a sanitizer report or an escaped exception is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "o2gw/alertmanager.hpp"
#include "o2gw/inventory.hpp"

namespace {

class NullSink final : public o2gw::AlarmSink {
 public:
  std::optional<o2gw::AlarmRejection> raise(const o2gw::AlarmReport& r) override {
    if (r.key.empty() || r.resource_id.empty() || r.severity == o2gw::Severity::cleared) std::abort();
    if (r.key.size() % 3 == 0) return o2gw::AlarmRejection{"rejected"};  // exercise the unmapped path
    return std::nullopt;
  }
  void clear(std::string_view, std::string_view) override {}
  void retain_only(std::string_view, const std::vector<std::string>&) override {}
};

const o2gw::InventoryCache& cache() {
  static const o2gw::InventoryCache* c = [] {
    auto* out = new o2gw::InventoryCache();
    std::vector<o2gw::InventoryObject> objects;
    for (const char* name : {"worker-1", "worker-2"}) {
      o2gw::InventoryObject o;
      o.kind = o2gw::Kind::resource;
      o.id = std::string("00000000-0000-4000-8000-00000000000") + name[7];
      o.doc = {{"resourceId", o.id}, {"globalAssetId", "A"}, {"extensions", {{"nodeName", name}}}};
      o.finalize();
      objects.push_back(std::move(o));
    }
    out->replace_source("fuzz", std::move(objects));
    return out;
  }();
  return *c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static NullSink sink;
  static o2gw::AlertmanagerReceiver receiver(sink, cache(), o2gw::AlertmanagerConfig{});
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = o2gw::parse_alertmanager_payload(text);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    if (error->empty()) std::abort();  // every rejection says why
    return 0;
  }
  const auto& payload = std::get<o2gw::AlertmanagerPayload>(parsed);
  for (const auto& alert : payload.alerts) {
    if (alert.fingerprint.empty()) std::abort();
    (void)o2gw::parse_alert_time(alert.ends_at);
  }
  const auto outcome = receiver.apply(payload);
  if (outcome.raised + outcome.cleared + outcome.unmapped != payload.alerts.size()) std::abort();
  return 0;
}
