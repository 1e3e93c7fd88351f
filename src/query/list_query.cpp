// Sorting, key-set paging with signed markers, and the list/single query entry points.
//
// nextpage_opaque_marker = base64url( bytes || HMAC-SHA256(key, bytes)[0..16) ), with
//   bytes = version (1) || query digest (16: SHA-256 of schema, path, filter, sort,
//           selectors) || JSON [last id, [[sort key value] or [] when absent, ...]]
// The next page starts strictly after (sort keys, id) of the last object returned, so
// it does not depend on offsets: an object present throughout a walk, whose sort keys
// do not change, is returned exactly once whatever else is inserted or deleted.
#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "o2gw/inventory.hpp"
#include "query_internal.hpp"

namespace o2gw {

using namespace query_detail;  // NOLINT(google-build-using-namespace)

namespace {

constexpr std::size_t kTagSize = 16;
constexpr std::size_t kDigestSize = 16;
constexpr std::uint8_t kMarkerVersion = 1;
constexpr std::size_t kMaxMarkerLength = 8192;
constexpr std::size_t kMaxSortKeys = 8;
constexpr std::string_view kMarkerParam = "nextpage_opaque_marker";

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = (static_cast<std::uint8_t>(in[i]) << 16) | (static_cast<std::uint8_t>(in[i + 1]) << 8) |
                      static_cast<std::uint8_t>(in[i + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint8_t>(in[i]) << 16;
    if (rest == 2) v |= static_cast<std::uint8_t>(in[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kB64[(v >> 6) & 63]);
  }
  return out;
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded base64url only; non-canonical trailing bits are rejected so that every
// marker has exactly one spelling.
bool unbase64url(std::string_view in, std::string& out) {
  if (in.size() % 4 == 1) return false;
  out.clear();
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return (acc & ((1U << bits) - 1)) == 0;
}

// ---- sort keys --------------------------------------------------------------

struct KeyVal {
  const json* v = nullptr;  // null: attribute absent
  Instant time;
  bool has_time = false;
  int cached_rank = -1;   // from a column: known without touching `v`
  std::string_view text;  // from a column: the string, in the column's arena
  bool has_text = false;
};

int rank(const json* v) {
  if (v == nullptr) return 0;
  switch (v->type()) {
    case json::value_t::null: return 1;
    case json::value_t::boolean: return 2;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return 3;
    case json::value_t::string: return 4;
    default: return 5;
  }
}

}  // namespace

struct SortOrder::Compiled {
  struct Key {
    std::vector<std::string> path;
    bool descending = false;
    AttrType type = AttrType::string;
    bool dynamic = false;
  };
  std::vector<Key> keys;
  std::string canonical;

  static KeyVal extract(const json& doc, const Key& k) {
    KeyVal kv;
    const json* v = &doc;
    for (const auto& seg : k.path) {
      if (!v->is_object()) return kv;
      auto it = v->find(seg);
      if (it == v->end()) return kv;
      v = &*it;
    }
    kv.v = v;
    if (k.type == AttrType::datetime && !k.dynamic && v->is_string()) {
      kv.has_time = parse_rfc3339(v->get_ref<const std::string&>(), kv.time);
    }
    return kv;
  }

  // Absent < null < false < true < numbers < strings < anything else; strings by the
  // attribute's type: date-times chronologically (before unparsable text), UUIDs
  // case-insensitively, others by code point.
  static int compare(const KeyVal& a, const KeyVal& b, const Key& k) {
    const int ra = a.cached_rank >= 0 ? a.cached_rank : rank(a.v);
    const int rb = b.cached_rank >= 0 ? b.cached_rank : rank(b.v);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (ra) {
      case 2: return static_cast<int>(a.v->get<bool>()) - static_cast<int>(b.v->get<bool>());
      case 3: return compare_numbers(*a.v, *b.v);
      case 4: {
        if (a.has_time != b.has_time) return a.has_time ? -1 : 1;
        if (a.has_time) return a.time < b.time ? -1 : (b.time < a.time ? 1 : 0);
        std::string_view x = a.has_text ? a.text : std::string_view(a.v->get_ref<const std::string&>());
        std::string_view y = b.has_text ? b.text : std::string_view(b.v->get_ref<const std::string&>());
        return !k.dynamic && k.type == AttrType::uuid ? compare_ascii_ci(x, y) : compare_bytes(x, y);
      }
      default: return 0;
    }
  }

  // Orders (keys a, id a) against (keys b, id b).
  int compare_all(const KeyVal* a, std::string_view id_a, const KeyVal* b, std::string_view id_b) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      int c = compare(a[i], b[i], keys[i]);
      if (c != 0) return keys[i].descending ? -c : c;
    }
    return compare_bytes(id_a, id_b);
  }
};

namespace {
const std::shared_ptr<const SortOrder::Compiled>& by_id() {
  static const auto by_id = std::make_shared<const SortOrder::Compiled>();
  return by_id;
}
}  // namespace

SortOrder::SortOrder() : c_(by_id()) {}

Parsed<SortOrder> SortOrder::parse(std::string_view text, const AttributeSchema& schema) {
  SortOrder s;
  if (text.empty()) return s;
  auto c = std::make_shared<Compiled>();
  auto fail = [&](std::size_t offset, const std::string& what) {
    return bad_request("sort at position " + std::to_string(char_position(text, offset)) + ": " + what);
  };
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    std::size_t at = pos;
    Compiled::Key key;
    if (!item.empty() && (item.front() == '-' || item.front() == '+')) {
      key.descending = item.front() == '-';
      item.remove_prefix(1);
      ++at;
    }
    ResolvedPath path;
    std::string error;
    std::size_t offset = 0;
    if (item.empty()) return fail(at, "empty attribute name");
    if (!resolve_path(schema, item, path, error, offset)) return fail(at + offset, error);
    if (path.complex || path.through_array) {
      return fail(at, "attribute '" + excerpt(item) + "' is not a scalar; sort on simple attributes only");
    }
    if (c->keys.size() == kMaxSortKeys) return fail(at, "too many sort keys (at most 8)");
    key.path = std::move(path.segments);
    key.type = path.type;
    key.dynamic = path.dynamic;
    if (!c->canonical.empty()) c->canonical.push_back(',');
    c->canonical.append(key.descending ? "-" : "").append(item);
    c->keys.push_back(std::move(key));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  s.c_ = std::move(c);
  return s;
}

std::size_t SortOrder::key_count() const {
  return c_->keys.size();
}

const std::string& SortOrder::canonical() const {
  return c_->canonical;
}

// ---- pager ------------------------------------------------------------------

Pager::Pager(PagerOptions options)
    : default_(options.default_page_size), max_(options.max_page_size), key_(std::move(options.key)) {
  if (default_ == 0 || max_ == 0 || default_ > max_) {
    throw std::invalid_argument("page sizes: need 0 < default_page_size <= max_page_size");
  }
  if (key_.empty()) {
    key_.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size())) != 1) {
      throw std::runtime_error("no randomness for the paging marker key");
    }
  }
}

