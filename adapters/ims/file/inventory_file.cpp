#include "ims/file/inventory_file.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace o2gw::ims {

InventoryFileError::InventoryFileError(std::string origin, int line, std::string reason)
    : std::runtime_error(origin + ":" + std::to_string(line) + ": " + reason),
      origin_(std::move(origin)),
      line_(line),
      reason_(std::move(reason)) {}

namespace {

using nlohmann::json;

// Resources nest elements which nest elements...; real hardware is a few levels deep.
constexpr int kMaxElementDepth = 4;
// Free-form maps (extensions, capabilities) are data, not programs.
constexpr int kMaxValueDepth = 64;
constexpr std::size_t kMaxKeyLength = 128;
constexpr std::size_t kMaxLocationIdLength = 256;
// Anchors and aliases let a few bytes of YAML name a huge tree; every node the
// parser visits is charged against a budget proportional to the text, which is
// far above what any alias-free file needs.
constexpr std::size_t kNodeBudgetPerByte = 16;
constexpr std::size_t kNodeBudgetBase = 10000;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate a typo most likely meant, if one is close enough to suggest.
template <typename Range>
std::optional<std::string> closest(std::string_view typo, const Range& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, typo.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::string_view candidate(c);
    std::size_t d = edit_distance(typo, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

std::string did_you_mean(const std::optional<std::string>& suggestion) {
  return suggestion ? " (did you mean '" + *suggestion + "'?)" : std::string();
}

std::string type_word(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "empty value";
    case YAML::NodeType::Scalar: return "scalar";
    case YAML::NodeType::Sequence: return "list";
    case YAML::NodeType::Map: return "mapping";
    case YAML::NodeType::Undefined: break;
  }
  return "undefined value";
}

int line_of(const YAML::Mark& mark) {
  return mark.line < 0 ? 0 : mark.line + 1;
}

// Offset of the first byte that is not part of well-formed UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos. Published documents
// are JSON, which must be valid Unicode.
std::size_t first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t min = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2, min = 0x80, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, min = 0x800, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return std::string_view::npos;
}

// Listens to a document's events without building nodes, remembering where
// its first real content is.
class ContentFinder : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> content;

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                       YAML::EmitterStyle::value /*style*/) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    note(mark);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (!content) content = mark;
  }
};

// Where a second YAML document with content starts, if the text has one.
// Not YAML::LoadAll: in yaml-cpp 0.7 it never returns on some malformed input
// (a lone ","), so at most two documents are ever asked for here.
std::optional<YAML::Mark> second_document(const std::string& text) {
  // Only a "---" or "..." marker can start another document.
  if (text.find("---") == std::string::npos && text.find("...") == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  ContentFinder first;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  ContentFinder second;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.content;  // an empty trailing document ("...") is harmless
}

int line_at_offset(std::string_view text, std::size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

template <std::size_t N>
std::string one_of_list(const std::string_view (&allowed)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i != 0) out += (i + 1 == N) ? " or " : ", ";
    out += allowed[i];
  }
  return out;
}

// A plain (unquoted) YAML scalar as the JSON value a YAML 1.2 reader would give
// it: booleans, integers and finite decimals become JSON types, the rest strings.
json plain_scalar_to_json(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos) return s;
  std::string_view digits(s);
  if (digits.front() == '+') digits.remove_prefix(1);  // from_chars takes no '+'
  if (digits.empty() || digits.front() == '+' || (digits.front() == '-' && s.front() == '+')) {
    return s;
  }
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  auto whole = [last](std::from_chars_result r) { return r.ec == std::errc() && r.ptr == last; };
  if (std::int64_t i = 0; whole(std::from_chars(first, last, i))) return i;
  if (std::uint64_t u = 0; whole(std::from_chars(first, last, u))) return u;
  if (double d = 0; whole(std::from_chars(first, last, d)) && std::isfinite(d)) return d;
  return s;
}

// One entry of a YAML mapping, kept with its nodes so errors can name a line.
struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

class Parser;

// Strict view of one YAML mapping that stands for an object of the format: it
// rejects duplicate and unknown keys up front (in file order, before anything
// is missed because of a typo) and reads typed values.
class Fields {
 public:
  Fields(Parser& parser, const YAML::Node& node, std::string path, std::initializer_list<std::string_view> allowed);

