// Fuzzes the query language: the input is split on NUL bytes into a filter, a fields
// list, an exclude_fields list, a sort list and a paging marker, parsed against the
// Resource schema. Parsing may only succeed or return a 400 Problem; a successful query
// is run over a few documents. Any exception or sanitizer report is a bug.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "split_input.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/query.hpp"

namespace {

const std::vector<o2gw::InventoryObject>& documents() {
  static const std::vector<o2gw::InventoryObject> docs = [] {
    std::vector<o2gw::InventoryObject> out;
    const char* texts[] = {
        R"({"resourceId":"7b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","resourcePoolId":"1b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
            "resourceTypeId":"2b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","globalAssetId":"SN-1","description":"node a",
            "elements":[{"resourceId":"3b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","description":"nic","elements":[],
            "tags":["x"],"extensions":{"speed":100}}],"tags":["gpu","edge"],"groups":[],
            "extensions":{"cpu":{"arch":"x86_64","cores":64},"ready":true,"labels":["a","b"],"since":"2024-01-01T00:00:00Z"}})",
        R"({"resourceId":"8b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","resourcePoolId":"1b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01",
            "resourceTypeId":"2b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","globalAssetId":"","description":"it's b",
            "elements":[],"tags":[],"groups":["g"],"extensions":{"cpu":{"arch":"arm64","cores":-1.5e3},"ready":false}})",
        R"({"resourceId":"9b5e3c4a-0f52-4f4b-9a0e-2f1d6c1c3a01","description":null,"tags":"not-an-array",
            "extensions":[1,"two",{"cpu":3}]})",
    };
    for (const char* t : texts) {
      o2gw::InventoryObject o;
      o.doc = nlohmann::json::parse(t);
      o.id = o.doc["resourceId"].get<std::string>();
      o.finalize();
      out.push_back(std::move(o));
    }
    return out;
  }();
  return docs;
}

const o2gw::Pager& pager() {
  static const o2gw::Pager p({3, 10, "fuzz-key"});
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = o2gw::fuzz::split_input<5>(data, size);
  const auto& schema = o2gw::schema_for(o2gw::Kind::resource);

  // Each parser on its own, so that one rejecting its part does not hide the others.
  auto filter = o2gw::Filter::parse(parts[0], schema);
  if (filter) {
    for (const auto& o : documents()) (void)filter->matches(o.doc);
  } else if (filter.problem().status != 400) {
    std::abort();
  }
  (void)o2gw::SortOrder::parse(parts[3], schema);

  o2gw::ListParams p;
  p.filter = parts[0];
  p.fields = parts[1];
  p.exclude_fields = parts[2];
  p.sort = parts[3];
  p.marker = parts[4];
  p.exclude_default = !parts[1].empty() && (parts[1].size() & 1U) != 0;
  p.path = "/o2ims-infrastructureInventory/v1/resourcePools/x/resources";
  auto query = o2gw::ListQuery::parse(p, schema, pager());
  if (!query) {
    if (query.problem().status != 400) std::abort();
    // Retry with the selector alone, to reach its renderer more often.
    o2gw::SelectorParams sp;
    sp.fields = parts[1];
    auto selector = o2gw::Selector::parse(sp, schema);
    if (!selector) return 0;
    for (const auto& o : documents()) {
      std::string out;
      selector->append_selected(o, out);
      if (!nlohmann::json::accept(out)) std::abort();
    }
    return 0;
  }
  std::vector<const o2gw::InventoryObject*> objects;
  for (const auto& o : documents()) objects.push_back(&o);
  auto page = query->run(objects);
  if (!nlohmann::json::accept(page.body)) std::abort();  // the page is always valid JSON
  return 0;
}
