// UUID helpers: parsing, validation, RFC 9562 version 5 (SHA-1, name-based) and
// version 4 (random) generation.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace o2gw {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<Uuid> parse(std::string_view text);  // canonical 8-4-4-4-12, any case
  static Uuid v5(const Uuid& ns, std::string_view name);
  static Uuid v4();
  static Uuid v7();  // time-ordered (Unix ms + random): for ids that key a growing index
  [[nodiscard]] std::string str() const;  // lower-case canonical
  [[nodiscard]] int version() const { return bytes[6] >> 4; }
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

bool is_uuid(std::string_view text);

}  // namespace o2gw
