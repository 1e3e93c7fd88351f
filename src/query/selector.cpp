// Attribute selectors (SOL013 §5.3): which attributes of each object a response
// carries. Compiled to a tree of keep/drop decisions; rendering splices the members of
// the pre-serialised object JSON and re-serialises only partially selected members.
//
// Choice: SOL013's reading of `fields` (complex attributes to add to a base set), not
// the projection reading of O-RAN's common.openapi.yaml ("fields to include"). The
// issue asks for SOL013 selectors with a per-type default set; see query.hpp for the
// table. A consequence worth knowing: `fields=name` alone returns every simple
// attribute (and no complex one), not just `name`.
#include <algorithm>
#include <vector>

#include "o2gw/inventory.hpp"
#include "query_internal.hpp"

namespace o2gw {

using namespace query_detail;  // NOLINT(google-build-using-namespace)

namespace {

struct SelNode {
  enum class Mode : std::uint8_t {
    drop,  // leave the member out
    all,   // keep it, except for refined children
    some,  // keep only the children listed
  };
  std::string name;
  Mode mode = Mode::all;
  std::vector<SelNode> children;

  [[nodiscard]] const SelNode* find(std::string_view key) const {
    for (const auto& c : children) {
      if (c.name == key) return &c;
    }
    return nullptr;
  }
  SelNode* find(std::string_view key) {
    for (auto& c : children) {
      if (c.name == key) return &c;
    }
    return nullptr;
  }
};
using Mode = SelNode::Mode;

void include(SelNode& node, const std::vector<std::string>& segs, std::size_t i) {
  const bool last = i + 1 == segs.size();
  SelNode* ch = node.find(segs[i]);
  if (ch == nullptr) {
    if (node.mode == Mode::all) return;  // already kept whole
    node.children.push_back({segs[i], last ? Mode::all : Mode::some, {}});
    if (!last) include(node.children.back(), segs, i + 1);
    return;
  }
  if (last) {
    ch->mode = Mode::all;
    ch->children.clear();
    return;
  }
  if (ch->mode == Mode::drop) ch->mode = Mode::some;
  include(*ch, segs, i + 1);
}

void exclude(SelNode& node, const std::vector<std::string>& segs, std::size_t i) {
  const bool last = i + 1 == segs.size();
  SelNode* ch = node.find(segs[i]);
  if (ch == nullptr) {
    if (node.mode != Mode::all) return;  // not kept anyway
    node.children.push_back({segs[i], Mode::all, {}});
    ch = &node.children.back();
  }
  if (last) {
    ch->mode = Mode::drop;
    ch->children.clear();
    return;
  }
  if (ch->mode == Mode::drop) return;
  exclude(*ch, segs, i + 1);
}

// The selected part of `v` under node `n`; false when nothing of it is kept.
bool project(const SelNode& n, const json& v, json& out) {
  if (n.mode == Mode::drop) return false;
  if (n.mode == Mode::all && n.children.empty()) {
    out = v;
    return true;
  }
  if (v.is_array()) {
    out = json::array();
    for (const json& e : v) {
      if (e.is_structured()) {
        json x;
        if (project(n, e, x)) out.push_back(std::move(x));
      } else if (n.mode == Mode::all) {
        out.push_back(e);
      }
    }
    return true;
  }
  if (v.is_object()) {
    out = json::object();
    for (const auto& [key, val] : v.items()) {
      const SelNode* ch = n.find(key);
      if (ch == nullptr) {
        if (n.mode == Mode::all) out[key] = val;
        continue;
      }
      json x;
      if (project(*ch, val, x)) out[key] = std::move(x);
    }
    return true;
  }
  if (n.mode != Mode::all) return false;  // a sub-attribute of a scalar: nothing to keep
  out = v;
  return true;
}

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Walks the members of compact or pretty JSON text produced by a JSON serialiser.
class MemberScanner {
 public:
  explicit MemberScanner(std::string_view s) : s_(s) {}

