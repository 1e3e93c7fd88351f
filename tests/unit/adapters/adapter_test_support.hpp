// Shared helpers for the IMS adapter unit tests.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "o2gw/inventory.hpp"
#include "o2gw/registry.hpp"
#include "o2gw/uuid.hpp"

namespace o2gw::test {

inline constexpr std::string_view kTestOCloudId = "0e4c5bd2-6a0f-4b7e-9f43-2d8a1c3e5f70";

inline AdapterContext make_adapter_context(const std::string& instance, InventoryCache* cache,
                                           nlohmann::json config = nlohmann::json::object()) {
  AdapterContext ctx;
  ctx.spec.name = instance;
  ctx.spec.category = Category::ims;
  ctx.spec.config = std::move(config);
  ctx.ocloud_id = *Uuid::parse(kTestOCloudId);
  ctx.inventory = cache;
  return ctx;
}

// 1-based number of the first line of `text` containing `needle`; 0 when absent.
inline int line_containing(std::string_view text, std::string_view needle) {
  const auto at = text.find(needle);
  if (at == std::string_view::npos) return 0;
  int line = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the file the way editors and ConfigMaps do: a new inode, swapped in
// by rename, so a reader never sees half of it.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temp, path);
}

// Polls `condition` until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A fresh directory under the system temp dir, removed with its content.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "o2gw-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace o2gw::test