  [[nodiscard]] const YAML::Node& node() const { return node_; }
  // "resources[3].pool"; top-level keys are named bare.
  [[nodiscard]] std::string at(std::string_view name) const {
    return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  }
  // What the mapping is, for messages about it as a whole.
  [[nodiscard]] std::string subject() const { return path_.empty() ? "top level" : path_; }

  // The entry when present and not null (an empty value counts as absent).
  [[nodiscard]] const Entry* find(std::string_view name) const;
  [[nodiscard]] bool has(std::string_view name) const { return find(name) != nullptr; }

  std::string required_string(std::string_view name, bool allow_empty = false);
  std::string optional_string(std::string_view name, std::string fallback = {});
  std::string required_key(std::string_view name);
  template <std::size_t N>
  std::string enum_value(std::string_view name, const std::string_view (&allowed)[N],
                         std::optional<std::string_view> fallback);
  std::vector<std::string> string_list(std::string_view name, std::optional<std::vector<std::string>> fallback = {});
  json free_form_object(std::string_view name);
  // The list's items (empty when absent); each item is returned with its path.
  std::vector<std::pair<YAML::Node, std::string>> list(std::string_view name);

  [[noreturn]] void fail_at(const Entry& entry, const std::string& reason) const;
  [[noreturn]] void fail_missing(std::string_view name) const;

 private:
  const Entry& require(std::string_view name) const;

  Parser& parser_;
  YAML::Node node_;
  std::string path_;
  std::vector<Entry> entries_;
};

class Parser {
 public:
  Parser(const std::string& text, std::string origin)
      : origin_(std::move(origin)), budget_(text.size() * kNodeBudgetPerByte + kNodeBudgetBase) {}

  OCloudModel parse(const std::string& text);
  // The `alarms:` entries of the file parse() read last.
  std::vector<InventoryFileAlarm> take_alarms() { return std::move(alarms_); }

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& reason) const {
    throw InventoryFileError(origin_, line_of(mark), reason);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& reason) const { fail(node.Mark(), reason); }

  void charge(const YAML::Node& node) {
    if (budget_ == 0) {
      fail(node,
           "the document expands to too many values (anchors and aliases that repeat "
           "large parts of it are not supported)");
    }
    --budget_;
  }

  std::string scalar(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) fail(node, path + ": must be a string, not a " + type_word(node));
    return text(node, path);
  }

  // The node's scalar, which must be UTF-8 like all published JSON. The file
  // itself is checked up front, but yaml-cpp 0.7 decodes the escapes "\N" and
  // "\_" to single Latin-1 bytes, so each scalar is checked again.
  const std::string& text(const YAML::Node& node, const std::string& path) const {
    const std::string& value = node.Scalar();
    if (first_invalid_utf8(value) != std::string_view::npos) {
      fail(node, path +
                     ": not valid UTF-8 (the YAML escapes \\N and \\_ are not supported; "
                     "write the characters themselves)");
    }
    return value;
  }

  json to_json(const YAML::Node& node, const std::string& path, int depth);

 private:
  void parse_locations(Fields& top, OCloudModel& model);
  void parse_sites(Fields& top, OCloudModel& model);
  void parse_resource_types(Fields& top, OCloudModel& model);
  AlarmDictionarySpec parse_alarm_dictionary(const YAML::Node& node, const std::string& path,
                                             const ResourceTypeSpec& type);
  void parse_pools(Fields& top, OCloudModel& model);
  void parse_resources(Fields& top, OCloudModel& model);
  // `siblings` holds the keys already used at this level (top-level resources,
  // or the other elements of the same parent).
  ResourceSpec parse_resource(const YAML::Node& node, const std::string& path, int depth,
                              const std::string* parent_type_key, std::unordered_map<std::string, int>& siblings);
  void parse_deployment_managers(Fields& top, OCloudModel& model);
  void parse_alarms(Fields& top, const OCloudModel& model);
  json parse_coordinate(const Entry& entry, const std::string& path);
  json parse_civic_address(Fields& fields);

  // Checks that `key` names something in `declared`; else fails at `at`.
  void check_reference(const YAML::Node& at, const std::string& path, const std::string& key,
                       const std::unordered_map<std::string, int>& declared, std::string_view what);
  // Records `key` as declared at `line`, failing on a second declaration.
  void declare(std::unordered_map<std::string, int>& declared, const std::string& key, const Fields& fields,
               std::string_view name, std::string_view what);

  std::string origin_;
  std::size_t budget_;
  std::unordered_map<std::string, int> locations_;
  std::unordered_map<std::string, int> sites_;
  std::unordered_map<std::string, int> types_;
  std::unordered_map<std::string, int> pools_;
  std::unordered_map<std::string, int> resources_;
  std::unordered_map<std::string, int> managers_;
  std::vector<InventoryFileAlarm> alarms_;
};

