// Splits a fuzzer input into N fields at NUL bytes (the last field takes the rest),
// so one input can drive several parameters of the code under test.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace o2gw::fuzz {

template <std::size_t N>
std::array<std::string, N> split_input(const std::uint8_t* data, std::size_t size) {
  std::array<std::string, N> parts;
  std::size_t n = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\0' && n + 1 < N) {
      ++n;
    } else {
      parts[n].push_back(c);
    }
  }
  return parts;
}

}  // namespace o2gw::fuzz