namespace {
std::string tag(const std::string& key, std::string_view bytes) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(bytes.data()),
       bytes.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), kTagSize);
}
}  // namespace

std::string Pager::seal(std::string_view bytes) const {
  std::string sealed(bytes);
  sealed += tag(key_, bytes);
  return base64url(sealed);
}

bool Pager::unseal(std::string_view marker, std::string& bytes) const {
  if (marker.size() > kMaxMarkerLength || !unbase64url(marker, bytes) || bytes.size() < kTagSize) return false;
  std::string_view body(bytes.data(), bytes.size() - kTagSize);
  std::string expected = tag(key_, body);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + body.size(), kTagSize) != 0) return false;
  bytes.resize(body.size());
  return true;
}

// ---- list query -------------------------------------------------------------

struct ListQuery::Resume {
  json keys;  // [[value] or [] per sort key]
  std::vector<KeyVal> vals;
  std::string id;
};

namespace {

std::string query_digest(const AttributeSchema& schema, std::string_view path, const Filter& f, const SortOrder& s,
                         const Selector& sel) {
  std::string text = "o2gw-list\n";
  for (std::string_view part : {std::string_view(schema.name()), path, std::string_view(f.canonical()),
                                std::string_view(s.canonical()), std::string_view(sel.canonical())}) {
    text.append(std::to_string(part.size())).push_back(':');  // unambiguous concatenation
    text.append(part);
  }
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  return std::string(reinterpret_cast<const char*>(md), kDigestSize);
}

std::optional<Problem> parse_limit(const std::string& text, std::size_t max, std::size_t& out) {
  auto fail = [&] { return bad_request("limit must be an integer from 1 to " + std::to_string(max)); };
  if (text.empty() || text.size() > 19) return fail();
  std::uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 1 || v > max) return fail();
  out = static_cast<std::size_t>(v);
  return std::nullopt;
}

