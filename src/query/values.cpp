// Typed values of the query language: RFC 3339 instants, numbers, string orders,
// and the positions used in problem details.
#include <algorithm>
#include <charconv>

#include "query_internal.hpp"

namespace o2gw::query_detail {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based formula).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool parse_rfc3339(std::string_view s, Instant& out) {
  // full-date "T" partial-time time-offset, e.g. 2024-05-01T12:30:00.25+02:00
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, hour) || s[13] != ':' ||
      !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  std::size_t pos = 19;
  std::int32_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t first = pos;
    std::int32_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      nanos += (s[pos] - '0') * scale;  // digits beyond nanoseconds are ignored
      scale /= 10;
      ++pos;
    }
    if (pos == first) return false;
  }
  if (pos >= s.size()) return false;
  std::int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-' || s[pos] == ' ') {
    // ' ' is a '+' that a form-style decoder turned into a space.
    int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return false;
    }
    offset = sign * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  out.seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  out.nanos = nanos;
  return true;
}

bool parse_number(std::string_view s, Number& out) {
  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::size_t i = 0;
  auto is_digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') ++i;
  if (!is_digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (is_digit(i)) ++i;
  }
  bool integral = true;
  if (i < s.size() && s[i] == '.') {
    integral = false;
    ++i;
    if (!is_digit(i)) return false;
    while (is_digit(i)) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!is_digit(i)) return false;
    while (is_digit(i)) ++i;
  }
  if (i != s.size()) return false;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  out.integral = false;
  out.big = false;
  if (integral) {
    auto r = std::from_chars(first, last, out.i);
    if (r.ec == std::errc() && r.ptr == last) {
      out.integral = true;
      out.d = static_cast<double>(out.i);
      return true;
    }
    if (s[0] != '-') {
      auto ru = std::from_chars(first, last, out.u);
      if (ru.ec == std::errc() && ru.ptr == last) {
        out.big = true;
        out.d = static_cast<double>(out.u);
        return true;
      }
    }
  }
  auto r = std::from_chars(first, last, out.d);
  return r.ec == std::errc() && r.ptr == last;
}

namespace {
template <typename A, typename B>
int three_way(A a, B b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
}  // namespace

int compare_number(const json& v, const Number& n) {
  if (const auto* u = v.get_ptr<const json::number_unsigned_t*>()) {
    if (n.big) return three_way(*u, n.u);
    if (!n.integral) return three_way(static_cast<double>(*u), n.d);
    if (n.i < 0) return 1;
    return three_way(*u, static_cast<std::uint64_t>(n.i));
  }
  if (const auto* i = v.get_ptr<const json::number_integer_t*>()) {
    if (n.big) return -1;
    return n.integral ? three_way(*i, n.i) : three_way(static_cast<double>(*i), n.d);
  }
  return three_way(v.get<double>(), n.d);
}

int compare_numbers(const json& a, const json& b) {
  if (a.is_number_float() || b.is_number_float()) return three_way(a.get<double>(), b.get<double>());
  const bool au = a.is_number_unsigned();
  const bool bu = b.is_number_unsigned();
  if (au && bu) return three_way(a.get<std::uint64_t>(), b.get<std::uint64_t>());
  if (!au && !bu) return three_way(a.get<std::int64_t>(), b.get<std::int64_t>());
  if (au) {
    auto y = b.get<std::int64_t>();
    return y < 0 ? 1 : three_way(a.get<std::uint64_t>(), static_cast<std::uint64_t>(y));
  }
  auto x = a.get<std::int64_t>();
  return x < 0 ? -1 : three_way(static_cast<std::uint64_t>(x), b.get<std::uint64_t>());
}

int compare_bytes(std::string_view a, std::string_view b) {
  // char_traits<char>::compare orders as unsigned char: UTF-8 byte order is code point order.
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int compare_ascii_ci(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(lower(a[i]));
    auto y = static_cast<unsigned char>(lower(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  return three_way(a.size(), b.size());
}

bool contains_ascii_ci(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && lower(hay[i + k]) == lower(needle[k])) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::size_t char_position(std::string_view text, std::size_t offset) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars + 1;
}

std::string excerpt(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return std::string(text.substr(0, cut)) + "...";
}

Problem bad_request(std::string detail) {
  return Problem{400, "Bad Request", std::move(detail)};
}

}  // namespace o2gw::query_detail