Fields::Fields(Parser& parser, const YAML::Node& node, std::string path,
               std::initializer_list<std::string_view> allowed)
    : parser_(parser), node_(node), path_(std::move(path)) {
  parser_.charge(node);
  if (!node.IsMap()) {
    parser_.fail(node, subject() + ": must be a mapping, not a " + type_word(node));
  }
  entries_.reserve(node.size());
  // By value: yaml-cpp's iterator hands out pairs in temporaries, so a
  // reference to it->first would dangle.
  for (const auto& pair : node) {
    const YAML::Node key = pair.first;
    if (!key.IsScalar()) {
      parser_.fail(key, subject() + ": keys must be plain names, not a " + type_word(key));
    }
    std::string name = parser_.text(key, subject());
    for (const auto& seen : entries_) {
      if (seen.name == name) {
        parser_.fail(key, subject() + ": duplicate key '" + name + "' (first given on line " +
                              std::to_string(line_of(seen.key.Mark())) + ")");
      }
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string hint = did_you_mean(closest(name, allowed));
      if (name == "<<") hint = " (YAML merge keys are not supported; repeat the values)";
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      parser_.fail(key, subject() + ": unknown key '" + name + "'" + hint + "; allowed keys: " + list);
    }
    entries_.push_back({std::move(name), key, pair.second});
  }
}

const Entry* Fields::find(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return e.value.IsNull() ? nullptr : &e;
  }
  return nullptr;
}

void Fields::fail_at(const Entry& entry, const std::string& reason) const {
  parser_.fail(entry.key, at(entry.name) + ": " + reason);
}

void Fields::fail_missing(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) parser_.fail(e.key, at(name) + ": is required but empty");
  }
  parser_.fail(node_, subject() + ": missing required key '" + std::string(name) + "'");
}

const Entry& Fields::require(std::string_view name) const {
  const Entry* e = find(name);
  if (e == nullptr) fail_missing(name);
  return *e;
}

std::string Fields::required_string(std::string_view name, bool allow_empty) {
  const Entry& e = require(name);
  if (!e.value.IsScalar()) fail_at(e, "must be a string, not a " + type_word(e.value));
  std::string value = parser_.text(e.value, at(name));
  if (value.empty() && !allow_empty) fail_at(e, "must not be empty");
  return value;
}

std::string Fields::optional_string(std::string_view name, std::string fallback) {
  const Entry* e = find(name);
  if (e == nullptr) return fallback;
  if (!e->value.IsScalar()) fail_at(*e, "must be a string, not a " + type_word(e->value));
  return parser_.text(e->value, at(name));
}

bool is_valid_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  auto ok = [](char c, bool first) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (!first && (c == '-' || c == '_' || c == '.'));
  };
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (!ok(key[i], i == 0)) return false;
  }
  return true;
}

std::string Fields::required_key(std::string_view name) {
  std::string key = required_string(name);
  if (!is_valid_key(key)) {
    fail_at(require(name), "'" + key + "' is not a valid key: use 1 to " + std::to_string(kMaxKeyLength) +
                               " letters, digits, '-', '_' or '.', starting with a letter or "
                               "digit");
  }
  return key;
}

template <std::size_t N>
std::string Fields::enum_value(std::string_view name, const std::string_view (&allowed)[N],
                               std::optional<std::string_view> fallback) {
  if (fallback && !has(name)) return std::string(*fallback);
  std::string value = required_string(name);
  if (!is_one_of(value, allowed)) {
    fail_at(require(name), "'" + value + "' is not allowed; use " + one_of_list(allowed));
  }
  return value;
}

std::vector<std::string> Fields::string_list(std::string_view name, std::optional<std::vector<std::string>> fallback) {
  const Entry* e = find(name);
  if (e == nullptr) return fallback ? std::move(*fallback) : std::vector<std::string>{};
  if (!e->value.IsSequence()) fail_at(*e, "must be a list of strings, not a " + type_word(e->value));
  std::vector<std::string> out;
  out.reserve(e->value.size());
  std::size_t i = 0;
  for (const auto& item : e->value) {
    parser_.charge(item);
    out.push_back(parser_.scalar(item, at(name) + "[" + std::to_string(i++) + "]"));
  }
  return out;
}