std::optional<Problem> decode_marker(const Pager& pager, const std::string& marker, const std::string& digest,
                                     const SortOrder& sort, std::shared_ptr<const ListQuery::Resume>& out) {
  std::string bytes;
  if (!pager.unseal(marker, bytes)) {
    return bad_request("nextpage_opaque_marker is not valid: it was altered or not issued by this server");
  }
  if (bytes.empty() || static_cast<std::uint8_t>(bytes[0]) != kMarkerVersion) {
    return bad_request(
        "nextpage_opaque_marker has a format this server no longer reads; start again from the first page");
  }
  if (bytes.size() < 1 + kDigestSize || bytes.compare(1, kDigestSize, digest) != 0) {
    return bad_request(
        "nextpage_opaque_marker belongs to a different query; use it only with the filter, sort and "
        "selectors of the request that returned it");
  }
  auto payload = json::parse(bytes.begin() + 1 + kDigestSize, bytes.end(), nullptr, false);
  const std::size_t nk = sort.key_count();
  auto resume = std::make_shared<ListQuery::Resume>();
  bool ok = payload.is_array() && payload.size() == 2 && payload[0].is_string() && payload[1].is_array() &&
            payload[1].size() == nk;
  if (ok) {
    resume->id = payload[0].get<std::string>();
    resume->keys = std::move(payload[1]);
    for (std::size_t i = 0; i < nk && ok; ++i) {
      const json& k = resume->keys[i];
      ok = k.is_array() && k.size() <= 1;
      if (!ok) break;
      KeyVal kv;
      if (!k.empty()) {
        // Re-extract through the key's own path so date-times get parsed like documents'.
        SortOrder::Compiled::Key probe = sort.compiled().keys[i];
        probe.path.clear();
        kv = SortOrder::Compiled::extract(k[0], probe);
      }
      resume->vals.push_back(kv);
    }
  }
  if (!ok) return bad_request("nextpage_opaque_marker is not valid");
  out = std::move(resume);
  return std::nullopt;
}

std::string encode_marker(const Pager& pager, const std::string& digest, std::string_view id, const KeyVal* vals,
                          std::size_t nk) {
  json keys = json::array();
  for (std::size_t i = 0; i < nk; ++i) {
    json k = json::array();
    if (vals[i].v != nullptr) k.push_back(vals[i].v->is_structured() ? json::object() : *vals[i].v);
    keys.push_back(std::move(k));
  }
  std::string bytes(1, static_cast<char>(kMarkerVersion));
  bytes += digest;
  bytes += json::array({std::string(id), std::move(keys)}).dump(-1, ' ', false, json::error_handler_t::replace);
  return pager.seal(bytes);
}

