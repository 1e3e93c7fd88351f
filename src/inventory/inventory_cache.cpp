#include "o2gw/inventory.hpp"

#include <mutex>

namespace o2gw {

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::resource_type: return "resourceType";
    case Kind::alarm_dictionary: return "alarmDictionary";
    case Kind::resource_pool: return "resourcePool";
    case Kind::resource: return "resource";
    case Kind::deployment_manager: return "deploymentManager";
    case Kind::location: return "location";
    case Kind::ocloud_site: return "oCloudSite";
  }
  return "unknown";
}

std::string_view change_type_name(ChangeType t) {
  switch (t) {
    case ChangeType::create: return "create";
    case ChangeType::modify: return "modify";
    case ChangeType::remove: return "delete";
  }
  return "unknown";
}

std::vector<Change> diff_objects(const ObjectMap& before, const ObjectMap& after) {
  std::vector<Change> out;
  auto b = before.begin();
  auto a = after.begin();
  // Both maps are ordered by (kind, id): one merge pass.
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({ChangeType::remove, b->first.first, b->first.second, b->second, nullptr});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({ChangeType::create, a->first.first, a->first.second, nullptr, a->second});
      ++a;
    } else {
      if (b->second->json != a->second->json || b->second->parent_id != a->second->parent_id) {
        out.push_back({ChangeType::modify, a->first.first, a->first.second, b->second, a->second});
      }
      ++a;
      ++b;
    }
  }
  return out;
}

std::vector<Change> InventoryCache::replace_source(const std::string& source,
                                                   std::vector<InventoryObject> objects) {
  ObjectMap after;
  for (auto& o : objects) {
    if (o.json.empty()) o.finalize();
    o.source = source;
    auto key = std::make_pair(o.kind, o.id);
    after[key] = std::make_shared<const InventoryObject>(std::move(o));
  }
  std::vector<Change> changes;
  {
    std::unique_lock lock(mu_);
    // Drop objects another source already owns (e.g. the same SMO location id in two files).
    for (auto it = after.begin(); it != after.end();) {
      const auto& existing = by_kind_[static_cast<std::size_t>(it->first.first)];
      auto found = existing.find(it->first.second);
      if (found != existing.end() && found->second->source != source) {
        ++conflicts_;
        it = after.erase(it);
      } else {
        ++it;
      }
    }
    static const ObjectMap kNone;
    auto src = by_source_.find(source);
    changes = diff_objects(src == by_source_.end() ? kNone : src->second, after);
    commit(source, changes);
  }
  notify(changes);
  return changes;
}

std::vector<Change> InventoryCache::apply(const std::string& source,
                                          std::vector<InventoryObject> upserts,
                                          const std::vector<std::pair<Kind, std::string>>& removals) {
  std::vector<Change> changes;
  {
    std::unique_lock lock(mu_);
    // Diff only the touched keys: a churn of 10 objects must not cost a pass over 100,000.
    const ObjectMap& mine = by_source_[source];
    ObjectMap before_touched;
    ObjectMap after_touched;
    for (const auto& key : removals) {
      if (auto it = mine.find(key); it != mine.end()) before_touched.insert(*it);
      after_touched.erase(key);
    }
    for (auto& o : upserts) {
      if (o.json.empty()) o.finalize();
      o.source = source;
      auto key = std::make_pair(o.kind, o.id);
      const auto& existing = by_kind_[static_cast<std::size_t>(o.kind)];
      auto found = existing.find(o.id);
      if (found != existing.end() && found->second->source != source) {
        ++conflicts_;
        continue;
      }
      if (auto it = mine.find(key); it != mine.end()) before_touched.insert(*it);
      after_touched[key] = std::make_shared<const InventoryObject>(std::move(o));
    }
    changes = diff_objects(before_touched, after_touched);
    commit(source, changes);
  }
  notify(changes);
  return changes;
}