json Fields::free_form_object(std::string_view name) {
  const Entry* e = find(name);
  if (e == nullptr) return json::object();
  if (!e->value.IsMap()) fail_at(*e, "must be a mapping, not a " + type_word(e->value));
  return parser_.to_json(e->value, at(name), 0);
}

std::vector<std::pair<YAML::Node, std::string>> Fields::list(std::string_view name) {
  std::vector<std::pair<YAML::Node, std::string>> out;
  const Entry* e = find(name);
  if (e == nullptr) return out;
  if (!e->value.IsSequence()) fail_at(*e, "must be a list, not a " + type_word(e->value));
  out.reserve(e->value.size());
  std::size_t i = 0;
  for (const auto& item : e->value) {
    out.emplace_back(item, at(name) + "[" + std::to_string(i++) + "]");
  }
  return out;
}

json Parser::to_json(const YAML::Node& node, const std::string& path, int depth) {
  charge(node);
  if (depth > kMaxValueDepth) {
    fail(node, path + ": nested more than " + std::to_string(kMaxValueDepth) + " levels deep");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar:
      // Quoted or explicitly tagged scalars stay strings: "8080" is text.
      return node.Tag() == "?" ? plain_scalar_to_json(text(node, path)) : json(text(node, path));
    case YAML::NodeType::Sequence: {
      json out = json::array();
      std::size_t i = 0;
      for (const auto& item : node) {
        out.push_back(to_json(item, path + "[" + std::to_string(i++) + "]", depth + 1));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& pair : node) {
        const YAML::Node key = pair.first;
        if (!key.IsScalar()) fail(key, path + ": keys must be plain names, not a " + type_word(key));
        const std::string& name = text(key, path);
        if (out.contains(name)) fail(key, path + ": duplicate key '" + name + "'");
        out[name] = to_json(pair.second, path + "." + name, depth + 1);
      }
      return out;
    }
    case YAML::NodeType::Undefined: break;
  }
  fail(node, path + ": undefined value");
}

void Parser::declare(std::unordered_map<std::string, int>& declared, const std::string& key, const Fields& fields,
                     std::string_view name, std::string_view what) {
  const Entry* e = fields.find(name);
  int line = line_of(e != nullptr ? e->key.Mark() : fields.node().Mark());
  auto [it, inserted] = declared.emplace(key, line);
  if (!inserted) {
    fail(e != nullptr ? e->key.Mark() : fields.node().Mark(), fields.at(name) + ": duplicate " + std::string(what) +
                                                                  " '" + key + "' (first declared on line " +
                                                                  std::to_string(it->second) + ")");
  }
}

void Parser::check_reference(const YAML::Node& at, const std::string& path, const std::string& key,
                             const std::unordered_map<std::string, int>& declared, std::string_view what) {
  if (declared.contains(key)) return;
  std::vector<std::string> known;
  known.reserve(declared.size());
  for (const auto& [k, line] : declared) known.push_back(k);
  std::sort(known.begin(), known.end());  // the same suggestion on every run
  fail(at, path + ": unknown " + std::string(what) + " '" + key + "'" + did_you_mean(closest(key, known)));
}

OCloudModel Parser::parse(const std::string& text) {
  if (const std::size_t bad = first_invalid_utf8(text); bad != std::string_view::npos) {
    throw InventoryFileError(origin_, line_at_offset(text, bad),
                             "the file is not valid UTF-8 (byte " +
                                 std::to_string(static_cast<unsigned char>(text[bad])) + "); save it as UTF-8");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
    if (auto second = second_document(text)) {
      fail(*second, "only one YAML document is allowed; remove the second '---'");
    }
  } catch (const YAML::Exception& e) {
    throw InventoryFileError(origin_, line_of(e.mark), "YAML syntax error: " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    // A half-written file often looks empty; an empty inventory must be said out loud.
    throw InventoryFileError(origin_, 1, "the file has no content; write '{}' to declare an empty inventory");
  }
  if (!root.IsMap()) {
    fail(root,
         "the file must be a mapping with the lists locations, sites, resourceTypes, "
         "resourcePools, resources and deploymentManagers, not a " +
             type_word(root));
  }
  Fields top(
      *this, root, "",
      {"version", "locations", "sites", "resourceTypes", "resourcePools", "resources", "deploymentManagers", "alarms"});
  if (const Entry* v = top.find("version")) {
    if (!v->value.IsScalar() || v->value.Scalar() != std::to_string(kInventoryFileFormatVersion)) {
      top.fail_at(
          *v, "unsupported format version; this gateway reads version " + std::to_string(kInventoryFileFormatVersion));
    }
  }
  OCloudModel model;
  // Dependency order, whatever order the file lists them in: every reference
  // is checked against what was declared before it.
  parse_locations(top, model);
  parse_sites(top, model);
  parse_resource_types(top, model);
  parse_pools(top, model);
  parse_resources(top, model);
  parse_deployment_managers(top, model);
  parse_alarms(top, model);
  return model;
}

bool is_valid_location_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxLocationIdLength) return false;
  // It is a path segment of /locations/{globalLocationId}.
  return std::none_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '/' || c == '?' || c == '#' || c == '%';
  });
}