  bool open() {
    ws();
    if (pos_ >= s_.size() || s_[pos_] != '{') return false;
    ++pos_;
    return true;
  }
  // The next member: its raw key (between the quotes) and its whole text.
  bool next(std::string_view& raw_key, std::string_view& member) {
    ws();
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    const std::size_t start = pos_;
    if (!skip_string()) return false;
    raw_key = s_.substr(start + 1, pos_ - start - 2);
    ws();
    if (pos_ >= s_.size() || s_[pos_] != ':') return false;
    ++pos_;
    ws();
    if (!skip_value()) return false;
    member = s_.substr(start, pos_ - start);
    ws();
    if (pos_ < s_.size() && s_[pos_] == ',') ++pos_;
    return true;
  }
  bool close() {
    ws();
    return pos_ < s_.size() && s_[pos_] == '}';
  }

 private:
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool skip_string() {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (c == '"') {
        return pos_ <= s_.size();
      }
    }
    return false;
  }
  bool skip_value() {
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '"') return skip_string();
    if (c == '{' || c == '[') {
      int depth = 0;
      while (pos_ < s_.size()) {
        c = s_[pos_];
        if (c == '"') {
          if (!skip_string()) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++pos_;
        if (depth == 0) return true;
      }
      return false;
    }
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && s_[pos_] != ']' && s_[pos_] != ' ' &&
           s_[pos_] != '\n' && s_[pos_] != '\t' && s_[pos_] != '\r') {
      ++pos_;
    }
    return pos_ > start;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

bool truthy_flag(const std::string& v, bool& out) {
  if (v.empty() || compare_ascii_ci(v, "true") == 0) {
    out = true;
    return true;
  }
  if (compare_ascii_ci(v, "false") == 0) {
    out = false;
    return true;
  }
  return false;
}

}  // namespace

struct Selector::Compiled {
  SelNode root;                       // mode all
  bool drop_unknown_complex = false;  // `fields` alone: structured members the schema does not know
  std::string id_attribute;
  std::vector<std::string> known;  // top-level attributes of the schema
  std::string canonical;
  bool passthrough = true;

  enum class Emit : std::uint8_t { raw, project, skip };
  Emit decide(const std::string& key, const json& value, const SelNode*& node) const {
    node = nullptr;
    if (key == id_attribute) return Emit::raw;
    node = root.find(key);
    if (node == nullptr) {
      if (drop_unknown_complex && value.is_structured() && std::find(known.begin(), known.end(), key) == known.end()) {
        return Emit::skip;
      }
      return Emit::raw;
    }
    if (node->mode == Mode::drop) return Emit::skip;
    if (node->mode == Mode::all && node->children.empty()) return Emit::raw;
    return Emit::project;
  }
};

namespace {

const std::shared_ptr<const Selector::Compiled>& all_fields_selector() {
  static const auto all = std::make_shared<const Selector::Compiled>();
  return all;
}

// Parses a comma-separated list of attribute paths; a problem names the parameter and
// the 1-based position in its value.
std::optional<Problem> parse_paths(std::string_view param, std::string_view text, const AttributeSchema& schema,
                                   std::vector<std::vector<std::string>>& out) {
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    ResolvedPath path;
    std::string error;
    std::size_t offset = 0;
    if (item.empty()) {
      error = "empty attribute name";
    } else if (resolve_path(schema, item, path, error, offset)) {
      out.push_back(std::move(path.segments));
    }
    if (!error.empty()) {
      return bad_request(std::string(param) + " at position " + std::to_string(char_position(text, pos + offset)) +
                         ": " + error);
    }
    if (comma == std::string_view::npos) return std::nullopt;
    pos = comma + 1;
  }
}

}  // namespace

Selector::Selector() : c_(all_fields_selector()) {}