// The request target without nextpage_opaque_marker, for the Link header.
std::string base_url_of(const http::Request& req) {
  std::string_view target = req.target;
  std::string_view path = target.substr(0, target.find('?'));
  std::string out(path.empty() ? std::string_view(req.path) : path);
  std::string_view q = req.query;
  char sep = '?';
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    std::string key;
    if (pair.empty() || (http::percent_decode(pair.substr(0, pair.find('=')), key, true) && key == kMarkerParam)) {
      continue;
    }
    out.push_back(sep);
    out.append(pair);
    sep = '&';
  }
  return out;
}

}  // namespace

Parsed<ListQuery> ListQuery::parse(const ListParams& p, const AttributeSchema& schema, const Pager& pager) {
  ListQuery q;
  auto filter = Filter::parse(p.filter.value_or(""), schema);
  if (!filter) return filter.problem();
  auto sort = SortOrder::parse(p.sort.value_or(""), schema);
  if (!sort) return sort.problem();
  SelectorParams sp{p.all_fields, p.fields, p.exclude_fields, p.exclude_default};
  auto selector = Selector::parse(sp, schema);
  if (!selector) return selector.problem();
  q.filter_ = std::move(filter).value();
  q.sort_ = std::move(sort).value();
  q.selector_ = std::move(selector).value();
  q.limit_ = pager.default_page_size();
  if (p.limit && !p.limit->empty()) {
    if (auto problem = parse_limit(*p.limit, pager.max_page_size(), q.limit_)) return std::move(*problem);
  }
  q.pager_ = &pager;
  q.digest_ = query_digest(schema, p.path, q.filter_, q.sort_, q.selector_);
  q.base_url_ = p.base_url.empty() ? p.path : p.base_url;
  if (p.marker && !p.marker->empty()) {
    if (auto problem = decode_marker(pager, *p.marker, q.digest_, q.sort_, q.resume_)) return std::move(*problem);
  }
  return q;
}

Parsed<ListQuery> ListQuery::from_request(const http::Request& req, const AttributeSchema& schema, const Pager& pager) {
  auto sp = selector_params(req);
  if (!sp) return sp.problem();
  ListParams p;
  p.all_fields = sp->all_fields;
  p.exclude_default = sp->exclude_default;
  p.fields = std::move(sp->fields);
  p.exclude_fields = std::move(sp->exclude_fields);
  std::string v;
  auto read = [&](std::string_view name, std::optional<std::string>& out) {
    if (req.query_param(name, v)) out = v;
  };
  read("filter", p.filter);
  read("sort", p.sort);
  read("limit", p.limit);
  read(kMarkerParam, p.marker);
  p.path = req.path;
  p.base_url = base_url_of(req);
  return parse(p, schema, pager);
}