// Caller holds the write lock.
void InventoryCache::commit(const std::string& source, const std::vector<Change>& changes) {
  if (!changes.empty()) {
    // Readers hold mu_ shared while using a snapshot; we hold it exclusively here.
    std::lock_guard snap_lock(snapshot_mu_);
    for (const auto& c : changes) {
      snapshots_.erase(SnapshotKey{c.kind, {}});
      if (c.prior && !c.prior->parent_id.empty()) snapshots_.erase(SnapshotKey{c.kind, c.prior->parent_id});
      if (c.post && !c.post->parent_id.empty()) snapshots_.erase(SnapshotKey{c.kind, c.post->parent_id});
    }
  }
  ObjectMap& mine = by_source_[source];
  for (const auto& c : changes) {
    auto& kind_map = by_kind_[static_cast<std::size_t>(c.kind)];
    auto key = std::make_pair(c.kind, c.id);
    if (c.prior) {
      kind_map.erase(c.id);
      mine.erase(key);
      if (!c.prior->parent_id.empty()) {
        auto it = children_.find(c.prior->parent_id);
        if (it != children_.end()) {
          it->second.erase(c.id);
          if (it->second.empty()) children_.erase(it);
        }
      }
    }
    if (c.post) {
      kind_map[c.id] = c.post;
      mine[key] = c.post;
      if (!c.post->parent_id.empty()) children_[c.post->parent_id][c.id] = c.post;
    }
  }
  if (mine.empty()) by_source_.erase(source);
}

void InventoryCache::notify(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::vector<Listener> ls;
  std::vector<BatchListener> bls;
  {
    std::lock_guard lock(listeners_mu_);
    ls = listeners_;
    bls = batch_listeners_;
  }
  for (const auto& c : changes) {
    for (const auto& l : ls) l(c);
  }
  for (const auto& l : bls) l(std::span<const Change>(changes));
}

void InventoryCache::add_batch_listener(BatchListener l) {
  std::lock_guard lock(listeners_mu_);
  batch_listeners_.push_back(std::move(l));
}

ObjectPtr InventoryCache::get(Kind kind, const std::string& id) const {
  std::shared_lock lock(mu_);
  const auto& m = by_kind_[static_cast<std::size_t>(kind)];
  auto it = m.find(id);
  return it == m.end() ? nullptr : it->second;
}

std::size_t InventoryCache::count(Kind kind) const {
  std::shared_lock lock(mu_);
  return by_kind_[static_cast<std::size_t>(kind)].size();
}

std::size_t InventoryCache::conflicts() const {
  std::shared_lock lock(mu_);
  return conflicts_;
}

void InventoryCache::visit(Kind kind, const std::function<void(const InventoryObject&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [id, obj] : by_kind_[static_cast<std::size_t>(kind)]) fn(*obj);
}

void InventoryCache::visit_children(Kind kind, const std::string& parent_id,
                                    const std::function<void(const InventoryObject&)>& fn) const {
  std::shared_lock lock(mu_);
  auto it = children_.find(parent_id);
  if (it == children_.end()) return;
  for (const auto& [id, obj] : it->second) {
    if (obj->kind == kind) fn(*obj);
  }
}

std::shared_ptr<const void> SnapshotMemo::get_or_build(const std::string& key, const Builder& build) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  }
  auto value = build();  // outside the lock: two readers may build the same entry once each
  std::lock_guard lock(mu_);
  if (entries_.size() < kMaxEntries) entries_.emplace(key, value);
  return value;
}

void InventoryCache::with_objects(
    Kind kind, const std::string* parent_id,
    const std::function<void(std::span<const InventoryObject* const>, const SnapshotMemo&)>& fn) const {
  std::shared_lock lock(mu_);
  SnapshotKey key{kind, parent_id == nullptr ? std::string() : *parent_id};
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard snap_lock(snapshot_mu_);
    auto it = snapshots_.find(key);
    if (it != snapshots_.end()) {
      snap = it->second;
    } else {
      auto built = std::make_shared<Snapshot>();
      if (parent_id == nullptr) {
        const auto& m = by_kind_[static_cast<std::size_t>(kind)];
        built->items.reserve(m.size());
        for (const auto& [id, obj] : m) built->items.push_back(obj.get());
      } else if (auto c = children_.find(*parent_id); c != children_.end()) {
        built->items.reserve(c->second.size());
        for (const auto& [id, obj] : c->second) {
          if (obj->kind == kind) built->items.push_back(obj.get());
        }
      }
      snap = built;
      snapshots_.emplace(std::move(key), std::move(built));
    }
  }
  fn(std::span<const InventoryObject* const>(snap->items.data(), snap->items.size()), snap->memo);
}

void InventoryCache::add_listener(Listener l) {
  std::lock_guard lock(listeners_mu_);
  listeners_.push_back(std::move(l));
}

}  // namespace o2gw