json Parser::parse_coordinate(const Entry& entry, const std::string& path) {
  Fields c(*this, entry.value, path, {"type", "coordinates"});
  std::string type = c.required_string("type");
  if (type != "Point") c.fail_at(*c.find("type"), "must be 'Point' (a GeoJSON point)");
  const Entry* coords = c.find("coordinates");
  if (coords == nullptr) c.fail_missing("coordinates");
  if (!coords->value.IsSequence() || coords->value.size() < 2 || coords->value.size() > 3) {
    c.fail_at(*coords, "must be a list [longitude, latitude] or [longitude, latitude, altitude]");
  }
  json out = json::array();
  std::size_t i = 0;
  for (const auto& item : coords->value) {
    charge(item);
    std::string where = c.at("coordinates") + "[" + std::to_string(i) + "]";
    json number = item.IsScalar() && item.Tag() == "?" ? plain_scalar_to_json(item.Scalar()) : json();
    if (!number.is_number()) fail(item, where + ": must be a number");
    double value = number.get<double>();
    if (i == 0 && (value < -180 || value > 180)) fail(item, where + ": longitude must be within -180..180");
    if (i == 1 && (value < -90 || value > 90)) fail(item, where + ": latitude must be within -90..90");
    out.push_back(value);
    ++i;
  }
  return json{{"type", "Point"}, {"coordinates", std::move(out)}};
}

json Parser::parse_civic_address(Fields& fields) {
  const Entry* e = fields.find("civicAddress");
  if (e == nullptr) return nullptr;
  auto items = fields.list("civicAddress");
  if (items.empty()) fields.fail_at(*e, "must list at least one {caType, caValue} element");
  json out = json::array();
  for (const auto& [item, path] : items) {
    Fields ca(*this, item, path, {"caType", "caValue"});
    std::string type_text = ca.required_string("caType");
    int ca_type = -1;
    auto [ptr, ec] = std::from_chars(type_text.data(), type_text.data() + type_text.size(), ca_type);
    if (ec != std::errc() || ptr != type_text.data() + type_text.size() || ca_type < 0 || ca_type > 255) {
      ca.fail_at(*ca.find("caType"), "must be an RFC 4776 CAtype number within 0..255");
    }
    out.push_back(json{{"caType", ca_type}, {"caValue", ca.required_string("caValue")}});
  }
  return out;
}

void Parser::parse_locations(Fields& top, OCloudModel& model) {
  for (const auto& [node, path] : top.list("locations")) {
    Fields f(*this, node, path,
             {"globalLocationId", "name", "description", "coordinate", "civicAddress", "address", "extensions"});
    LocationSpec loc;
    loc.global_location_id = f.required_string("globalLocationId");
    if (!is_valid_location_id(loc.global_location_id)) {
      f.fail_at(*f.find("globalLocationId"),
                "'" + loc.global_location_id + "' cannot be used in a URL path: use up to " +
                    std::to_string(kMaxLocationIdLength) +
                    " characters without spaces, control characters, '/', '?', '#' or '%'");
    }
    declare(locations_, loc.global_location_id, f, "globalLocationId", "globalLocationId");
    loc.name = f.required_string("name");
    loc.description = f.optional_string("description");
    if (const Entry* c = f.find("coordinate")) loc.coordinate = parse_coordinate(*c, f.at("coordinate"));
    loc.civic_address = parse_civic_address(f);
    if (f.has("address")) loc.address = f.required_string("address");
    if (loc.coordinate.is_null() && loc.civic_address.is_null() && !loc.address) {
      fail(node,
           path + " ('" + loc.global_location_id + "'): give at least one of coordinate, civicAddress or address");
    }
    loc.extensions = f.free_form_object("extensions");
    model.locations.push_back(std::move(loc));
  }
}

