// Shared pieces of the query engine (src/query only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "o2gw/query.hpp"

namespace o2gw::query_detail {

using nlohmann::json;

// An RFC 3339 date-time as UTC seconds since the epoch plus nanoseconds.
struct Instant {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
  friend auto operator<=>(const Instant&, const Instant&) = default;
};
bool parse_rfc3339(std::string_view text, Instant& out);

// A JSON number as written in a filter value or a marker: integral values keep full
// 64-bit precision.
struct Number {
  double d = 0;
  std::int64_t i = 0;     // when integral
  std::uint64_t u = 0;    // when big
  bool integral = false;  // fits std::int64_t
  bool big = false;       // an integer above INT64_MAX that fits std::uint64_t
};
bool parse_number(std::string_view text, Number& out);
// -1, 0, 1; `v` must be a JSON number.
int compare_number(const json& v, const Number& n);
int compare_numbers(const json& a, const json& b);

int compare_bytes(std::string_view a, std::string_view b);     // code point order
int compare_ascii_ci(std::string_view a, std::string_view b);  // UUIDs
bool contains_ascii_ci(std::string_view hay, std::string_view needle);
std::string lower_ascii(std::string_view s);

// A scalar JSON leaf as the filter and sort compare it: strings by their text,
// numbers and booleans through `value`. Built from the DOM, or from a column cell
// that holds a copy (number, boolean) or a view into the column's own string arena,
// so a scan over a column does not chase pointers into every object.
struct LeafRef {
  const json* value = nullptr;  // the node (strings) or a copy (numbers, booleans)
  std::string_view text;        // when is_string
  bool is_string = false;

  static LeafRef of(const json& v) {
    LeafRef l;
    l.value = &v;
    if (v.is_string()) {
      l.is_string = true;
      l.text = v.get_ref<const std::string&>();
    }
    return l;
  }
};

// An attribute path checked against a schema.
struct ResolvedPath {
  std::vector<std::string> segments;
  AttrType type = AttrType::string;  // of the leaf; `object` at or below an open object
  bool dynamic = false;              // below an open object: typed by the JSON value found
  bool through_array = false;        // an array on the way or at the leaf: any-element
  bool complex = false;              // the leaf is an object, a record or an array of records
};
// On failure `error` says why and `error_offset` is the byte offset within `path` of
// the segment at fault.
bool resolve_path(const AttributeSchema& schema, std::string_view path, ResolvedPath& out, std::string& error,
                  std::size_t& error_offset);

// 1-based character (code point) position of byte `offset` in `text`.
std::size_t char_position(std::string_view text, std::size_t offset);
// A piece of client input for a problem detail, cut to a readable length.
std::string excerpt(std::string_view text, std::size_t max = 80);

Problem bad_request(std::string detail);

}  // namespace o2gw::query_detail
