// The informer's cache arithmetic, kept pure so that the no-lost, no-duplicate
// promise can be tested without a server: a full list is diffed against the
// cache by key and resourceVersion; a watch event is applied unless it replays
// the version already cached.
#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

using nlohmann::json;

namespace {

const std::string& resource_version(const json& object) {
  static const std::string kEmpty;
  if (!object.is_object()) return kEmpty;
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return kEmpty;
  auto rv = m->find("resourceVersion");
  return rv != m->end() && rv->is_string() ? rv->get_ref<const std::string&>() : kEmpty;
}

// Equal versions mean the same state; an object without one always counts as changed.
bool same_version(const json& a, const json& b) {
  const auto& va = resource_version(a);
  return !va.empty() && va == resource_version(b);
}

}  // namespace

std::vector<InformerChange> reconcile(ObjectCache& cache, std::vector<json> items) {
  ObjectCache next;
  for (auto& item : items) {
    std::string key = object_key(item);
    if (key.empty()) continue;
    next.insert_or_assign(std::move(key), std::move(item));
  }
  std::vector<InformerChange> changes;
  auto old_it = cache.begin();
  auto new_it = next.begin();
  // One merge pass over both maps in key order.
  while (old_it != cache.end() || new_it != next.end()) {
    if (new_it == next.end() || (old_it != cache.end() && old_it->first < new_it->first)) {
      InformerChange& c = changes.emplace_back();
      c.type = InformerChange::Type::deleted;
      c.key = old_it->first;
      c.old = old_it->second;
      c.object = std::move(old_it->second);
      ++old_it;
    } else if (old_it == cache.end() || new_it->first < old_it->first) {
      InformerChange& c = changes.emplace_back();
      c.type = InformerChange::Type::added;
      c.key = new_it->first;
      c.object = new_it->second;
      ++new_it;
    } else {
      if (!same_version(old_it->second, new_it->second)) {
        InformerChange& c = changes.emplace_back();
        c.type = InformerChange::Type::modified;
        c.key = new_it->first;
        c.object = new_it->second;
        c.old = std::move(old_it->second);
      }
      ++old_it;
      ++new_it;
    }
  }
  cache = std::move(next);
  return changes;
}

void apply_watch_event(ObjectCache& cache, WatchEvent& event, std::vector<InformerChange>& changes) {
  using T = WatchEvent::Type;
  if (event.type != T::added && event.type != T::modified && event.type != T::deleted) return;
  std::string key = object_key(event.object);
  if (key.empty()) return;
  auto it = cache.find(key);
  if (event.type == T::deleted) {
    if (it == cache.end()) return;
    InformerChange& c = changes.emplace_back();
    c.type = InformerChange::Type::deleted;
    c.key = std::move(key);
    c.object = std::move(event.object);
    c.old = std::move(it->second);
    cache.erase(it);
    return;
  }
  if (it != cache.end() && same_version(it->second, event.object)) return;  // a replay
  InformerChange& c = changes.emplace_back();
  c.key = key;
  if (it == cache.end()) {
    c.type = InformerChange::Type::added;
    it = cache.emplace(std::move(key), std::move(event.object)).first;
  } else {
    c.type = InformerChange::Type::modified;
    c.old = std::move(it->second);
    it->second = std::move(event.object);
  }
  c.object = it->second;
}

}  // namespace o2gw::k8s