Parsed<Selector> Selector::parse(const SelectorParams& p, const AttributeSchema& schema, Default when_absent) {
  const bool has_fields = p.fields && !p.fields->empty();
  const bool has_exclude = p.exclude_fields && !p.exclude_fields->empty();
  if (p.all_fields && (has_fields || has_exclude || p.exclude_default)) {
    return bad_request("all_fields cannot be combined with fields, exclude_fields or exclude_default");
  }
  if (has_exclude && (has_fields || p.exclude_default)) {
    return bad_request("exclude_fields cannot be combined with fields or exclude_default");
  }
  std::vector<std::vector<std::string>> fields, excluded;
  if (has_fields) {
    if (auto problem = parse_paths("fields", *p.fields, schema, fields)) return std::move(*problem);
  }
  if (has_exclude) {
    if (auto problem = parse_paths("exclude_fields", *p.exclude_fields, schema, excluded)) return std::move(*problem);
  }

  auto c = std::make_shared<Compiled>();
  c->id_attribute = schema.id_attribute();
  for (const auto& a : schema.attributes()) c->known.push_back(a.name);
  auto drop_defaults = [&] {
    for (const auto& name : schema.default_exclusions()) c->root.children.push_back({name, Mode::drop, {}});
  };
  if (p.all_fields) {
    c->canonical = "all_fields";
  } else if (has_exclude) {
    c->canonical = "exclude_fields=" + *p.exclude_fields;
  } else if (has_fields && !p.exclude_default) {
    for (const auto& a : schema.attributes()) {
      if (a.complex()) c->root.children.push_back({a.name, Mode::drop, {}});
    }
    c->drop_unknown_complex = true;
    c->canonical = "fields=" + *p.fields;
  } else if (has_fields || p.exclude_default || when_absent == Default::exclude_default) {
    drop_defaults();
    c->canonical = has_fields ? "exclude_default&fields=" + *p.fields : "exclude_default";
  } else {
    c->canonical = "all_fields";
  }
  for (const auto& path : fields) include(c->root, path, 0);
  for (const auto& path : excluded) exclude(c->root, path, 0);
  std::erase_if(c->root.children, [&](const SelNode& n) { return n.name == c->id_attribute; });
  c->passthrough = c->root.children.empty() && !c->drop_unknown_complex;

  Selector s;
  s.c_ = std::move(c);
  return s;
}

bool Selector::passthrough() const {
  return c_->passthrough;
}

const std::string& Selector::canonical() const {
  return c_->canonical;
}

void Selector::append_selected(const json& doc, std::string_view serialized, std::string& out) const {
  const Compiled& c = *c_;
  if (c.passthrough || !doc.is_object()) {
    if (!serialized.empty()) {
      out.append(serialized);
    } else {
      out.append(dump(doc));
    }
    return;
  }
  const std::size_t start = out.size();
  const SelNode* node = nullptr;
  auto emit_projection = [&](std::string_view key_text, const json& value, bool& first) {
    json x;
    if (!project(*node, value, x)) return;
    if (!first) out.push_back(',');
    first = false;
    out.append(key_text);
    out.push_back(':');
    out.append(dump(x));
  };

  // Splice the members of the pre-serialised text; it lists them in the document's order.
  if (!serialized.empty()) {
    MemberScanner scan(serialized);
    bool ok = scan.open();
    bool first = true;
    out.push_back('{');
    for (auto it = doc.begin(); ok && it != doc.end(); ++it) {
      std::string_view raw_key, member;
      if (!scan.next(raw_key, member) || raw_key != it.key()) {
        ok = false;  // escaped key or text out of step with doc: serialise instead
        break;
      }
      switch (c.decide(it.key(), it.value(), node)) {
        case Compiled::Emit::raw:
          if (!first) out.push_back(',');
          first = false;
          out.append(member);
          break;
        case Compiled::Emit::project: emit_projection(member.substr(0, raw_key.size() + 2), it.value(), first); break;
        case Compiled::Emit::skip: break;
      }
    }
    if (ok && scan.close()) {
      out.push_back('}');
      return;
    }
    out.resize(start);
  }

  bool first = true;
  out.push_back('{');
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    switch (c.decide(it.key(), it.value(), node)) {
      case Compiled::Emit::raw:
        if (!first) out.push_back(',');
        first = false;
        out.append(dump(json(it.key()))).push_back(':');
        out.append(dump(it.value()));
        break;
      case Compiled::Emit::project: emit_projection(dump(json(it.key())), it.value(), first); break;
      case Compiled::Emit::skip: break;
    }
  }
  out.push_back('}');
}

void Selector::append_selected(const InventoryObject& obj, std::string& out) const {
  append_selected(obj.doc, obj.json, out);
}

Parsed<SelectorParams> selector_params(const http::Request& req) {
  SelectorParams p;
  std::string v;
  if (req.query_param("all_fields", v) && !truthy_flag(v, p.all_fields)) {
    return bad_request("all_fields takes no value (or true/false)");
  }
  if (req.query_param("exclude_default", v) && !truthy_flag(v, p.exclude_default)) {
    return bad_request("exclude_default takes no value (or true/false)");
  }
  if (req.query_param("fields", v) && !v.empty()) p.fields = v;
  if (req.query_param("exclude_fields", v) && !v.empty()) p.exclude_fields = v;
  return p;
}

}  // namespace o2gw