namespace {

// One attribute path over every object of a list snapshot: where each walk ended,
// and for scalar leaves a typed copy (numbers, booleans) or a view into `arena`
// (strings), so filters and sorts scan contiguous memory.
struct Column {
  std::vector<PathStart> starts;
  std::vector<LeafRef> leaves;
  std::vector<json> scalars;
  std::string arena;
};

// Walks `path` through nested objects for every item once; cached in the snapshot's
// memo so the next query on the same list starts from the leaves.
std::shared_ptr<const Column> column_for(const SnapshotMemo& memo, std::size_t n, ListQuery::ItemAt at,
                                         const void* ctx, const std::vector<std::string>& path) {
  std::string key = "query.column";
  for (const auto& seg : path) {
    key.push_back('\x1f');
    key += seg;
  }
  auto built = memo.get_or_build(key, [&]() -> std::shared_ptr<const void> {
    auto col = std::make_shared<Column>();
    col->starts.resize(n);
    col->leaves.resize(n);
    col->scalars.resize(n);  // sized once: leaves point into it
    const std::size_t depth_max = std::min<std::size_t>(path.size(), 255);
    std::vector<std::pair<std::size_t, std::size_t>> spans(n, {0, std::string::npos});
    for (std::size_t i = 0; i < n; ++i) {
      const json* v = at(ctx, i).doc;
      std::size_t d = 0;
      while (v != nullptr && d < depth_max && v->is_object()) {
        auto it = v->find(path[d]);
        v = it == v->end() ? nullptr : &*it;
        ++d;
      }
      // A scalar before the end of the path: nothing to find below it.
      if (v != nullptr && d < path.size() && !v->is_array()) v = nullptr;
      col->starts[i] = PathStart{v, static_cast<std::uint8_t>(d), nullptr};
      if (v == nullptr || d != path.size()) continue;
      if (v->is_string()) {
        const auto& str = v->get_ref<const std::string&>();
        spans[i] = {col->arena.size(), str.size()};
        col->arena += str;
        col->leaves[i].value = v;
        col->leaves[i].is_string = true;
      } else if (v->is_number() || v->is_boolean()) {
        col->scalars[i] = *v;
        col->leaves[i].value = &col->scalars[i];
      } else {
        continue;
      }
      col->starts[i].leaf = &col->leaves[i];
    }
    // Views into the arena only once it no longer grows.
    for (std::size_t i = 0; i < n; ++i) {
      if (spans[i].second != std::string::npos) {
        col->leaves[i].text = std::string_view(col->arena).substr(spans[i].first, spans[i].second);
      }
    }
    return col;
  });
  return std::static_pointer_cast<const Column>(built);
}

// The ids of a snapshot's objects, contiguous, for sorting without touching objects.
struct IdColumn {
  std::string arena;
  std::vector<std::string_view> ids;
};

std::shared_ptr<const IdColumn> id_column_for(const SnapshotMemo& memo, std::size_t n, ListQuery::ItemAt at,
                                              const void* ctx) {
  auto built = memo.get_or_build("query.ids", [&]() -> std::shared_ptr<const void> {
    auto col = std::make_shared<IdColumn>();
    std::vector<std::size_t> offsets(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      col->arena += at(ctx, i).id;
      offsets[i + 1] = col->arena.size();
    }
    col->ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      col->ids[i] = std::string_view(col->arena).substr(offsets[i], offsets[i + 1] - offsets[i]);
    }
    return col;
  });
  return std::static_pointer_cast<const IdColumn>(built);
}

// Every object of a snapshot rendered with one selector (e.g. the default set of a
// list), so repeated lists copy strings instead of splicing each object's JSON.
// Only for lists small enough that rendering all of them up front is cheap.
constexpr std::size_t kMaxRenderedColumn = 20000;

struct RenderedColumn {
  std::vector<std::string> json;
};

std::shared_ptr<const RenderedColumn> rendered_column_for(const SnapshotMemo& memo, std::size_t n,
                                                          ListQuery::ItemAt at, const void* ctx,
                                                          const Selector& selector) {
  if (n > kMaxRenderedColumn) return nullptr;
  auto built = memo.get_or_build("query.render\x1f" + selector.canonical(), [&]() -> std::shared_ptr<const void> {
    auto col = std::make_shared<RenderedColumn>();
    col->json.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const QueryItem item = at(ctx, i);
      selector.append_selected(*item.doc, item.json, col->json[i]);
    }
    return col;
  });
  return std::static_pointer_cast<const RenderedColumn>(built);
}

}  // namespace

std::string ListQuery::link_for(const std::string& marker) const {
  return "<" + base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") + std::string(kMarkerParam) + "=" +
         marker + ">; rel=\"next\"";
}

