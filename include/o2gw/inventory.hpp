// The O-Cloud inventory model and the in-memory cache every API read is served
// from. IMS adapters feed it (a whole snapshot per source, or single changes);
// readers never wait on a back end. Each object keeps its canonical JSON
// serialised once, so a GET is a copy and a list is a concatenation.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <map>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

namespace o2gw {

enum class Kind {
  resource_type,
  alarm_dictionary,
  resource_pool,
  resource,
  deployment_manager,
  location,
  ocloud_site,
};
inline constexpr std::size_t kKindCount = 7;

std::string_view kind_name(Kind k);  // "resourceType", ... (the O2 object name)

struct InventoryObject {
  Kind kind = Kind::resource;
  std::string id;         // O2 id: a UUID, or the SMO's globalLocationId for locations
  std::string parent_id;  // resource: its resourcePoolId; otherwise empty
  std::string source;     // adapter instance that owns the object
  nlohmann::json doc;     // the O2 representation
  std::string json;       // doc.dump(), computed once by finalize()

  void finalize() { json = doc.dump(); }
};
using ObjectPtr = std::shared_ptr<const InventoryObject>;

enum class ChangeType { create, modify, remove };
std::string_view change_type_name(ChangeType t);

struct Change {
  ChangeType type = ChangeType::create;
  Kind kind = Kind::resource;
  std::string id;
  ObjectPtr prior;  // null on create
  ObjectPtr post;   // null on remove
};

// Diff of one source's previous objects against its new full set. Objects are
// keyed by (kind, id); "modify" when the canonical JSON differs. Pure: the file
// adapter's reload and the cache both use it.
using ObjectMap = std::map<std::pair<Kind, std::string>, ObjectPtr>;
std::vector<Change> diff_objects(const ObjectMap& before, const ObjectMap& after);

// Derived data a reader may attach to one id-ordered snapshot of a list (e.g. the
// query engine's per-attribute columns): built once, dropped with the snapshot when
// the list changes. Bounded, so client-chosen keys cannot grow it without limit.
class SnapshotMemo {
 public:
  static constexpr std::size_t kMaxEntries = 16;
  using Builder = std::function<std::shared_ptr<const void>()>;
  [[nodiscard]] std::shared_ptr<const void> get_or_build(const std::string& key, const Builder& build) const;

 private:
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const void>> entries_;
};

class InventoryCache {
 public:
  using Listener = std::function<void(const Change&)>;

  // Replaces everything `source` owns with `objects` (a full snapshot) and
  // returns the changes applied. Objects whose (kind, id) another source owns
  // are skipped and counted as conflicts.
  std::vector<Change> replace_source(const std::string& source, std::vector<InventoryObject> objects);

  // Incremental updates from `source`: upserts and removals by (kind, id).
  std::vector<Change> apply(const std::string& source, std::vector<InventoryObject> upserts,
                            const std::vector<std::pair<Kind, std::string>>& removals);

  [[nodiscard]] ObjectPtr get(Kind kind, const std::string& id) const;
  [[nodiscard]] std::size_t count(Kind kind) const;
  [[nodiscard]] std::size_t conflicts() const;

  // Visits the objects of a kind in id order under a shared lock (keep fn short:
  // it runs while writers wait). With a parent id, only its children.
  void visit(Kind kind, const std::function<void(const InventoryObject&)>& fn) const;
  void visit_children(Kind kind, const std::string& parent_id,
                      const std::function<void(const InventoryObject&)>& fn) const;

  // Calls fn with every object of a kind (or only the children of `parent_id` when
  // given), in id order, while holding the shared lock: the pointers stay valid and
  // the objects unchanged for the duration of fn. Used by the query engine.
  void with_objects(Kind kind, const std::string* parent_id,
                    const std::function<void(std::span<const InventoryObject* const>, const SnapshotMemo&)>& fn) const;

  // Called synchronously, after the write lock is released, for every change.
  void add_listener(Listener l);
  // Same, once per write with all its changes (in order): for listeners that batch
  // work, like the notifier's single outbox transaction per write.
  using BatchListener = std::function<void(std::span<const Change>)>;
  void add_batch_listener(BatchListener l);

 private:
  void commit(const std::string& source, const std::vector<Change>& changes);
  void notify(const std::vector<Change>& changes);

  mutable std::shared_mutex mu_;
  std::map<std::string, ObjectPtr> by_kind_[kKindCount];
  std::unordered_map<std::string, std::map<std::string, ObjectPtr>> children_;  // parent -> id -> obj
  std::unordered_map<std::string, ObjectMap> by_source_;
  std::size_t conflicts_ = 0;
  // Id-ordered pointer arrays per kind ("" parent) and per parent, built on first
  // read and dropped by commit() when their set changes, so a list request does
  // not walk a 100,000-node map. Guarded by snapshot_mu_ and read under mu_.
  struct SnapshotKey {
    Kind kind;
    std::string parent;
    bool operator==(const SnapshotKey&) const = default;
  };
  struct SnapshotKeyHash {
    std::size_t operator()(const SnapshotKey& k) const {
      return std::hash<std::string>()(k.parent) ^ static_cast<std::size_t>(k.kind);
    }
  };
  mutable std::mutex snapshot_mu_;
  struct Snapshot {
    std::vector<const InventoryObject*> items;
    SnapshotMemo memo;
  };
  mutable std::unordered_map<SnapshotKey, std::shared_ptr<const Snapshot>, SnapshotKeyHash> snapshots_;
  std::vector<Listener> listeners_;
  std::vector<BatchListener> batch_listeners_;
  std::mutex listeners_mu_;
};

}  // namespace o2gw
