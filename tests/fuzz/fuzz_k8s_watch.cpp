// Fuzzes the watch path: stream framing (the input cut into chunks at positions
// taken from its first bytes must decode exactly as the whole), Status parsing,
// typed views, and the informer cache: replaying the changes that watch events
// and a relist produce onto a copy of the old state must give the cache.
#include <cstdlib>
#include <map>
#include <string>

#include "o2gw/k8s.hpp"

namespace {

using o2gw::k8s::InformerChange;
using o2gw::k8s::ObjectCache;

void replay(ObjectCache& mirror, const std::vector<InformerChange>& changes) {
  for (const auto& c : changes) {
    if (c.type == InformerChange::Type::deleted) {
      if (mirror.erase(c.key) != 1) std::abort();
    } else if (c.type == InformerChange::Type::added) {
      if (!mirror.emplace(c.key, c.object).second) std::abort();
    } else {
      auto it = mirror.find(c.key);
      if (it == mirror.end()) std::abort();
      it->second = c.object;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t step1 = data[0] % 64 + 1;
  const std::size_t step2 = data[1] % 16 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  o2gw::k8s::WatchDecoder whole(4096);
  std::vector<o2gw::k8s::WatchEvent> expected;
  bool whole_ok = whole.feed(stream, expected) && whole.finish(expected);

  o2gw::k8s::WatchDecoder chunked(4096);
  std::vector<o2gw::k8s::WatchEvent> events;
  bool chunked_ok = true;
  std::size_t pos = 0;
  for (int i = 0; pos < stream.size(); ++i) {
    std::size_t n = std::min(stream.size() - pos, i % 2 ? step2 : step1);
    if (!chunked.feed(stream.substr(pos, n), events)) {
      chunked_ok = false;
      break;
    }
    pos += n;
  }
  if (chunked_ok) chunked_ok = chunked.finish(events);
  if (whole_ok != chunked_ok || events.size() != expected.size()) std::abort();
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].type != expected[i].type || events[i].object != expected[i].object) std::abort();
  }

  ObjectCache cache;
  ObjectCache mirror;
  // A real List names each object once: keep the last state seen per key.
  std::map<std::string, nlohmann::json> last_seen;
  for (auto& e : events) {
    (void)o2gw::k8s::Node::from(e.object);
    if (e.type == o2gw::k8s::WatchEvent::Type::error) {
      auto err = o2gw::k8s::error_from_status(e.object);
      if (err.status < 100 || err.status > 599 || err.reason.empty()) std::abort();
      continue;
    }
    last_seen[o2gw::k8s::object_key(e.object)] = e.object;
    std::vector<InformerChange> changes;
    o2gw::k8s::apply_watch_event(cache, e, changes);
    replay(mirror, changes);
    if (mirror != cache) std::abort();
  }
  // A relist to every object the stream mentioned (last state per key, as a List has it).
  // reconcile trusts resourceVersion, as a real API server guarantees; a fuzzed stream
  // can give one version two contents, so here it only has to run cleanly (sanitizers).
  std::vector<nlohmann::json> listed;
  for (auto& [key, object] : last_seen) listed.push_back(std::move(object));
  (void)o2gw::k8s::reconcile(cache, std::move(listed));

  auto err = o2gw::k8s::error_from_response(400 + data[0] % 200, stream);
  if (err.message.find('\n') != std::string::npos) std::abort();
  return 0;
}
