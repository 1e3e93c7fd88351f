// filter= : SOL013 §5.2 attribute-based filtering, compiled once per request and
// evaluated on the in-memory JSON without allocating.
//
// Semantics beyond the text of SOL013, chosen here:
// - An array on the way to, or at, the attribute: a positive operator (eq, in, gt,
//   lt, gte, lte, cont) holds when it holds for any element. neq, nin and ncont are
//   the negations of eq, in and cont, so they hold when no element matches, and when
//   the attribute is absent.
// - Values are typed by the schema: a value that does not fit (a non-number for a
//   number, a non-UUID for eq on a UUID, ...) is a 400, as are ordering operators on
//   booleans and UUIDs and cont/ncont on anything but strings and UUIDs. Below open
//   objects (extensions, ...) the JSON value found decides: numbers compare
//   numerically when the filter value is a number, booleans with true/false, strings
//   by code point; values of another type do not match.
// - Positions in problem details are 1-based characters of the decoded parameter.
#include <algorithm>

#include "o2gw/uuid.hpp"
#include "query_internal.hpp"

namespace o2gw {

using namespace query_detail;  // NOLINT(google-build-using-namespace)

namespace {

enum class Op : std::uint8_t { eq, neq, gt, lt, gte, lte, in, nin, cont, ncont };

struct OpInfo {
  std::string_view name;
  Op op;
  Op positive;  // what is evaluated; the term negates it when positive != op
  bool single;  // exactly one value
};

constexpr OpInfo kOps[] = {
    {"eq", Op::eq, Op::eq, true},          {"neq", Op::neq, Op::eq, true},  {"gt", Op::gt, Op::gt, true},
    {"lt", Op::lt, Op::lt, true},          {"gte", Op::gte, Op::gte, true}, {"lte", Op::lte, Op::lte, true},
    {"in", Op::in, Op::in, false},         {"nin", Op::nin, Op::in, false}, {"cont", Op::cont, Op::cont, false},
    {"ncont", Op::ncont, Op::cont, false},
};

const OpInfo* find_op(std::string_view name) {
  for (const auto& o : kOps) {
    if (name.size() == o.name.size() && compare_ascii_ci(name, o.name) == 0) return &o;
  }
  return nullptr;
}

bool ordering(Op op) {
  return op == Op::gt || op == Op::lt || op == Op::gte || op == Op::lte;
}

std::string_view type_name(AttrType t) {
  switch (t) {
    case AttrType::string: return "a string";
    case AttrType::uuid: return "a UUID";
    case AttrType::number: return "a number";
    case AttrType::integer: return "an integer";
    case AttrType::boolean: return "a boolean";
    case AttrType::datetime: return "an RFC 3339 date-time";
    case AttrType::object: return "an object";
    case AttrType::record: return "an object";
  }
  return "a value";
}

struct Operand {
  std::string text;  // lower-case for UUID attributes
  Number num;
  Instant time;
  bool is_number = false;
  bool is_bool = false;
  bool boolean = false;
};

constexpr int kIncomparable = 2;

template <typename A>
int three_way(const A& a, const A& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

struct Filter::Compiled {
  struct Term {
    Op positive = Op::eq;
    bool negate = false;
    std::vector<std::string> path;
    AttrType type = AttrType::string;
    bool dynamic = false;
    std::vector<Operand> operands;
  };
  std::vector<Term> terms;
  std::string canonical;
};

namespace {

using Term = Filter::Compiled::Term;

// -1, 0, 1, or kIncomparable when the leaf cannot be compared with the operand.
int compare_leaf(const LeafRef& v, const Term& t, const Operand& o) {
  const AttrType type = t.dynamic ? AttrType::object : t.type;
  switch (type) {
    case AttrType::string: return v.is_string ? compare_bytes(v.text, o.text) : kIncomparable;
    case AttrType::uuid: return v.is_string ? compare_ascii_ci(v.text, o.text) : kIncomparable;
    case AttrType::number:
    case AttrType::integer: return v.value->is_number() ? compare_number(*v.value, o.num) : kIncomparable;
    case AttrType::boolean: return v.value->is_boolean() ? three_way(v.value->get<bool>(), o.boolean) : kIncomparable;
    case AttrType::datetime: {
      Instant at;
      if (!v.is_string || !parse_rfc3339(v.text, at)) return kIncomparable;
      return three_way(at, o.time);
    }
    case AttrType::object:
    case AttrType::record:
      if (v.is_string) return compare_bytes(v.text, o.text);
      if (v.value->is_number()) return o.is_number ? compare_number(*v.value, o.num) : kIncomparable;
      if (v.value->is_boolean()) return o.is_bool ? three_way(v.value->get<bool>(), o.boolean) : kIncomparable;
      return kIncomparable;
  }
  return kIncomparable;
}

bool test_leaf(const LeafRef& v, const Term& t) {
  switch (t.positive) {
    case Op::eq:
    case Op::in:
      return std::any_of(t.operands.begin(), t.operands.end(),
                         [&](const Operand& o) { return compare_leaf(v, t, o) == 0; });
    case Op::cont: {
      if (!v.is_string) return false;
      const bool ci = !t.dynamic && t.type == AttrType::uuid;
      return std::any_of(t.operands.begin(), t.operands.end(), [&](const Operand& o) {
        return ci ? contains_ascii_ci(v.text, o.text) : v.text.find(o.text) != std::string_view::npos;
      });
    }
    case Op::gt: {
      int c = compare_leaf(v, t, t.operands.front());
      return c != kIncomparable && c > 0;
    }
    case Op::gte: {
      int c = compare_leaf(v, t, t.operands.front());
      return c != kIncomparable && c >= 0;
    }
    case Op::lt: {
      int c = compare_leaf(v, t, t.operands.front());
      return c < 0;
    }
    case Op::lte: {
      int c = compare_leaf(v, t, t.operands.front());
      return c <= 0;
    }
    default: return false;
  }
}

// Any value reached by `path` from `v`, descending into every element of arrays.
bool any_leaf(const json& v, const std::string* seg, const std::string* end, const Term& t) {
  if (v.is_array()) {
    for (const json& e : v) {
      if (any_leaf(e, seg, end, t)) return true;
    }
    return false;
  }
  if (seg == end) return test_leaf(LeafRef::of(v), t);
  if (!v.is_object()) return false;
  auto it = v.find(*seg);
  if (it == v.end()) return false;
  return any_leaf(*it, seg + 1, end, t);
}

void append_quoted(std::string& out, std::string_view v) {
  out.push_back('\'');
  for (char c : v) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
}

std::string describe(char c) {
  if (c == '\'') return "quote";
  return std::string("'") + c + "'";
}

class FilterParser {
 public:
  FilterParser(std::string_view text, const AttributeSchema& schema) : text_(text), schema_(schema) {}

  std::optional<Problem> parse(Filter::Compiled& out) {
    const std::size_t n = text_.size();
    std::size_t pos = 0;
    while (true) {
      term_start_ = pos;
      if (pos == n || text_[pos] == ';') return fail(pos, "empty term");
      if (text_[pos] != '(') return fail(pos, "expected '(' to start a term");
      ++pos;

      const std::size_t op_at = pos;
      std::string_view op_text = token(pos);
      if (auto p = stray(pos)) return p;
      if (op_text.empty()) return fail(op_at, "missing operator");
      const OpInfo* op = find_op(op_text);
      if (op == nullptr) {
        return fail(op_at, "unknown operator '" + excerpt(op_text, 20) +
                               "'; expected eq, neq, gt, lt, gte, lte, in, nin, cont or ncont");
      }
      if (pos == n) return unclosed();
      if (text_[pos] == ')') return fail(pos, "missing attribute");
      ++pos;  // ','

      const std::size_t attr_at = pos;
      std::string_view attr = token(pos);
      if (auto p = stray(pos)) return p;
      if (attr.empty()) return fail(attr_at, "missing attribute");

      std::vector<std::pair<std::string, std::size_t>> values;  // text, offset
      while (pos < n && text_[pos] == ',') {
        ++pos;
        const std::size_t at = pos;
        std::string value;
        if (pos < n && text_[pos] == '\'') {
          ++pos;
          while (true) {
            if (pos == n) return fail(at, "unbalanced quote: the value is not closed");
            if (text_[pos] == '\'') {
              if (pos + 1 < n && text_[pos + 1] == '\'') {
                value.push_back('\'');
                pos += 2;
                continue;
              }
              ++pos;
              break;
            }
            value.push_back(text_[pos++]);
          }
          if (pos < n && text_[pos] != ',' && text_[pos] != ')') {
            return fail(pos, "unexpected " + describe(text_[pos]) + " after a quoted value");
          }
        } else {
          std::string_view v = token(pos);
          if (pos < n && text_[pos] != ',' && text_[pos] != ')') {
            return fail(pos, "unexpected " + describe(text_[pos]) +
                                 " in a value; quote values that contain , ( ) ; or ' (write '' for a quote)");
          }
          if (v.empty()) return fail(at, "empty value; write '' for an empty string");
          value.assign(v);
        }
        values.emplace_back(std::move(value), at);
      }
      if (pos == n) return unclosed();
      ++pos;  // ')'

      if (op->single && values.size() != 1) {
        return fail(op_at, "operator '" + std::string(op->name) + "' takes exactly one value, got " +
                               (values.empty() ? std::string("none") : std::to_string(values.size())));
      }
      if (values.empty()) {
        return fail(op_at, "operator '" + std::string(op->name) + "' takes one or more values, got none");
      }

      Term term;
      if (auto p = compile(*op, attr, attr_at, op_at, values, term)) return p;
      if (!out.canonical.empty()) out.canonical.push_back(';');
      out.canonical.append("(").append(op->name).append(",").append(attr);
      for (const auto& v : values) {
        out.canonical.push_back(',');
        append_quoted(out.canonical, v.first);
      }
      out.canonical.push_back(')');
      out.terms.push_back(std::move(term));

      if (pos == n) return std::nullopt;
      if (text_[pos] != ';') {
        term_start_ = pos;
        return fail(pos, "unexpected " + describe(text_[pos]) + " after a term; join terms with ';'");
      }
      ++pos;
    }
  }

 private:
  // Reads up to the next structural character.
  std::string_view token(std::size_t& pos) const {
    const std::size_t start = pos;
    while (pos < text_.size()) {
      char c = text_[pos];
      if (c == ',' || c == '(' || c == ')' || c == ';' || c == '\'') break;
      ++pos;
    }
    return text_.substr(start, pos - start);
  }

  // After an operator or attribute: only ',' or ')' may follow.
  std::optional<Problem> stray(std::size_t pos) const {
    if (pos < text_.size() && text_[pos] != ',' && text_[pos] != ')') {
      return fail(pos, "unexpected " + describe(text_[pos]));
    }
    return std::nullopt;
  }

  std::optional<Problem> unclosed() const {
    return fail(term_start_, "unbalanced parenthesis: the term is not closed with ')'");
  }

  // The text of the current term, for the problem detail: up to its closing ')' or
  // the next ';' outside quotes.
  std::string_view term_text() const {
    bool quoted = false;
    std::size_t i = term_start_;
    for (; i < text_.size(); ++i) {
      char c = text_[i];
      if (c == '\'') quoted = !quoted;
      if (quoted) continue;
      if (c == ')') return text_.substr(term_start_, i + 1 - term_start_);
      if (c == ';') break;
    }
    return text_.substr(term_start_, i - term_start_);
  }

  std::optional<Problem> fail(std::size_t offset, std::string what) const {
    std::string_view term = term_text();
    std::string detail = "filter";
    if (!term.empty()) detail += " term '" + excerpt(term) + "'";
    detail += " at position " + std::to_string(char_position(text_, offset)) + ": " + what;
    return bad_request(std::move(detail));
  }

  std::optional<Problem> compile(const OpInfo& op, std::string_view attr, std::size_t attr_at, std::size_t op_at,
                                 const std::vector<std::pair<std::string, std::size_t>>& values, Term& term) const {
    ResolvedPath path;
    std::string error;
    std::size_t error_offset = 0;
    if (!resolve_path(schema_, attr, path, error, error_offset)) return fail(attr_at + error_offset, error);
    if (path.complex) {
      return fail(attr_at, "attribute '" + excerpt(attr) + "' is " + std::string(type_name(path.type)) +
                               "; filter on one of its sub-attributes");
    }
    const std::string op_name(op.name);
    if (!path.dynamic) {
      if (ordering(op.op) && (path.type == AttrType::boolean || path.type == AttrType::uuid)) {
        return fail(op_at, "operator '" + op_name + "' does not apply to attribute '" + excerpt(attr) + "', " +
                               std::string(type_name(path.type)) + "; use eq, neq, in or nin");
      }
      if (op.positive == Op::cont && path.type != AttrType::string && path.type != AttrType::uuid) {
        return fail(op_at, "operator '" + op_name + "' applies to strings only, and attribute '" + excerpt(attr) +
                               "' is " + std::string(type_name(path.type)));
      }
    }
    term.positive = op.positive;
    term.negate = op.positive != op.op;
    term.path = std::move(path.segments);
    term.type = path.type;
    term.dynamic = path.dynamic;
    for (const auto& value : values) {
      const std::string& text = value.first;
      const std::size_t at = value.second;  // not a structured binding: lambdas capture it
      Operand o;
      auto wrong = [&] {
        return fail(at, "value '" + excerpt(text, 40) + "' is not " + std::string(type_name(term.type)) +
                            ", as attribute '" + excerpt(attr) + "' requires");
      };
      if (term.dynamic) {
        o.is_number = parse_number(text, o.num);
        o.is_bool = text == "true" || text == "false";
        o.boolean = text == "true";
        o.text = text;
      } else {
        switch (term.type) {
          case AttrType::string: o.text = text; break;
          case AttrType::uuid:
            // cont takes any part of a UUID; the other operators whole UUIDs.
            if (term.positive != Op::cont && !is_uuid(text)) return wrong();
            o.text = lower_ascii(text);
            break;
          case AttrType::number:
          case AttrType::integer:
            if (!parse_number(text, o.num)) return wrong();
            o.is_number = true;
            break;
          case AttrType::boolean:
            if (compare_ascii_ci(text, "true") == 0) {
              o.boolean = true;
            } else if (compare_ascii_ci(text, "false") != 0) {
              return wrong();
            }
            o.is_bool = true;
            break;
          case AttrType::datetime:
            if (!parse_rfc3339(text, o.time)) return wrong();
            break;
          case AttrType::object:
          case AttrType::record: return wrong();  // excluded above
        }
      }
      term.operands.push_back(std::move(o));
    }
    return std::nullopt;
  }

  std::string_view text_;
  const AttributeSchema& schema_;
  std::size_t term_start_ = 0;
};

const std::shared_ptr<const Filter::Compiled>& empty_filter() {
  static const auto empty = std::make_shared<const Filter::Compiled>();
  return empty;
}

}  // namespace

Filter::Filter() : c_(empty_filter()) {}

Parsed<Filter> Filter::parse(std::string_view text, const AttributeSchema& schema) {
  Filter f;
  if (text.empty()) return f;
  auto compiled = std::make_shared<Compiled>();
  if (auto problem = FilterParser(text, schema).parse(*compiled)) return std::move(*problem);
  // AND commutes: evaluate shallow paths, the cheapest to reach, first.
  std::stable_sort(compiled->terms.begin(), compiled->terms.end(),
                   [](const Compiled::Term& a, const Compiled::Term& b) { return a.path.size() < b.path.size(); });
  f.c_ = std::move(compiled);
  return f;
}

bool Filter::matches(const json& doc) const {
  for (const auto& t : c_->terms) {
    const std::string* first = t.path.data();
    bool hit = any_leaf(doc, first, first + t.path.size(), t);
    if (hit == t.negate) return false;
  }
  return true;
}

bool Filter::matches_from(const PathStart* starts) const {
  for (std::size_t i = 0; i < c_->terms.size(); ++i) {
    const auto& t = c_->terms[i];
    const PathStart& st = starts[i];
    const std::string* first = t.path.data();
    bool hit = false;
    if (st.leaf != nullptr) {
      hit = test_leaf(*st.leaf, t);  // a scalar reached without arrays: its typed copy
    } else if (st.node != nullptr) {
      hit = any_leaf(*st.node, first + st.depth, first + t.path.size(), t);
    }
    if (hit == t.negate) return false;
  }
  return true;
}

std::size_t Filter::term_count() const { return c_->terms.size(); }

const std::vector<std::string>& Filter::term_path(std::size_t t) const { return c_->terms[t].path; }

bool Filter::empty() const {
  return c_->terms.empty();
}

const std::string& Filter::canonical() const {
  return c_->canonical;
}

}  // namespace o2gw
