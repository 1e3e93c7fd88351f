// Watch stream framing: one JSON event per line. Complete lines are parsed
// straight from the chunk they arrived in; only a line split across chunks is
// copied, into `partial_`.
#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

using nlohmann::json;

std::string_view watch_event_type_name(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::added: return "ADDED";
    case WatchEvent::Type::modified: return "MODIFIED";
    case WatchEvent::Type::deleted: return "DELETED";
    case WatchEvent::Type::bookmark: return "BOOKMARK";
    case WatchEvent::Type::error: return "ERROR";
  }
  return "UNKNOWN";
}

namespace {

std::optional<WatchEvent::Type> parse_type(std::string_view s) {
  if (s == "ADDED") return WatchEvent::Type::added;
  if (s == "MODIFIED") return WatchEvent::Type::modified;
  if (s == "DELETED") return WatchEvent::Type::deleted;
  if (s == "BOOKMARK") return WatchEvent::Type::bookmark;
  if (s == "ERROR") return WatchEvent::Type::error;
  return std::nullopt;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

bool WatchDecoder::decode(std::string_view line, std::vector<WatchEvent>& out) {
  if (blank(line)) return true;
  json parsed = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    error_ = "malformed watch event (not a JSON object)";
    return false;
  }
  auto type_it = parsed.find("type");
  auto object_it = parsed.find("object");
  if (type_it == parsed.end() || !type_it->is_string() || object_it == parsed.end() || !object_it->is_object()) {
    error_ = "malformed watch event (needs a string \"type\" and an object \"object\")";
    return false;
  }
  auto type = parse_type(type_it->get_ref<const std::string&>());
  if (!type) {
    error_ = "unknown watch event type";
    return false;
  }
  WatchEvent& e = out.emplace_back();
  e.type = *type;
  e.object = std::move(*object_it);
  return true;
}

bool WatchDecoder::feed(std::string_view chunk, std::vector<WatchEvent>& out) {
  if (!error_.empty()) return false;
  if (!partial_.empty()) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + chunk.size() > max_line_) {
        error_ = "watch event longer than " + std::to_string(max_line_) + " bytes";
        return false;
      }
      partial_.append(chunk);
      return true;
    }
    if (partial_.size() + nl > max_line_) {
      error_ = "watch event longer than " + std::to_string(max_line_) + " bytes";
      return false;
    }
    partial_.append(chunk.substr(0, nl));
    std::string line = std::move(partial_);
    partial_.clear();
    if (!decode(line, out)) return false;
    chunk.remove_prefix(nl + 1);
  }
  for (;;) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) break;
    if (nl > max_line_) {
      error_ = "watch event longer than " + std::to_string(max_line_) + " bytes";
      return false;
    }
    if (!decode(chunk.substr(0, nl), out)) return false;
    chunk.remove_prefix(nl + 1);
  }
  if (chunk.size() > max_line_) {
    error_ = "watch event longer than " + std::to_string(max_line_) + " bytes";
    return false;
  }
  partial_.assign(chunk);
  return true;
}

bool WatchDecoder::finish(std::vector<WatchEvent>& out) {
  if (!error_.empty()) return false;
  std::string line = std::move(partial_);
  partial_.clear();
  return decode(line, out);
}

}  // namespace o2gw::k8s