void Parser::parse_sites(Fields& top, OCloudModel& model) {
  for (const auto& [node, path] : top.list("sites")) {
    Fields f(*this, node, path, {"key", "location", "name", "description", "extensions"});
    SiteSpec site;
    site.key = f.required_key("key");
    declare(sites_, site.key, f, "key", "site key");
    site.global_location_id = f.required_string("location");
    check_reference(f.find("location")->key, f.at("location"), site.global_location_id, locations_, "location");
    site.name = f.required_string("name");
    site.description = f.optional_string("description");
    site.extensions = f.free_form_object("extensions");
    model.sites.push_back(std::move(site));
  }
}

AlarmDictionarySpec Parser::parse_alarm_dictionary(const YAML::Node& node, const std::string& path,
                                                   const ResourceTypeSpec& type) {
  Fields f(*this, node, path,
           {"alarmDictionaryVersion", "alarmDictionarySchemaVersion", "entityType", "vendor", "pkNotificationField",
            "alarmDefinition"});
  AlarmDictionarySpec dict;
  dict.version = f.required_string("alarmDictionaryVersion");
  dict.schema_version =
      f.optional_string("alarmDictionarySchemaVersion", std::string(kDefaultAlarmDictionarySchemaVersion));
  dict.entity_type = f.optional_string("entityType", type.model + "-" + type.version);
  dict.vendor = f.optional_string("vendor", type.vendor);
  dict.pk_notification_field =
      f.string_list("pkNotificationField", std::vector{std::string(kDefaultPkNotificationField)});
  std::unordered_map<std::string, int> definition_keys;
  for (const auto& [item, item_path] : f.list("alarmDefinition")) {
    Fields d(*this, item, item_path,
             {"key", "alarmName", "alarmDescription", "alarmLastChange", "alarmChangeType", "proposedRepairActions",
              "clearingType", "pkNotificationField", "alarmAdditionalFields"});
    AlarmDefinitionSpec def;
    def.key = d.required_key("key");
    declare(definition_keys, def.key, d, "key", "alarm definition key");
    def.name = d.required_string("alarmName");
    def.description = d.required_string("alarmDescription");
    def.last_change = d.optional_string("alarmLastChange", dict.version);
    def.change_type = d.enum_value("alarmChangeType", kAlarmChangeTypes, "ADDED");
    def.proposed_repair_actions = d.optional_string("proposedRepairActions");
    def.clearing_type = d.enum_value("clearingType", kClearingTypes, std::nullopt);
    def.pk_notification_field = d.string_list("pkNotificationField", dict.pk_notification_field);
    def.additional_fields = d.free_form_object("alarmAdditionalFields");
    dict.definitions.push_back(std::move(def));
  }
  return dict;
}

void Parser::parse_resource_types(Fields& top, OCloudModel& model) {
  for (const auto& [node, path] : top.list("resourceTypes")) {
    Fields f(*this, node, path,
             {"key", "name", "description", "vendor", "model", "version", "resourceKind", "resourceClass", "extensions",
              "alarmDictionary"});
    ResourceTypeSpec type;
    type.key = f.required_key("key");
    declare(types_, type.key, f, "key", "resource type key");
    type.name = f.required_string("name");
    type.description = f.optional_string("description");
    type.vendor = f.required_string("vendor");
    type.model = f.required_string("model");
    type.version = f.required_string("version");
    type.resource_kind = f.enum_value("resourceKind", kResourceKinds, std::nullopt);
    type.resource_class = f.enum_value("resourceClass", kResourceClasses, std::nullopt);
    type.extensions = f.free_form_object("extensions");
    if (const Entry* d = f.find("alarmDictionary")) {
      type.alarm_dictionary = parse_alarm_dictionary(d->value, f.at("alarmDictionary"), type);
    }
    model.resource_types.push_back(std::move(type));
  }
}