ListResult ListQuery::run_items(std::size_t n, ItemAt at, const void* ctx, InputOrder input,
                                const SnapshotMemo* memo) const {
  const SortOrder::Compiled& order = sort_.compiled();
  const std::size_t nk = order.keys.size();
  ListResult r;

  // Columns of the filter's and the sort's attributes, when the caller has a snapshot memo.
  const std::size_t nt = filter_.term_count();
  std::vector<std::shared_ptr<const Column>> term_cols;
  std::vector<std::shared_ptr<const Column>> key_cols;
  if (memo != nullptr) {
    for (std::size_t t = 0; t < nt; ++t) term_cols.push_back(column_for(*memo, n, at, ctx, filter_.term_path(t)));
    for (const auto& key : order.keys) key_cols.push_back(column_for(*memo, n, at, ctx, key.path));
  }
  std::shared_ptr<const RenderedColumn> rendered;
  if (memo != nullptr && !selector_.passthrough()) rendered = rendered_column_for(*memo, n, at, ctx, selector_);
  auto render = [&](std::size_t i, const QueryItem& item) {
    if (rendered) {
      r.body += rendered->json[i];
    } else {
      selector_.append_selected(*item.doc, item.json, r.body);
    }
  };
  std::vector<PathStart> starts(nt);
  // With columns the filter runs before the object itself is touched: most objects
  // of a selective filter are rejected without a trip into their memory.
  auto column_match = [&](std::size_t i) {
    if (term_cols.empty()) return true;
    for (std::size_t t = 0; t < nt; ++t) starts[t] = term_cols[t]->starts[i];
    return filter_.matches_from(starts.data());
  };
  auto matches = [&](std::size_t, const QueryItem& item) {
    return nt == 0 || !term_cols.empty() || filter_.matches(*item.doc);
  };
  auto extract = [&](std::size_t i, const QueryItem& item, std::size_t k) {
    const auto& key = order.keys[k];
    if (key_cols.empty()) return SortOrder::Compiled::extract(*item.doc, key);  // item is set without columns
    const PathStart& st = key_cols[k]->starts[i];
    KeyVal kv;
    if (st.node == nullptr || st.depth != key.path.size()) return kv;  // absent, or an array in the way
    kv.v = st.node;
    if (st.leaf != nullptr) {
      if (st.leaf->is_string) {
        kv.cached_rank = 4;
        kv.text = st.leaf->text;
        kv.has_text = true;
        if (key.type == AttrType::datetime && !key.dynamic) kv.has_time = parse_rfc3339(kv.text, kv.time);
      } else {
        kv.v = st.leaf->value;  // the column's copy: no trip into the object
      }
      return kv;
    }
    if (key.type == AttrType::datetime && !key.dynamic && kv.v->is_string()) {
      kv.has_time = parse_rfc3339(kv.v->get_ref<const std::string&>(), kv.time);
    }
    return kv;
  };

  if (input == InputOrder::by_id && nk == 0) {
    // Already in page order: start after the marker's id and stop once the page is full.
    std::size_t lo = 0;
    if (resume_) {
      std::size_t hi = n;
      while (lo < hi) {
        std::size_t mid = lo + (hi - lo) / 2;
        if (compare_bytes(at(ctx, mid).id, resume_->id) <= 0) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
    }
    r.body.push_back('[');
    std::string_view last_id;
    bool more = false;
    for (std::size_t i = lo; i < n; ++i) {
      if (!column_match(i)) continue;
      const QueryItem item = at(ctx, i);
      if (item.doc == nullptr || !matches(i, item)) continue;
      if (r.count == limit_) {
        more = true;
        break;
      }
      if (r.count > 0) r.body.push_back(',');
      render(i, item);
      ++r.count;
      last_id = item.id;
    }
    r.body.push_back(']');
    if (more) {
      r.next_marker = encode_marker(*pager_, digest_, last_id, nullptr, 0);
      r.link = link_for(r.next_marker);
    }
    return r;
  }

  // With a memo everything the sort needs (keys, ids) comes from columns; objects are
  // touched only for the page that is rendered.
  std::shared_ptr<const IdColumn> ids;
  if (memo != nullptr) ids = id_column_for(*memo, n, at, ctx);
  struct Entry {
    std::size_t index;
    std::size_t keys;  // index into `vals`
    std::string_view id;
  };
  std::vector<Entry> entries;
  std::vector<KeyVal> vals;
  entries.reserve(filter_.empty() && !resume_ ? n : n / 4 + 16);
  for (std::size_t i = 0; i < n; ++i) {
    if (!column_match(i)) continue;
    std::string_view id;
    QueryItem item;
    if (ids) {
      id = ids->ids[i];
    } else {
      item = at(ctx, i);
      if (item.doc == nullptr || !matches(i, item)) continue;
      id = item.id;
    }
    const std::size_t k = vals.size();
    for (std::size_t key = 0; key < nk; ++key) vals.push_back(extract(i, item, key));
    if (resume_ && order.compare_all(vals.data() + k, id, resume_->vals.data(), resume_->id) <= 0) {
      vals.resize(k);
      continue;
    }
    entries.push_back({i, k, id});
  }

  const std::size_t take = std::min(limit_, entries.size());
  auto less = [&](const Entry& a, const Entry& b) {
    return order.compare_all(vals.data() + a.keys, a.id, vals.data() + b.keys, b.id) < 0;
  };
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(take), entries.end(), less);

  r.body.push_back('[');
  for (std::size_t i = 0; i < take; ++i) {
    if (i > 0) r.body.push_back(',');
    render(entries[i].index, at(ctx, entries[i].index));
  }
  r.body.push_back(']');
  r.count = take;

  if (entries.size() > take) {
    const Entry& last = entries[take - 1];
    r.next_marker = encode_marker(*pager_, digest_, last.id, vals.data() + last.keys, nk);
    r.link = link_for(r.next_marker);
  }
  return r;
}

