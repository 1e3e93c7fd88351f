// The query engine behind every list endpoint: ETSI GS NFV-SOL 013 attribute-based
// filtering (§5.2), attribute selectors (§5.3), paging by a signed opaque marker
// (§5.4), and sorting (an o2gw extension). A handler parses a ListQuery once per
// request (a Problem on bad input), then runs it over the candidate objects.
//
// Everything is parsed and compiled up front; evaluation walks the in-memory JSON
// without re-parsing or allocating, and reuses each object's pre-serialised JSON.
// This header is kept light on purpose: no Beast, no Asio, no full nlohmann/json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "o2gw/problem.hpp"

namespace o2gw {

enum class Kind;  // o2gw/inventory.hpp
struct InventoryObject;
class SnapshotMemo;

// Where an attribute path's walk through nested objects stopped for one object:
// the node reached and how many path segments that took (fewer than the path when
// an array is in the way, which evaluation then descends). Null node: absent.
// Precomputed per list snapshot (a "column"), it spares each query the walk.
namespace query_detail {
struct LeafRef;
}
struct PathStart {
  const nlohmann::json* node = nullptr;
  std::uint8_t depth = 0;
  // Set when the full path reached a string, number or boolean without arrays.
  const query_detail::LeafRef* leaf = nullptr;
};

// A parsed value or the 400 Problem that explains why the input was rejected.
template <typename T>
class Parsed {
 public:
  Parsed(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Parsed(Problem problem) : v_(std::move(problem)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] T& value() & { return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  [[nodiscard]] const Problem& problem() const { return std::get<1>(v_); }

 private:
  std::variant<T, Problem> v_;
};

// ---------------------------------------------------------------------------
// Attribute schemas: what a filter, selector or sort key may name, and how values
// compare. One per object type; built once at start-up, immutable afterwards.

enum class AttrType : std::uint8_t {
  string,    // compared by Unicode code point (UTF-8 byte order)
  uuid,      // compared case-insensitively; filter values must be UUIDs
  number,    // compared numerically
  integer,   // compared numerically
  boolean,   // eq/neq/in/nin only
  datetime,  // RFC 3339, compared chronologically
  object,    // open object (extensions, capabilities, ...): any path below it is
             // allowed and typed by the JSON value found there
  record,    // object with known fields, described by a nested schema
};

class AttributeSchema {
 public:
  struct Attribute {
    std::string name;
    AttrType type = AttrType::string;
    bool array = false;                             // array of `type`
    std::shared_ptr<const AttributeSchema> fields;  // record: its fields
    bool recursive = false;                         // record whose fields are this schema
    // SOL013 "complex": structured or array valued.
    [[nodiscard]] bool complex() const { return array || type == AttrType::object || type == AttrType::record; }
  };

  // `name` identifies the schema in markers and messages ("Resource");
  // `id_attribute` is always kept by selectors ("resourceId"), empty for nested records.
  explicit AttributeSchema(std::string name, std::string id_attribute = {});

  AttributeSchema& add(std::string name, AttrType type);
  AttributeSchema& add_array(std::string name, AttrType type);
  AttributeSchema& add_record(std::string name, AttributeSchema fields, bool array = false);
  AttributeSchema& add_recursive_array(std::string name);  // e.g. Resource.elements
  // Complex attributes left out of responses unless selected (SOL013 exclude_default).
  // Throws std::logic_error for a name that is not a complex attribute of this schema.
  AttributeSchema& exclude_by_default(std::initializer_list<std::string_view> names);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& id_attribute() const { return id_; }
  [[nodiscard]] const std::vector<Attribute>& attributes() const { return attrs_; }
  [[nodiscard]] const Attribute* find(std::string_view name) const;
  // The schema of a record attribute's fields (this schema for a recursive one).
  [[nodiscard]] const AttributeSchema* fields_of(const Attribute& a) const;
  [[nodiscard]] bool excluded_by_default(std::string_view name) const;
  [[nodiscard]] const std::vector<std::string>& default_exclusions() const { return excluded_; }

 private:
  AttributeSchema& push(Attribute a);

  std::string name_;
  std::string id_;
  std::vector<Attribute> attrs_;
  std::vector<std::string> excluded_;
};

// Ready-made schemas of the O2-IMS inventory objects (field names as in the O-RAN
// OpenAPI documents, plus o2gw's ResourcePool.globalLocationId and .oCloudId).
const AttributeSchema& schema_for(Kind kind);

// ---------------------------------------------------------------------------
// filter= (SOL013 §5.2): "(op,attr,value[,value...])" terms joined by ';' (AND).

class Filter {
 public:
  Filter();  // the empty filter: matches everything

  // `text` is the parameter value, already percent-decoded once by the HTTP layer.
  // An empty text is the empty filter.
  static Parsed<Filter> parse(std::string_view text, const AttributeSchema& schema);

  [[nodiscard]] bool matches(const nlohmann::json& doc) const;
  // Same result as matches(doc), from each term's precomputed walk (starts[t] for term t).
  [[nodiscard]] bool matches_from(const PathStart* starts) const;
  [[nodiscard]] std::size_t term_count() const;
  [[nodiscard]] const std::vector<std::string>& term_path(std::size_t t) const;
  [[nodiscard]] bool empty() const;
  // Normalised text (operators lower-case, values quoted): equal filters, equal text.
  [[nodiscard]] const std::string& canonical() const;

  struct Compiled;

 private:
  std::shared_ptr<const Compiled> c_;
};

// ---------------------------------------------------------------------------
// Attribute selectors (SOL013 §5.3). We follow SOL013, not the projection reading of
// O-RAN's common.openapi.yaml (see Selector::parse).

struct SelectorParams {
  bool all_fields = false;
  std::optional<std::string> fields;          // comma-separated paths
  std::optional<std::string> exclude_fields;  // comma-separated paths
  bool exclude_default = false;
};

class Selector {
 public:
  // What an absent selector means: lists default to the SOL013 default set
  // (exclude_default); single-object GETs return the whole object.
  enum class Default : std::uint8_t { exclude_default, all_fields };

  Selector();  // all fields (passthrough)

  // SOL013 Table 5.3.2-1:
  //   (none)                   Default (lists: as exclude_default)
  //   all_fields               every attribute
  //   exclude_default          every attribute except the schema's default exclusions
  //   fields=L                 every simple attribute, plus the complex ones named in L;
  //                            other complex attributes are left out
  //   exclude_default&fields=L the exclude_default set plus the attributes named in L
  //   exclude_fields=L         every attribute except those named in L
  // Paths may name sub-attributes ("extensions/country"): only that part of the complex
  // attribute is included (fields) or removed (exclude_fields). The schema's identifier
  // attribute is always kept. Other combinations, unknown attributes and malformed
  // lists are a 400. An empty fields/exclude_fields value counts as absent.
  static Parsed<Selector> parse(const SelectorParams& params, const AttributeSchema& schema,
                                Default when_absent = Default::exclude_default);

  // True when every object is emitted whole: callers may copy pre-serialised JSON.
  [[nodiscard]] bool passthrough() const;
  // Appends the selected part of `doc` as a JSON object. `serialized`, when not empty,
  // must be doc.dump() (e.g. InventoryObject::json): unselected members are spliced out
  // of it instead of serialising the document again.
  void append_selected(const nlohmann::json& doc, std::string_view serialized, std::string& out) const;
  void append_selected(const InventoryObject& obj, std::string& out) const;
  [[nodiscard]] const std::string& canonical() const;

  struct Compiled;

 private:
  std::shared_ptr<const Compiled> c_;
};

// ---------------------------------------------------------------------------
// sort=attr,-attr2 (o2gw extension): scalar attributes, '-' for descending; ties, and
// everything when absent, ordered by the object id.

class SortOrder {
 public:
  SortOrder();  // by id
  static Parsed<SortOrder> parse(std::string_view text, const AttributeSchema& schema);
  [[nodiscard]] std::size_t key_count() const;
  [[nodiscard]] const std::string& canonical() const;

  struct Compiled;
  [[nodiscard]] const Compiled& compiled() const { return *c_; }

 private:
  std::shared_ptr<const Compiled> c_;
};

// ---------------------------------------------------------------------------
// Paging (SOL013 §5.4): page sizes and the key that signs nextpage_opaque_marker.

struct PagerOptions {
  std::size_t default_page_size = 100;
  std::size_t max_page_size = 1000;
  // HMAC-SHA256 key for markers. Empty: 32 random bytes, so markers do not survive a
  // restart and differ between replicas; configure a shared key where that matters.
  std::string key;
};

class Pager {
 public:
  explicit Pager(PagerOptions options = {});  // std::invalid_argument on bad sizes

  [[nodiscard]] std::size_t default_page_size() const { return default_; }
  [[nodiscard]] std::size_t max_page_size() const { return max_; }

  // base64url(bytes || HMAC-SHA256(key, bytes)[0..16)), and the reverse; false when
  // the text is not such a marker or its tag does not verify.
  [[nodiscard]] std::string seal(std::string_view bytes) const;
  [[nodiscard]] bool unseal(std::string_view marker, std::string& bytes) const;

 private:
  std::size_t default_;
  std::size_t max_;
  std::string key_;
};

// ---------------------------------------------------------------------------
// One list request: filter, selector, sort, page. Built from the request, run over
// the candidates.

// One candidate object. `doc` and the viewed strings must outlive the run.
struct QueryItem {
  std::string_view id;  // unique within the list; the final sort key
  const nlohmann::json* doc = nullptr;
  std::string_view json;  // doc->dump(), or empty to serialise on demand
};

struct ListResult {
  std::string body;         // JSON array of the page
  std::string link;         // Link header value ("<...>; rel=\"next\""); empty on the last page
  std::string next_marker;  // the nextpage_opaque_marker in `link`
  std::size_t count = 0;    // objects in the page
};

struct ListParams {
  std::optional<std::string> filter, fields, exclude_fields, sort, marker, limit;
  bool all_fields = false;
  bool exclude_default = false;
  std::string path;      // request path: part of the query digest, so a marker only
                         // works on the list that issued it
  std::string base_url;  // request target without nextpage_opaque_marker, for the Link
};

class ListQuery {
 public:
  // Reads filter, fields, exclude_fields, all_fields, exclude_default, sort, limit and
  // nextpage_opaque_marker (percent-decoded once by http::Request::query_param).
  // `pager` must outlive the query; nothing refers to `schema` after parsing.
  static Parsed<ListQuery> from_request(const http::Request& req, const AttributeSchema& schema, const Pager& pager);
  static Parsed<ListQuery> parse(const ListParams& params, const AttributeSchema& schema, const Pager& pager);

  // How the candidates arrive. by_id: ascending byte order of their ids, as
  // InventoryCache visits them; with no sort= the page then costs O(log n + page)
  // instead of a pass over every candidate.
  enum class InputOrder : std::uint8_t { any, by_id };

  // Filters, sorts and pages the candidates and renders the page. Objects must stay
  // alive and unchanged during the call (hold the cache's shared lock, or ObjectPtrs).
  // Key-set paging: a page starts strictly after the marker's (sort keys, id), so
  // concurrent inserts and deletes never duplicate or skip other objects.
  [[nodiscard]] ListResult run(std::span<const QueryItem> items, InputOrder order = InputOrder::any) const;
  [[nodiscard]] ListResult run(std::span<const InventoryObject* const> objects,
                               InputOrder order = InputOrder::any) const;
  // With the memo of a cache snapshot: attribute columns are built once per snapshot
  // and reused by later queries on the same list (no per-object walk of the JSON).
  [[nodiscard]] ListResult run(std::span<const InventoryObject* const> objects, InputOrder order,
                               const SnapshotMemo* memo) const;
  [[nodiscard]] ListResult run(std::span<const std::shared_ptr<const InventoryObject>> objects,
                               InputOrder order = InputOrder::any) const;

  [[nodiscard]] const Filter& filter() const { return filter_; }
  [[nodiscard]] const Selector& selector() const { return selector_; }
  [[nodiscard]] const SortOrder& sort() const { return sort_; }
  [[nodiscard]] std::size_t limit() const { return limit_; }

  struct Resume;  // the decoded marker
  using ItemAt = QueryItem (*)(const void* ctx, std::size_t i);

 private:
  ListQuery() = default;
  [[nodiscard]] ListResult run_items(std::size_t n, ItemAt at, const void* ctx, InputOrder order,
                                     const SnapshotMemo* memo = nullptr) const;
  [[nodiscard]] std::string link_for(const std::string& marker) const;

  Filter filter_;
  Selector selector_;
  SortOrder sort_;
  std::size_t limit_ = 0;
  const Pager* pager_ = nullptr;
  std::string digest_;  // binds markers to this query
  std::string base_url_;
  std::shared_ptr<const Resume> resume_;  // null on the first page
};

// A single-object GET: selectors only; the whole object when none is given.
class SingleQuery {
 public:
  static Parsed<SingleQuery> from_request(const http::Request& req, const AttributeSchema& schema);
  [[nodiscard]] std::string render(const InventoryObject& obj) const;
  [[nodiscard]] const Selector& selector() const { return selector_; }

 private:
  Selector selector_;
};

// The request's query parameters that make up a selector (shared by both queries).
Parsed<SelectorParams> selector_params(const http::Request& req);

}  // namespace o2gw