void Parser::parse_pools(Fields& top, OCloudModel& model) {
  for (const auto& [node, path] : top.list("resourcePools")) {
    Fields f(*this, node, path, {"key", "site", "name", "description", "extensions"});
    ResourcePoolSpec pool;
    pool.key = f.required_key("key");
    declare(pools_, pool.key, f, "key", "resource pool key");
    pool.site_key = f.required_string("site");
    check_reference(f.find("site")->key, f.at("site"), pool.site_key, sites_, "site");
    pool.name = f.required_string("name");
    pool.description = f.optional_string("description");
    pool.extensions = f.free_form_object("extensions");
    model.resource_pools.push_back(std::move(pool));
  }
}

ResourceSpec Parser::parse_resource(const YAML::Node& node, const std::string& path, int depth,
                                    const std::string* parent_type_key,
                                    std::unordered_map<std::string, int>& siblings) {
  const bool is_element = parent_type_key != nullptr;
  Fields f =
      is_element
          ? Fields(*this, node, path,
                   {"key", "type", "description", "globalAssetId", "tags", "groups", "extensions", "elements"})
          : Fields(*this, node, path,
                   {"key", "pool", "type", "description", "globalAssetId", "tags", "groups", "extensions", "elements"});
  ResourceSpec res;
  res.key = f.required_key("key");
  declare(siblings, res.key, f, "key", is_element ? "element key" : "resource key");
  if (!is_element) {
    res.pool_key = f.required_string("pool");
    check_reference(f.find("pool")->key, f.at("pool"), res.pool_key, pools_, "resource pool");
  }
  if (is_element && !f.has("type")) {
    res.type_key = *parent_type_key;  // a part of the same kind of thing unless it says otherwise
  } else {
    res.type_key = f.required_string("type");
    check_reference(f.find("type")->key, f.at("type"), res.type_key, types_, "resource type");
  }
  res.description = f.required_string("description");
  res.global_asset_id = f.optional_string("globalAssetId");
  res.tags = f.string_list("tags");
  res.groups = f.string_list("groups");
  res.extensions = f.free_form_object("extensions");
  auto elements = f.list("elements");
  if (!elements.empty() && depth >= kMaxElementDepth) {
    f.fail_at(*f.find("elements"), "elements nest more than " + std::to_string(kMaxElementDepth) + " levels deep");
  }
  std::unordered_map<std::string, int> element_keys;
  for (const auto& [item, item_path] : elements) {
    res.elements.push_back(parse_resource(item, item_path, depth + 1, &res.type_key, element_keys));
  }
  return res;
}

void Parser::parse_resources(Fields& top, OCloudModel& model) {
  auto items = top.list("resources");
  model.resources.reserve(items.size());
  for (const auto& [node, path] : items) {
    model.resources.push_back(parse_resource(node, path, 0, nullptr, resources_));
  }
}

void Parser::parse_deployment_managers(Fields& top, OCloudModel& model) {
  for (const auto& [node, path] : top.list("deploymentManagers")) {
    Fields f(*this, node, path,
             {"key", "name", "description", "serviceUri", "sites", "capabilities", "capacity", "extensions"});
    DeploymentManagerSpec dm;
    dm.key = f.required_key("key");
    declare(managers_, dm.key, f, "key", "deployment manager key");
    dm.name = f.required_string("name");
    dm.description = f.optional_string("description");
    dm.service_uri = f.required_string("serviceUri");
    if (!dm.service_uri.starts_with("https://") && !dm.service_uri.starts_with("http://")) {
      f.fail_at(*f.find("serviceUri"), "must be an http:// or https:// URL");
    }
    if (!f.has("sites")) f.fail_missing("sites");
    auto sites = f.list("sites");
    if (sites.empty()) f.fail_at(*f.find("sites"), "must name at least one site");
    for (const auto& [item, item_path] : sites) {
      charge(item);
      std::string site_key = scalar(item, item_path);
      check_reference(item, item_path, site_key, sites_, "site");
      if (std::find(dm.site_keys.begin(), dm.site_keys.end(), site_key) != dm.site_keys.end()) {
        fail(item, item_path + ": site '" + site_key + "' is listed twice");
      }
      dm.site_keys.push_back(std::move(site_key));
    }
    dm.capabilities = f.free_form_object("capabilities");
    dm.capacity = f.free_form_object("capacity");
    dm.extensions = f.free_form_object("extensions");
    model.deployment_managers.push_back(std::move(dm));
  }
}

// Lower-case names, in the order of Severity's values.
constexpr std::string_view kAlarmSeverities[] = {"critical", "major", "minor", "warning", "indeterminate"};