ListResult ListQuery::run(std::span<const QueryItem> items, InputOrder order) const {
  return run_items(
      items.size(), [](const void* ctx, std::size_t i) { return static_cast<const QueryItem*>(ctx)[i]; }, items.data(),
      order);
}

ListResult ListQuery::run(std::span<const InventoryObject* const> objects, InputOrder order) const {
  return run_items(
      objects.size(),
      [](const void* ctx, std::size_t i) {
        const InventoryObject* o = static_cast<const InventoryObject* const*>(ctx)[i];
        return QueryItem{o->id, &o->doc, o->json};
      },
      objects.data(), order);
}

ListResult ListQuery::run(std::span<const InventoryObject* const> objects, InputOrder order,
                          const SnapshotMemo* memo) const {
  return run_items(
      objects.size(),
      [](const void* ctx, std::size_t i) {
        const InventoryObject* o = static_cast<const InventoryObject* const*>(ctx)[i];
        return QueryItem{o->id, &o->doc, o->json};
      },
      objects.data(), order, memo);
}

ListResult ListQuery::run(std::span<const std::shared_ptr<const InventoryObject>> objects, InputOrder order) const {
  return run_items(
      objects.size(),
      [](const void* ctx, std::size_t i) {
        const InventoryObject* o = static_cast<const std::shared_ptr<const InventoryObject>*>(ctx)[i].get();
        return QueryItem{o->id, &o->doc, o->json};
      },
      objects.data(), order);
}

// ---- single object ----------------------------------------------------------

Parsed<SingleQuery> SingleQuery::from_request(const http::Request& req, const AttributeSchema& schema) {
  auto sp = selector_params(req);
  if (!sp) return sp.problem();
  auto selector = Selector::parse(*sp, schema, Selector::Default::all_fields);
  if (!selector) return selector.problem();
  SingleQuery q;
  q.selector_ = std::move(selector).value();
  return q;
}

std::string SingleQuery::render(const InventoryObject& obj) const {
  if (selector_.passthrough()) return obj.json;
  std::string out;
  out.reserve(obj.json.size());
  selector_.append_selected(obj, out);
  return out;
}

}  // namespace o2gw