void Parser::parse_alarms(Fields& top, const OCloudModel& model) {
  auto items = top.list("alarms");
  if (items.empty()) return;
  // Top-level resources only: elements are parts of their resource's document,
  // not Resources of their own that an alarm could name.
  std::unordered_map<std::string, std::string> type_of;  // resource key -> type key
  for (const auto& r : model.resources) type_of.emplace(r.key, r.type_key);
  std::unordered_map<std::string, const ResourceTypeSpec*> types;
  for (const auto& t : model.resource_types) types.emplace(t.key, &t);
  std::unordered_map<std::string, int> keys;
  for (const auto& [node, path] : items) {
    Fields f(*this, node, path, {"key", "resource", "definition", "severity", "extensions"});
    InventoryFileAlarm alarm;
    alarm.key = f.required_key("key");
    declare(keys, alarm.key, f, "key", "alarm key");
    alarm.resource_key = f.required_string("resource");
    auto type = type_of.find(alarm.resource_key);
    if (type == type_of.end()) {
      std::vector<std::string> known;  // in file order, so the suggestion is stable
      known.reserve(model.resources.size());
      for (const auto& r : model.resources) known.push_back(r.key);
      f.fail_at(*f.find("resource"), "unknown resource '" + alarm.resource_key +
                                         "' (give the key of a top-level resource)" +
                                         did_you_mean(closest(alarm.resource_key, known)));
    }
    alarm.type_key = type->second;
    alarm.definition_key = f.required_string("definition");
    const ResourceTypeSpec* spec = types.at(alarm.type_key);
    std::vector<std::string> definitions;
    if (spec->alarm_dictionary) {
      for (const auto& d : spec->alarm_dictionary->definitions) definitions.push_back(d.key);
    }
    if (std::find(definitions.begin(), definitions.end(), alarm.definition_key) == definitions.end()) {
      f.fail_at(*f.find("definition"),
                definitions.empty()
                    ? "resource type '" + alarm.type_key + "' of resource '" + alarm.resource_key +
                          "' has no alarm dictionary, so it has no alarm definition '" + alarm.definition_key + "'"
                    : "resource type '" + alarm.type_key + "' has no alarm definition '" + alarm.definition_key + "'" +
                          did_you_mean(closest(alarm.definition_key, definitions)));
    }
    const std::string severity = f.enum_value("severity", kAlarmSeverities, std::nullopt);
    for (std::size_t i = 0; i < std::size(kAlarmSeverities); ++i) {
      if (kAlarmSeverities[i] == severity) alarm.severity = static_cast<Severity>(i);
    }
    alarm.extensions = f.free_form_object("extensions");
    alarms_.push_back(std::move(alarm));
  }
}

}  // namespace

InventoryFileContents parse_inventory_contents(const std::string& text, const std::string& origin) {
  Parser parser(text, origin);
  InventoryFileContents out;
  try {
    out.model = parser.parse(text);
  } catch (const YAML::Exception& e) {
    throw InventoryFileError(origin, line_of(e.mark), "invalid YAML: " + e.msg);
  }
  out.alarms = parser.take_alarms();
  return out;
}

std::vector<AlarmReport> inventory_alarm_reports(const std::vector<InventoryFileAlarm>& alarms,
                                                 const AdapterContext& ctx) {
  const O2Ids ids(ctx);
  std::vector<AlarmReport> out;
  out.reserve(alarms.size());
  for (const auto& a : alarms) {
    AlarmReport r;
    r.source = "file/" + ctx.spec.name;
    r.key = a.key;
    r.resource_id = ids.resource(a.resource_key);
    r.definition = ids.alarm_definition(a.type_key, a.definition_key);
    r.severity = a.severity;
    r.extensions = a.extensions;
    out.push_back(std::move(r));
  }
  return out;
}

OCloudModel parse_inventory_model(const std::string& text, const std::string& origin) {
  Parser parser(text, origin);
  try {
    return parser.parse(text);
  } catch (const YAML::Exception& e) {
    // Node access on a malformed tree: still the file's fault, with a position.
    throw InventoryFileError(origin, line_of(e.mark), "invalid YAML: " + e.msg);
  }
}

std::vector<InventoryObject> parse_inventory_file(const std::string& text, const std::string& origin,
                                                  const AdapterContext& ctx) {
  return build_inventory(parse_inventory_model(text, origin), ctx);
}

}  // namespace o2gw::ims
