// The SOL013 query language over HTTP, against the real binary: filter (§5.2),
// attribute selectors (§5.3), paging by nextpage_opaque_marker (§5.4) and o2gw's sort
// extension, on the inventory lists and single GETs.
//
// Expectations are computed here, from whole objects fetched with ?all_fields&limit=max,
// never copied from the gateway's answer to the query under test; each check also makes
// sure its expectation discriminates (neither empty nor everything), so a gateway that
// ignored the parameter would fail it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/lab_inventory.hpp"

namespace o2gw::test {
namespace {

using nlohmann::json;

const std::string kV1 = "/o2ims-infrastructureInventory/v1";
const std::string kV2 = "/o2ims-infrastructureInventory/v2";
constexpr std::size_t kDefaultPageSize = 1000;  // query.default_page_size when not configured
constexpr std::size_t kMaxPageSize = 10000;     // query.max_page_size when not configured
const std::string kAll = "limit=10000";         // one page whatever the list

using Ids = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Helpers

// Percent-encodes everything but the RFC 3986 unreserved characters.
std::string encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string with_query(const std::string& path, const std::string& query) {
  if (query.empty()) return path;
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string filter_param(std::string_view filter) {
  return "filter=" + encode(filter);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// The target of `Link: <target>; rel="next"`; "" when there is no Link header. A Link
// that is not a relative rel="next" reference to an inventory list is a test failure.
std::string next_link(const HttpResponse& res) {
  if (!res.has_header("Link")) return {};
  static const std::regex kLink(R"(^<([^<>]+)>\s*;\s*rel="next"$)");
  const std::string value = res.header("Link");
  std::smatch m;
  if (!std::regex_match(value, m, kLink)) {
    ADD_FAILURE() << "malformed Link header: " << value;
    return {};
  }
  std::string target = m[1];
  if (target.rfind("/o2ims-infrastructureInventory/", 0) != 0) {
    ADD_FAILURE() << "the Link target is not a relative reference to the list: " << value;
    return {};
  }
  return target;
}

// The nextpage_opaque_marker value in a Link target.
std::string marker_of(const std::string& link) {
  static const std::string kKey = "nextpage_opaque_marker=";
  auto at = link.find(kKey);
  if (at == std::string::npos) return {};
  at += kKey.size();
  return link.substr(at, link.find('&', at) - at);
}

// GET of a whole list in one page: 200, JSON array, no Link.
json get_list(std::uint16_t port, const std::string& target) {
  HttpResponse res = http_get(port, target);
  if (res.status != 200) {
    throw std::runtime_error("GET " + target + " answered " + std::to_string(res.status) + ": " + res.body);
  }
  if (res.has_header("Link")) throw std::runtime_error("GET " + target + " has more pages: " + res.header("Link"));
  json body = res.json();
  if (!body.is_array()) throw std::runtime_error("GET " + target + " is not a JSON array");
  return body;
}

json get_object(std::uint16_t port, const std::string& target) {
  HttpResponse res = http_get(port, target);
  if (res.status != 200) {
    throw std::runtime_error("GET " + target + " answered " + std::to_string(res.status) + ": " + res.body);
  }
  return res.json();
}

Ids ids_of(const json& list, const std::string& key) {
  Ids out;
  for (const auto& o : list) out.push_back(o.at(key).get<std::string>());
  return out;
}

Ids ids_where(const json& list, const std::string& key, const std::function<bool(const json&)>& keep) {
  Ids out;
  for (const auto& o : list) {
    if (keep(o)) out.push_back(o.at(key).get<std::string>());
  }
  return out;
}

// The value at a '/'-separated path, or null when absent (no arrays on the way).
const json* value_at(const json& o, const std::string& path) {
  const json* v = &o;
  std::size_t pos = 0;
  while (true) {
    auto slash = path.find('/', pos);
    std::string seg = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!v->is_object() || !v->contains(seg)) return nullptr;
    v = &(*v)[seg];
    if (slash == std::string::npos) return v;
    pos = slash + 1;
  }
}

std::string str(const json& o, const std::string& path) {
  const json* v = value_at(o, path);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// An expectation worth checking: some objects match and some do not.
::testing::AssertionResult Discriminates(const Ids& expected, std::size_t total) {
  if (expected.empty()) return ::testing::AssertionFailure() << "the expectation selects nothing";
  if (expected.size() == total) return ::testing::AssertionFailure() << "the expectation selects everything";
  return ::testing::AssertionSuccess();
}

// The detail of a problem response (empty when the body has none).
std::string detail_of(const HttpResponse& res) {
  try {
    return res.json().value("detail", "");
  } catch (const std::exception&) {
    return {};
  }
}

std::string simulator_config(int pools, int resources_per_pool, const std::string& extra = {}) {
  return "ocloud:\n"
         "  name: query-test-ocloud\n" +
         extra +
         "adapters:\n"
         "  - name: sim\n"
         "    category: ims\n"
         "    type: simulator\n"
         "    config:\n"
         "      pools: " +
         std::to_string(pools) +
         "\n"
         "      sites: 2\n"
         "      resources_per_pool: " +
         std::to_string(resources_per_pool) + "\n";
}

// Follows rel="next" from `first`, on one keep-alive connection when `conn` is given,
// otherwise one connection per page. Stops after `max_pages` (a loop is a failure).
std::vector<json> walk(std::uint16_t port, const std::string& first, HttpConnection* conn,
                       std::size_t max_pages = 100) {
  std::vector<json> pages;
  std::string target = first;
  while (!target.empty()) {
    if (pages.size() == max_pages) {
      ADD_FAILURE() << "still a next page after " << max_pages << " pages: " << target;
      break;
    }
    HttpResponse res = conn != nullptr ? conn->get(target) : http_get(port, target);
    if (res.status != 200) {
      ADD_FAILURE() << "GET " << target << " answered " << res.status << ": " << res.body;
      break;
    }
    pages.push_back(res.json());
    target = next_link(res);
  }
  return pages;
}

// ---------------------------------------------------------------------------
// A simulated O-Cloud of 3 pools x 100 resources: filter, selectors, sort and the
// marker checks. Read-only, so one gateway serves the whole suite.

class SimQueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      gateway_ = std::make_unique<GatewayProcess>(GatewayOptions{.config_yaml = simulator_config(3, 100)});
      pools_ = get_list(port(), kV2 + "/resourcePools?all_fields");
      if (pools_.size() != 3) throw std::runtime_error("expected 3 pools, got " + pools_.dump());
      pool_ = pools_[0].at("resourcePoolId").get<std::string>();
      all_ = get_list(port(), resources() + "?all_fields&" + kAll);
      if (all_.size() != 100) throw std::runtime_error("expected 100 resources in the first pool");
      for (const auto& t : get_list(port(), kV2 + "/resourceTypes")) {
        types_[t.at("model").get<std::string>()] = t.at("resourceTypeId").get<std::string>();
      }
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { gateway_.reset(); }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::uint16_t port() { return gateway_->port(); }
  static std::string resources(const std::string& pool = pool_) {
    return kV2 + "/resourcePools/" + pool + "/resources";
  }
  // The ids of the first pool's resources that `filter` selects (one page).
  static Ids filtered(std::string_view filter, const std::string& extra = {}) {
    return ids_of(get_list(port(), with_query(resources() + "?" + filter_param(filter) + "&" + kAll, extra)),
                  "resourceId");
  }
  static Ids all_where(const std::function<bool(const json&)>& keep) { return ids_where(all_, "resourceId", keep); }
  static std::string type_id(const std::string& model) { return types_.at(model); }
  // A resource with nested elements (a server with an accelerator card).
  static const json& server_with_elements() {
    for (const auto& r : all_) {
      if (!r.value("elements", json::array()).empty() && value_at(r, "extensions/nics") != nullptr) return r;
    }
    throw std::runtime_error("no server with elements in the simulated pool");
  }

  static inline std::unique_ptr<GatewayProcess> gateway_;
  static inline std::string setup_error_;
  static inline json pools_;
  static inline std::string pool_;
  static inline json all_;                                  // the first pool's resources, whole, in id order
  static inline std::map<std::string, std::string> types_;  // model -> resourceTypeId
};

// ---- filter ---------------------------------------------------------------

TEST_F(SimQueryTest, FilterEqAndNeqOnAStringPartitionTheList) {
  const json& r = all_[all_.size() / 2];
  const std::string description = r.at("description").get<std::string>();
  ASSERT_NE(description.find(' '), std::string::npos) << "want a value that needs encoding: " << description;
  Ids eq = all_where([&](const json& o) { return o.at("description") == description; });
  Ids neq = all_where([&](const json& o) { return o.at("description") != description; });
  ASSERT_TRUE(Discriminates(eq, all_.size()));
  EXPECT_EQ(filtered("(eq,description," + description + ")"), eq);
  EXPECT_EQ(filtered("(neq,description," + description + ")"), neq);
  // A value no object has.
  EXPECT_EQ(filtered("(eq,description,no such description)"), Ids{});
  EXPECT_EQ(filtered("(neq,description,no such description)").size(), all_.size());
}

TEST_F(SimQueryTest, FilterInAndNinTakeSeveralValues) {
  std::set<std::string> assets = {all_[3].at("globalAssetId").get<std::string>(),
                                  all_[50].at("globalAssetId").get<std::string>(),
                                  all_[97].at("globalAssetId").get<std::string>()};
  auto in = [&](const json& o) { return assets.count(o.at("globalAssetId").get<std::string>()) != 0; };
  Ids expected_in = all_where(in);
  Ids expected_nin = all_where([&](const json& o) { return !in(o); });
  ASSERT_TRUE(Discriminates(expected_in, all_.size()));
  std::string values;
  for (const auto& a : assets) values += "," + a;
  EXPECT_EQ(filtered("(in,globalAssetId" + values + ",NO-SUCH-ASSET)"), expected_in);
  EXPECT_EQ(filtered("(nin,globalAssetId" + values + ",NO-SUCH-ASSET)"), expected_nin);
  // One value: in is eq.
  EXPECT_EQ(filtered("(in,globalAssetId," + *assets.begin() + ")").size(), 1u);
}

TEST_F(SimQueryTest, FilterContAndNcontMatchSubstrings) {
  auto has = [](const json& o, const std::string& part) {
    return o.at("description").get<std::string>().find(part) != std::string::npos;
  };
  Ids switches = all_where([&](const json& o) { return has(o, "switch"); });
  Ids not_switches = all_where([&](const json& o) { return !has(o, "switch"); });
  Ids either = all_where([&](const json& o) { return has(o, "switch") || has(o, "storage"); });
  ASSERT_TRUE(Discriminates(switches, all_.size()));
  ASSERT_GT(either.size(), switches.size());
  EXPECT_EQ(filtered("(cont,description,switch)"), switches);
  EXPECT_EQ(filtered("(ncont,description,switch)"), not_switches);
  EXPECT_EQ(filtered("(cont,description,switch,storage)"), either);
  // Case-sensitive on strings.
  EXPECT_EQ(filtered("(cont,description,SWITCH)"), Ids{});
  // Part of a UUID, in any case.
  const std::string type = type_id("AN-7048");
  Ids of_type = all_where([&](const json& o) { return o.at("resourceTypeId") == type; });
  ASSERT_TRUE(Discriminates(of_type, all_.size()));
  EXPECT_EQ(filtered("(cont,resourceTypeId," + upper(type.substr(9, 9)) + ")"), of_type);
}

TEST_F(SimQueryTest, FilterGtAndLtOnStringsCompareByCodePoint) {
  std::vector<std::string> descriptions;
  for (const auto& o : all_) descriptions.push_back(o.at("description").get<std::string>());
  std::sort(descriptions.begin(), descriptions.end());
  const std::string pivot = descriptions[descriptions.size() / 2];
  auto d = [](const json& o) { return o.at("description").get<std::string>(); };
  Ids gt = all_where([&](const json& o) { return d(o) > pivot; });
  Ids gte = all_where([&](const json& o) { return d(o) >= pivot; });
  Ids lt = all_where([&](const json& o) { return d(o) < pivot; });
  Ids lte = all_where([&](const json& o) { return d(o) <= pivot; });
  ASSERT_TRUE(Discriminates(gt, all_.size()));
  ASSERT_TRUE(Discriminates(lt, all_.size()));
  EXPECT_EQ(filtered("(gt,description," + pivot + ")"), gt);
  EXPECT_EQ(filtered("(gte,description," + pivot + ")"), gte);
  EXPECT_EQ(filtered("(lt,description," + pivot + ")"), lt);
  EXPECT_EQ(filtered("(lte,description," + pivot + ")"), lte);
  // Upper case sorts before lower case by code point.
  auto a = [](const json& o) { return o.at("globalAssetId").get<std::string>(); };
  Ids below_n = all_where([&](const json& o) { return a(o) < "KSE340-n"; });
  ASSERT_TRUE(Discriminates(below_n, all_.size()));
  EXPECT_EQ(filtered("(lt,globalAssetId,KSE340-n)"), below_n);
}

TEST_F(SimQueryTest, FilterComparesNumbersInExtensionsNumerically) {
  const std::string cpu = "extensions/telemetry/cpuUtilizationPercent";
  auto number = [&](const json& o) -> std::optional<double> {
    const json* v = value_at(o, cpu);
    if (v == nullptr || !v->is_number()) return std::nullopt;
    return v->get<double>();
  };
  Ids gt9 = all_where([&](const json& o) { return number(o) && *number(o) > 9; });
  // As text, "10".."60" would sort below "9": the numeric answer must differ from it.
  Ids gt9_as_text = all_where(
      [&](const json& o) { return number(o) && std::to_string(static_cast<long>(*number(o))) > std::string("9"); });
  ASSERT_TRUE(Discriminates(gt9, all_.size()));
  ASSERT_NE(gt9, gt9_as_text);
  EXPECT_EQ(filtered("(gt," + cpu + ",9)"), gt9);

  // The median value: some below, some equal, some above.
  std::vector<double> values;
  for (const auto& o : all_) {
    if (number(o)) values.push_back(*number(o));
  }
  std::sort(values.begin(), values.end());
  const double v0 = values.at(values.size() / 2);
  Ids lt = all_where([&](const json& o) { return number(o) && *number(o) < v0; });
  Ids lte = all_where([&](const json& o) { return number(o) && *number(o) <= v0; });
  Ids gte = all_where([&](const json& o) { return number(o) && *number(o) >= v0; });
  Ids eq = all_where([&](const json& o) { return number(o) && *number(o) == v0; });
  Ids neq = all_where([&](const json& o) { return !(number(o) && *number(o) == v0); });
  ASSERT_TRUE(Discriminates(lt, all_.size()));
  ASSERT_TRUE(Discriminates(eq, all_.size()));
  const std::string v = std::to_string(static_cast<long>(v0));
  EXPECT_EQ(filtered("(lt," + cpu + "," + v + ")"), lt);
  EXPECT_EQ(filtered("(lte," + cpu + "," + v + ")"), lte);
  EXPECT_EQ(filtered("(gte," + cpu + "," + v + ")"), gte);
  EXPECT_EQ(filtered("(eq," + cpu + "," + v + ")"), eq);
  EXPECT_EQ(filtered("(eq," + cpu + "," + v + ".0)"), eq) << "numbers compare by value, not by text";
  EXPECT_EQ(filtered("(neq," + cpu + "," + v + ")"), neq);
  EXPECT_EQ(filtered("(lt," + cpu + "," + v + ".5)"), lte);

  auto memory = [](const json& o) { return o.value("extensions", json::object()).value("memoryGiB", 0); };
  Ids big = all_where([&](const json& o) { return memory(o) > 256; });
  Ids some = all_where([&](const json& o) { return memory(o) == 192 || memory(o) == 512; });
  ASSERT_TRUE(Discriminates(big, all_.size()));
  EXPECT_EQ(filtered("(gt,extensions/memoryGiB,256)"), big);
  EXPECT_EQ(filtered("(in,extensions/memoryGiB,192,512)"), some);
}

TEST_F(SimQueryTest, FilterMatchesWhenAnyArrayElementMatches) {
  auto tagged = [](const json& o, const std::string& tag) {
    const auto& tags = o.at("tags");
    return std::find(tags.begin(), tags.end(), json(tag)) != tags.end();
  };
  Ids fec = all_where([&](const json& o) { return tagged(o, "fec"); });
  Ids not_fec = all_where([&](const json& o) { return !tagged(o, "fec"); });
  ASSERT_TRUE(Discriminates(fec, all_.size()));
  EXPECT_EQ(filtered("(eq,tags,fec)"), fec);
  EXPECT_EQ(filtered("(neq,tags,fec)"), not_fec);

  // The second NIC's MAC address of one server: an array inside extensions.
  const json& server = server_with_elements();
  const std::string mac = server.at("extensions").at("nics").at(1).at("macAddress").get<std::string>();
  EXPECT_EQ(filtered("(eq,extensions/nics/macAddress," + mac + ")"), Ids{server.at("resourceId").get<std::string>()});

  // Nested resources (elements) are filterable though left out of the default set.
  const json& element = server.at("elements").at(0);
  Ids with_element_type = all_where([&](const json& o) {
    for (const auto& e : o.value("elements", json::array())) {
      if (e.at("resourceTypeId") == element.at("resourceTypeId")) return true;
    }
    return false;
  });
  ASSERT_TRUE(Discriminates(with_element_type, all_.size()));
  EXPECT_EQ(filtered("(eq,elements/resourceTypeId," + element.at("resourceTypeId").get<std::string>() + ")"),
            with_element_type);
  EXPECT_EQ(filtered("(eq,elements/description," + element.at("description").get<std::string>() + ")"),
            Ids{server.at("resourceId").get<std::string>()});
}

TEST_F(SimQueryTest, FilterOnUuidsIgnoresCase) {
  const std::string type = type_id("KS-S220");
  Ids of_type = all_where([&](const json& o) { return o.at("resourceTypeId") == type; });
  Ids not_of_type = all_where([&](const json& o) { return o.at("resourceTypeId") != type; });
  ASSERT_TRUE(Discriminates(of_type, all_.size()));
  ASSERT_NE(upper(type), type);
  EXPECT_EQ(filtered("(eq,resourceTypeId," + type + ")"), of_type);
  EXPECT_EQ(filtered("(eq,resourceTypeId," + upper(type) + ")"), of_type);
  EXPECT_EQ(filtered("(neq,resourceTypeId," + upper(type) + ")"), not_of_type);

  const std::string a = all_[10].at("resourceId").get<std::string>();
  const std::string b = all_[20].at("resourceId").get<std::string>();
  EXPECT_EQ(filtered("(in,resourceId," + upper(a) + "," + b + ")"), (Ids{a, b}));
  EXPECT_EQ(filtered("(nin,resourceId," + upper(a) + "," + upper(b) + ")").size(), all_.size() - 2);
  EXPECT_EQ(filtered("(eq,resourcePoolId," + upper(pool_) + ")").size(), all_.size());

  // Arrays of UUIDs: the site that lists a pool.
  json sites = get_list(port(), kV2 + "/oCloudSites");
  Ids holding = ids_where(sites, "oCloudSiteId", [&](const json& s) {
    const auto& p = s.at("resourcePools");
    return std::find(p.begin(), p.end(), json(pool_)) != p.end();
  });
  ASSERT_TRUE(Discriminates(holding, sites.size()));
  EXPECT_EQ(ids_of(get_list(port(), kV2 + "/oCloudSites?" + filter_param("(eq,resourcePools," + upper(pool_) + ")")),
                   "oCloudSiteId"),
            holding);
}

TEST_F(SimQueryTest, FilterTermsCombineWithAndAndOperatorsIgnoreCase) {
  const std::string server = type_id("KS-E340");
  auto cpu = [](const json& o) {
    const json* v = value_at(o, "extensions/telemetry/cpuUtilizationPercent");
    return v != nullptr && v->is_number() ? v->get<int>() : -1;
  };
  Ids both = all_where([&](const json& o) { return o.at("resourceTypeId") == server && cpu(o) > 40; });
  Ids servers = all_where([&](const json& o) { return o.at("resourceTypeId") == server; });
  ASSERT_TRUE(Discriminates(both, servers.size()));
  EXPECT_EQ(filtered("(eq,resourceTypeId," + server + ");(gt,extensions/telemetry/cpuUtilizationPercent,40)"), both);
  EXPECT_EQ(filtered("(EQ,resourceTypeId," + server + ");(Gt,extensions/telemetry/cpuUtilizationPercent,40)"), both);
  EXPECT_EQ(filtered("(gt,extensions/telemetry/cpuUtilizationPercent,40);(eq,resourceTypeId," + server + ")"), both);
  EXPECT_EQ(filtered("(eq,resourceTypeId," + server + ");(lt,extensions/telemetry/cpuUtilizationPercent,0)"), Ids{});
}

// The filter is percent-decoded once: fully encoded or partly encoded (the SOL013
// structural characters left as they are), the same filter.
TEST_F(SimQueryTest, FilterIsPercentDecodedOnce) {
  const json& r = all_[7];
  const std::string description = r.at("description").get<std::string>();
  const Ids expected = {r.at("resourceId").get<std::string>()};
  std::string spaces_encoded;
  for (char c : description) spaces_encoded += c == ' ' ? std::string("%20") : std::string(1, c);
  const std::string base = resources() + "?" + kAll + "&filter=";
  EXPECT_EQ(ids_of(get_list(port(), base + encode("(eq,description," + description + ")")), "resourceId"), expected);
  EXPECT_EQ(ids_of(get_list(port(), base + "(eq,description," + spaces_encoded + ")"), "resourceId"), expected);
  EXPECT_EQ(ids_of(get_list(port(), base + "(eq,description,'" + spaces_encoded + "')"), "resourceId"), expected);
  // Encoded once more, the value is the encoded text, which no description is.
  EXPECT_EQ(ids_of(get_list(port(), base + encode("(eq,description," + spaces_encoded + ")")), "resourceId"), Ids{});
}

struct FilterErrorCase {
  std::string filter;
  std::vector<std::string> terms;  // the detail names one of them (none: an empty term)
  std::size_t first;               // 1-based character position, within [first, last]
  std::size_t last;
  bool on_locations = false;
};

TEST_F(SimQueryTest, FilterErrorsAre400ProblemsNamingTheTermAndItsPosition) {
  const std::string uuid = "3f0b2a8e-9c1d-4e5f-8a7b-6c5d4e3f2a1b";
  const std::vector<FilterErrorCase> cases = {
      // unknown attribute
      {"(eq,nosuch,x)", {"(eq,nosuch,x)"}, 5, 5},
      {"(eq,description,x);(eq,globalAssetID,y)", {"(eq,globalAssetID,y)"}, 24, 24},
      {"(eq,elements/nosuch,x)", {"(eq,elements/nosuch,x)"}, 14, 14},
      {"(eq,tags/x,1)", {"(eq,tags/x,1)"}, 9, 10},
      {"(eq,description/x,1)", {"(eq,description/x,1)"}, 16, 17},
      {"(eq,extensions,x)", {"(eq,extensions,x)"}, 5, 5},  // a complex attribute
      // positions count characters of the decoded text, not bytes
      {"(eq,description,'G\xc3\xb6teborg');(eq,nosuch,1)", {"(eq,nosuch,1)"}, 33, 33},
      // unknown operator
      {"(like,description,x)", {"(like,description,x)"}, 2, 2},
      {"(eq,description,x);(equals,description,y)", {"(equals,description,y)"}, 21, 21},
      // wrong arity
      {"(eq,description,a,b)", {"(eq,description,a,b)"}, 1, 20},
      {"(in,description)", {"(in,description)"}, 1, 16},
      {"(gt,globalAssetId)", {"(gt,globalAssetId)"}, 1, 18},
      // a value of the wrong type; an operator that does not apply to the type
      {"(eq,resourceId,not-a-uuid)", {"(eq,resourceId,not-a-uuid)"}, 16, 16},
      {"(in,resourceId," + uuid + ",nope)", {"(in,resourceId," + uuid + ",nope)"}, 53, 53},
      {"(gt,resourceId," + uuid + ")", {"(gt,resourceId," + uuid + ")"}, 1, 52},
      {"(eq,civicAddress/caType,one)", {"(eq,civicAddress/caType,one)"}, 25, 25, true},
      {"(gt,coordinate/coordinates,north)", {"(gt,coordinate/coordinates,north)"}, 28, 28, true},
      {"(cont,civicAddress/caType,1)", {"(cont,civicAddress/caType,1)"}, 1, 28, true},
      // syntax
      {"eq,description,x)", {"eq,description,x)"}, 1, 1},
      {"(eq,description,x", {"(eq,description,x"}, 1, 18},
      {"(eq,description,'x)", {"(eq,description,'x)"}, 17, 17},
      {"(eq,description,'x'y)", {"(eq,description,'x'y)"}, 20, 20},
      {"(eq,description,a(b)", {"(eq,description,a(b)"}, 18, 18},
      {"(eq,description,)", {"(eq,description,)"}, 17, 17},
      {"(eq,description,x)(eq,globalAssetId,y)", {"(eq,description,x)", "(eq,globalAssetId,y)"}, 19, 19},
      {"(eq,description,x);", {}, 20, 20},
      {"(eq,description,x);;(eq,globalAssetId,y)", {}, 20, 20},
  };
  const std::string locations = kV2 + "/locations";
  for (const auto& c : cases) {
    const std::string path = c.on_locations ? locations : resources();
    SCOPED_TRACE("filter=" + c.filter);
    HttpResponse res = http_get(port(), path + "?" + filter_param(c.filter));
    ASSERT_TRUE(IsProblem(res, 400, path));
    const std::string detail = detail_of(res);
    if (!c.terms.empty()) {
      EXPECT_TRUE(std::any_of(c.terms.begin(), c.terms.end(),
                              [&](const std::string& t) { return detail.find(t) != std::string::npos; }))
          << "the detail does not name the term: " << detail;
    }
    std::smatch m;
    static const std::regex kPosition(R"(position (\d+))");
    ASSERT_TRUE(std::regex_search(detail, m, kPosition)) << "the detail gives no position: " << detail;
    const std::size_t position = std::stoul(m[1]);
    EXPECT_GE(position, c.first) << detail;
    EXPECT_LE(position, c.last) << detail;
  }
}

// A query value that is not valid percent-encoding is a 400, never silently dropped:
// an SMO that sent a filter must not get the unfiltered list back.
TEST_F(SimQueryTest, MalformedPercentEncodingInAQueryParameterIs400) {
  for (const std::string query :
       {"filter=(eq,description,100%zz)", "filter=(eq,description,x%2", "limit=1%", "fields=extensions%G1", "sort=%"}) {
    SCOPED_TRACE(query);
    HttpResponse res = http_get(port(), resources() + "?" + query);
    EXPECT_EQ(res.status, 400) << res.body.substr(0, 200);
    if (res.status == 400) {
      EXPECT_TRUE(IsProblem(res, 400, resources()));
    }
  }
}

TEST_F(SimQueryTest, FilterWorksOnEveryList) {
  struct Case {
    std::string list;
    std::string key;
    std::string filter;
    std::function<bool(const json&)> keep;
  };
  json locations = get_list(port(), kV2 + "/locations?all_fields");
  json managers = get_list(port(), kV2 + "/deploymentManagers?all_fields");
  ASSERT_FALSE(locations.empty());
  const std::string location = locations[0].at("globalLocationId").get<std::string>();
  const std::string pool_name = pools_[1].at("name").get<std::string>();
  auto contains = [](const json& array, const json& v) {
    return std::find(array.begin(), array.end(), v) != array.end();
  };
  const std::vector<Case> cases = {
      {"resourcePools", "resourcePoolId", "(eq,name," + pool_name + ")",
       [&](const json& o) { return o.at("name") == pool_name; }},
      {"resourcePools", "resourcePoolId", "(eq,globalLocationId," + location + ")",
       [&](const json& o) { return o.at("globalLocationId") == location; }},
      {"resourcePools", "resourcePoolId", "(eq,extensions/purpose,du)",
       [&](const json& o) { return str(o, "extensions/purpose") == "du"; }},
      {"resourceTypes", "resourceTypeId", "(cont,vendor,Kestrel)",
       [&](const json& o) { return o.at("vendor").get<std::string>().find("Kestrel") != std::string::npos; }},
      {"resourceTypes", "resourceTypeId", "(eq,resourceClass,NETWORKING)",
       [&](const json& o) { return o.at("resourceClass") == "NETWORKING"; }},
      {"alarmDictionaries", "alarmDictionaryId", "(eq,alarmDefinition/alarmName,Fan failure)",
       [&](const json& o) {
         for (const auto& d : o.at("alarmDefinition")) {
           if (d.at("alarmName") == "Fan failure") return true;
         }
         return false;
       }},
      {"deploymentManagers", "deploymentManagerId", "(eq,supportedLocations," + location + ")",
       [&](const json& o) { return contains(o.at("supportedLocations"), location); }},
      {"deploymentManagers", "deploymentManagerId", "(gt,capacity/nodes,100)",
       [&](const json& o) { return o.at("capacity").value("nodes", 0) > 100; }},
      {"locations", "globalLocationId", "(lt,coordinate/coordinates,0)",
       [&](const json& o) {
         for (const auto& c : o.at("coordinate").at("coordinates")) {
           if (c.get<double>() < 0) return true;
         }
         return false;
       }},
      {"locations", "globalLocationId", "(eq,civicAddress/caValue,SE)",
       [&](const json& o) {
         return contains(o.at("civicAddress"), json{{"caType", 1}, {"caValue", "SE"}});
       }},
      {"oCloudSites", "oCloudSiteId", "(eq,globalLocationId," + location + ")",
       [&](const json& o) { return o.at("globalLocationId") == location; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.list + "?filter=" + c.filter);
    json whole = get_list(port(), kV2 + "/" + c.list + "?all_fields");
    Ids expected = ids_where(whole, c.key, c.keep);
    EXPECT_TRUE(Discriminates(expected, whole.size()));
    for (const auto& base : {kV1, kV2}) {
      EXPECT_EQ(ids_of(get_list(port(), base + "/" + c.list + "?" + filter_param(c.filter)), c.key), expected) << base;
    }
  }
}

// ---- attribute selectors --------------------------------------------------

json only(const json& o, const std::set<std::string>& keys) {
  json out = json::object();
  for (const auto& [k, v] : o.items()) {
    if (keys.count(k) != 0) out[k] = v;
  }
  return out;
}

json without(json o, const std::set<std::string>& keys) {
  for (const auto& k : keys) o.erase(k);
  return o;
}

const std::set<std::string> kResourceSimple = {"resourceId", "resourcePoolId", "resourceTypeId", "globalAssetId",
                                               "description"};

json map_list(const json& list, const std::function<json(const json&)>& f) {
  json out = json::array();
  for (const auto& o : list) out.push_back(f(o));
  return out;
}

TEST_F(SimQueryTest, SelectorsShapeEveryObjectOfAList) {
  struct Case {
    std::string query;
    std::function<json(const json&)> expected;
  };
  auto simple_plus = [](std::set<std::string> extra) {
    extra.insert(kResourceSimple.begin(), kResourceSimple.end());
    return [extra](const json& o) { return only(o, extra); };
  };
  const std::vector<Case> cases = {
      {"",
       [](const json& o) {
         return without(o, {"elements", "extensions"});
       }},
      {"exclude_default",
       [](const json& o) {
         return without(o, {"elements", "extensions"});
       }},
      {"all_fields", [](const json& o) { return o; }},
      // SOL013 fields=L: every simple attribute plus the complex ones in L.
      {"fields=extensions", simple_plus({"extensions"})},
      {"fields=description", simple_plus({})},
      {"fields=tags,groups", simple_plus({"tags", "groups"})},
      {"fields=tags,extensions/telemetry",
       [&](const json& o) {
         json out = simple_plus({"tags"})(o);
         out["extensions"] = only(o.at("extensions"), {"telemetry"});
         return out;
       }},
      {"fields=elements/description",
       [&](const json& o) {
         json out = simple_plus({})(o);
         if (o.contains("elements")) {
           out["elements"] = map_list(o.at("elements"), [](const json& e) { return only(e, {"description"}); });
         }
         return out;
       }},
      {"exclude_default&fields=elements", [](const json& o) { return without(o, {"extensions"}); }},
      {"exclude_fields=description,extensions/nics",
       [](const json& o) {
         json out = without(o, {"description"});
         out["extensions"].erase("nics");
         return out;
       }},
      // The identifier stays whatever exclude_fields says.
      {"exclude_fields=resourceId,tags", [](const json& o) { return without(o, {"tags"}); }},
  };
  std::size_t with_nics = 0;
  for (const auto& o : all_) with_nics += value_at(o, "extensions/nics") != nullptr ? 1 : 0;
  ASSERT_TRUE(with_nics > 0 && with_nics < all_.size());
  for (const auto& c : cases) {
    SCOPED_TRACE("?" + c.query);
    json got = get_list(port(), with_query(resources() + "?" + kAll, c.query));
    json expected = map_list(all_, c.expected);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], expected[i]) << "object " << i;
    }
  }
  // Another kind, another set of simple attributes.
  json pools_by_name = get_list(port(), kV2 + "/resourcePools?fields=name");
  ASSERT_EQ(pools_by_name.size(), pools_.size());
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    EXPECT_EQ(pools_by_name[i], without(pools_[i], {"extensions"}));
  }
  EXPECT_EQ(get_list(port(), kV2 + "/resourcePools?fields=extensions/purpose"), map_list(pools_, [](const json& p) {
              json out = without(p, {"extensions"});
              out["extensions"] = only(p.at("extensions"), {"purpose"});
              return out;
            }));
}

TEST_F(SimQueryTest, SelectorsApplyToSingleGets) {
  const json& r = server_with_elements();
  const std::string path = resources() + "/" + r.at("resourceId").get<std::string>();
  EXPECT_EQ(get_object(port(), path), r) << "a single GET without selectors is the whole object";
  EXPECT_EQ(get_object(port(), path + "?all_fields"), r);
  EXPECT_EQ(get_object(port(), path + "?exclude_default"), without(r, {"elements", "extensions"}));
  EXPECT_EQ(get_object(port(), path + "?exclude_fields=elements,tags"), without(r, {"elements", "tags"}));
  json cpu_only = only(r, kResourceSimple);
  cpu_only["extensions"] = only(r.at("extensions"), {"cpu"});
  EXPECT_EQ(get_object(port(), path + "?fields=extensions/cpu"), cpu_only);
  json with_elements = only(r, kResourceSimple);
  with_elements["elements"] = r.at("elements");
  EXPECT_EQ(get_object(port(), path + "?fields=elements"), with_elements);
  // Upper-case ids, selectors still applied.
  EXPECT_EQ(get_object(port(), resources(upper(pool_)) + "/" + upper(r.at("resourceId").get<std::string>()) +
                                   "?exclude_default"),
            without(r, {"elements", "extensions"}));

  // Other kinds: a pool, a location (not a UUID id), an alarm dictionary under its type.
  const std::string pool_path = kV2 + "/resourcePools/" + pool_;
  EXPECT_EQ(get_object(port(), pool_path), pools_[0]);
  EXPECT_EQ(get_object(port(), pool_path + "?exclude_default"), without(pools_[0], {"extensions"}));
  json location = get_list(port(), kV2 + "/locations?all_fields").at(0);
  const std::string location_path = kV2 + "/locations/" + location.at("globalLocationId").get<std::string>();
  EXPECT_EQ(get_object(port(), location_path + "?exclude_fields=civicAddress,coordinate"),
            without(location, {"civicAddress", "coordinate"}));
  const std::string dict_path = kV2 + "/resourceTypes/" + type_id("KS-E340") + "/alarmDictionary";
  json dict = get_object(port(), dict_path);
  ASSERT_TRUE(dict.contains("alarmDefinition"));
  EXPECT_EQ(get_object(port(), dict_path + "?exclude_default"), without(dict, {"alarmDefinition"}));
  // SOL013 fields=L: the simple attributes plus L; managementInterfaceId and
  // pkNotificationField are arrays, so complex, so left out.
  json names = without(dict, {"alarmDefinition", "managementInterfaceId", "pkNotificationField"});
  ASSERT_EQ(names.size() + 3, dict.size());
  names["alarmDefinition"] = map_list(dict.at("alarmDefinition"), [](const json& d) { return only(d, {"alarmName"}); });
  EXPECT_EQ(get_object(port(), dict_path + "?fields=alarmDefinition/alarmName"), names);
}

TEST_F(SimQueryTest, ConflictingOrUnknownSelectorsAre400) {
  const std::string single = resources() + "/" + all_[0].at("resourceId").get<std::string>();
  const std::vector<std::string> conflicting = {
      "all_fields&fields=tags",
      "all_fields&exclude_fields=tags",
      "all_fields&exclude_default",
      "fields=tags&exclude_fields=groups",
      "exclude_fields=tags&exclude_default",
  };
  // Each with the name the detail must mention.
  const std::vector<std::pair<std::string, std::string>> unknown = {
      {"fields=nosuch", "nosuch"},
      {"exclude_fields=nosuch", "nosuch"},
      {"fields=tags,nosuch", "nosuch"},
      {"fields=description/x", "description"},
      {"fields=elements/nosuch", "nosuch"},
      {"exclude_fields=extensions,resourcePoolID", "resourcePoolID"},
      {"fields=tags,,groups", "fields"},
      {"all_fields=maybe", "all_fields"},
      {"exclude_default=2", "exclude_default"},
  };
  for (const std::string& path : {resources(), single}) {
    for (const auto& q : conflicting) {
      SCOPED_TRACE(path + "?" + q);
      EXPECT_TRUE(IsProblem(http_get(port(), path + "?" + q), 400, path));
    }
    for (const auto& [q, name] : unknown) {
      SCOPED_TRACE(path + "?" + q);
      HttpResponse res = http_get(port(), path + "?" + q);
      EXPECT_TRUE(IsProblem(res, 400, path));
      EXPECT_NE(detail_of(res).find(name), std::string::npos) << detail_of(res);
    }
  }
  // Names are checked against the kind: resourceId is not an attribute of a pool.
  EXPECT_TRUE(IsProblem(http_get(port(), kV2 + "/resourcePools?fields=resourceId"), 400, kV2 + "/resourcePools"));
  EXPECT_TRUE(IsProblem(http_get(port(), kV2 + "/resourcePools/" + pool_ + "?exclude_fields=elements"), 400,
                        kV2 + "/resourcePools/" + pool_));
  // An empty fields or exclude_fields counts as absent.
  EXPECT_EQ(get_list(port(), resources() + "?" + kAll + "&fields="), get_list(port(), resources() + "?" + kAll));
}

// ---- sort -------------------------------------------------------------------

struct SortKey {
  std::string path;
  bool descending = false;
  bool numeric = false;
};

// The expected order: the keys in turn, then the id ascending.
Ids sorted_ids(json list, const std::string& id_key, const std::vector<SortKey>& keys) {
  std::vector<json> items(list.begin(), list.end());
  std::sort(items.begin(), items.end(), [&](const json& a, const json& b) {
    for (const auto& k : keys) {
      int c = 0;
      if (k.numeric) {
        double x = value_at(a, k.path)->get<double>();
        double y = value_at(b, k.path)->get<double>();
        c = x < y ? -1 : (y < x ? 1 : 0);
      } else {
        c = str(a, k.path).compare(str(b, k.path));
        c = c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      if (c != 0) return k.descending ? c > 0 : c < 0;
    }
    return a.at(id_key).get<std::string>() < b.at(id_key).get<std::string>();
  });
  Ids out;
  for (const auto& o : items) out.push_back(o.at(id_key).get<std::string>());
  return out;
}

TEST_F(SimQueryTest, SortOrdersByTheKeysThenById) {
  auto got = [&](const std::string& sort, const std::string& extra = {}) {
    return ids_of(get_list(port(), with_query(resources() + "?" + kAll + "&sort=" + encode(sort), extra)),
                  "resourceId");
  };
  const Ids by_id = ids_of(all_, "resourceId");
  const Ids by_description = sorted_ids(all_, "resourceId", {{"description"}});
  ASSERT_NE(by_description, by_id);
  EXPECT_EQ(got("description"), by_description);
  EXPECT_EQ(got("-description"), sorted_ids(all_, "resourceId", {{"description", true}}));
  // Few distinct types: ties, ordered by id, ascending in both directions.
  const Ids by_type = sorted_ids(all_, "resourceId", {{"resourceTypeId"}});
  const Ids by_type_desc = sorted_ids(all_, "resourceId", {{"resourceTypeId", true}});
  ASSERT_NE(by_type, by_id);
  EXPECT_EQ(got("resourceTypeId"), by_type);
  EXPECT_EQ(got("-resourceTypeId"), by_type_desc);
  EXPECT_EQ(got("resourceTypeId,-globalAssetId"),
            sorted_ids(all_, "resourceId", {{"resourceTypeId"}, {"globalAssetId", true}}));

  // Numbers in extensions sort numerically (filtered to the servers, which all have one).
  const std::string server = type_id("KS-E340");
  json servers = json::array();
  for (const auto& o : all_) {
    if (o.at("resourceTypeId") == server) servers.push_back(o);
  }
  const std::string cpu = "extensions/telemetry/cpuUtilizationPercent";
  const Ids numeric = sorted_ids(servers, "resourceId", {{cpu, true, true}});
  json as_text = servers;
  for (auto& o : as_text) o["extensions"]["telemetry"][std::string("cpuUtilizationPercent")] = value_at(o, cpu)->dump();
  ASSERT_NE(numeric, sorted_ids(as_text, "resourceId", {{cpu, true}})) << "the data cannot tell numbers from text";
  EXPECT_EQ(got("-" + cpu, filter_param("(eq,resourceTypeId," + server + ")")), numeric);

  // Other lists.
  json pools = get_list(port(), kV2 + "/resourcePools?sort=-name");
  EXPECT_EQ(ids_of(pools, "resourcePoolId"), sorted_ids(pools_, "resourcePoolId", {{"name", true}}));
  json locations = get_list(port(), kV1 + "/locations?all_fields");
  EXPECT_EQ(ids_of(get_list(port(), kV1 + "/locations?sort=-name"), "globalLocationId"),
            sorted_ids(locations, "globalLocationId", {{"name", true}}));
}

TEST_F(SimQueryTest, SortOnAComplexOrUnknownAttributeIs400) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"extensions", "extensions"},
      {"elements", "elements"},
      {"tags", "tags"},
      {"-groups", "groups"},
      {"description,-extensions", "extensions"},
      {"nosuch", "nosuch"},
  };
  for (const auto& [sort, name] : cases) {
    SCOPED_TRACE("sort=" + sort);
    HttpResponse res = http_get(port(), resources() + "?sort=" + encode(sort));
    EXPECT_TRUE(IsProblem(res, 400, resources()));
    EXPECT_NE(detail_of(res).find(name), std::string::npos) << detail_of(res);
  }
  EXPECT_TRUE(IsProblem(http_get(port(), kV2 + "/locations?sort=coordinate"), 400, kV2 + "/locations"));
  EXPECT_TRUE(IsProblem(http_get(port(), kV2 + "/locations?sort=civicAddress"), 400, kV2 + "/locations"));
  EXPECT_TRUE(
      IsProblem(http_get(port(), kV2 + "/alarmDictionaries?sort=alarmDefinition"), 400, kV2 + "/alarmDictionaries"));
}

// ---- paging: markers and limits ---------------------------------------------

TEST_F(SimQueryTest, LimitOutsideOneToTheMaximumIs400) {
  for (const std::string limit : {"0", "10001", "-1", "abc", "1.5", "99999999999999999999999"}) {
    SCOPED_TRACE("limit=" + limit);
    HttpResponse res = http_get(port(), resources() + "?limit=" + limit);
    EXPECT_TRUE(IsProblem(res, 400, resources()));
    EXPECT_NE(detail_of(res).find("limit"), std::string::npos) << detail_of(res);
  }
  HttpResponse max = http_get(port(), resources() + "?limit=" + std::to_string(kMaxPageSize));
  ASSERT_EQ(max.status, 200);
  EXPECT_EQ(max.json().size(), all_.size());
  EXPECT_FALSE(max.has_header("Link"));
  HttpResponse one = http_get(port(), resources() + "?limit=1");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(ids_of(one.json(), "resourceId"), Ids{all_[0].at("resourceId").get<std::string>()});
  EXPECT_FALSE(next_link(one).empty());
}

TEST_F(SimQueryTest, ATamperedMarkerIs400) {
  HttpResponse first = http_get(port(), resources() + "?limit=10");
  ASSERT_EQ(first.status, 200);
  const std::string link = next_link(first);
  const std::string marker = marker_of(link);
  ASSERT_GT(marker.size(), 8u) << link;
  const std::string prefix = link.substr(0, link.find(marker));
  // Untouched, it works.
  HttpResponse second = http_get(port(), link);
  ASSERT_EQ(second.status, 200) << second.body;
  const Ids all_ids = ids_of(all_, "resourceId");
  EXPECT_EQ(ids_of(second.json(), "resourceId"), Ids(all_ids.begin() + 10, all_ids.begin() + 20));
  for (std::size_t at : {std::size_t{0}, marker.size() / 3, marker.size() / 2, marker.size() - 2, marker.size() - 1}) {
    std::string forged = marker;
    forged[at] = forged[at] == 'A' ? 'B' : 'A';  // another base64url character
    SCOPED_TRACE("character " + std::to_string(at) + " of " + marker);
    EXPECT_TRUE(IsProblem(http_get(port(), prefix + forged), 400, resources()));
  }
  EXPECT_TRUE(IsProblem(http_get(port(), prefix + marker.substr(0, marker.size() - 4)), 400, resources()));
  EXPECT_TRUE(IsProblem(http_get(port(), prefix + marker + "AAAA"), 400, resources()));
  EXPECT_TRUE(
      IsProblem(http_get(port(), resources() + "?limit=10&nextpage_opaque_marker=not-a-marker"), 400, resources()));
  EXPECT_TRUE(
      IsProblem(http_get(port(), resources() + "?limit=10&nextpage_opaque_marker=" + encode("%%%")), 400, resources()));
}

TEST_F(SimQueryTest, AMarkerOnlyContinuesTheListThatIssuedIt) {
  const std::string query = "limit=10&" + filter_param("(neq,description,x)") + "&fields=tags";
  HttpResponse first = http_get(port(), resources() + "?" + query);
  ASSERT_EQ(first.status, 200);
  const std::string marker = marker_of(next_link(first));
  ASSERT_FALSE(marker.empty());
  const std::string with_marker = "nextpage_opaque_marker=" + marker;
  // The same query continues.
  EXPECT_EQ(http_get(port(), resources() + "?" + query + "&" + with_marker).status, 200);
  // Anything else is another list.
  const std::string other_pool = resources(pools_[1].at("resourcePoolId").get<std::string>());
  const std::vector<std::pair<std::string, std::string>> others = {
      {other_pool, query},
      {kV2 + "/resourcePools", "limit=10"},
      {resources(), "limit=10&fields=tags"},
      {resources(), "limit=10&" + filter_param("(neq,description,y)") + "&fields=tags"},
      {resources(), "limit=10&" + filter_param("(neq,description,x)") + "&fields=groups"},
      {resources(), query + "&sort=description"},
  };
  for (const auto& [path, q] : others) {
    SCOPED_TRACE(path + "?" + q);
    EXPECT_TRUE(IsProblem(http_get(port(), path + "?" + q + "&" + with_marker), 400, path));
  }
}

// ---------------------------------------------------------------------------
// A pool of 2,500 simulated resources: full page walks.

class PagingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      gateway_ = std::make_unique<GatewayProcess>(GatewayOptions{.config_yaml = simulator_config(1, 2500)});
      json pools = get_list(port(), kV2 + "/resourcePools");
      path_ = kV2 + "/resourcePools/" + pools.at(0).at("resourcePoolId").get<std::string>() + "/resources";
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { gateway_.reset(); }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  static std::uint16_t port() { return gateway_->port(); }

  static inline std::unique_ptr<GatewayProcess> gateway_;
  static inline std::string setup_error_;
  static inline std::string path_;
};

TEST_F(PagingTest, FollowingNextLinksReturnsEveryResourceExactlyOnce) {
  json unpaged = get_list(port(), path_ + "?limit=" + std::to_string(kMaxPageSize));
  ASSERT_EQ(unpaged.size(), 2500u);
  HttpConnection conn(port());  // one keep-alive connection for the whole walk
  std::vector<json> pages = walk(port(), path_ + "?limit=300", &conn);
  ASSERT_EQ(pages.size(), 9u);  // 8 x 300 + 100
  json concatenated = json::array();
  for (std::size_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ(pages[i].size(), i + 1 < pages.size() ? 300u : 100u) << "page " << i;
    for (const auto& o : pages[i]) concatenated.push_back(o);
  }
  Ids ids = ids_of(concatenated, "resourceId");
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "an object came twice";
  EXPECT_EQ(concatenated, unpaged) << "the pages, in order, are the unpaged list";
}

TEST_F(PagingTest, ThePageSizeDefaultsTo1000) {
  HttpResponse res = http_get(port(), path_);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.json().size(), kDefaultPageSize);
  const std::string link = next_link(res);
  ASSERT_FALSE(link.empty());
  EXPECT_NE(link.find(path_ + "?nextpage_opaque_marker="), std::string::npos) << link;
  std::vector<json> rest = walk(port(), link, nullptr);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].size(), kDefaultPageSize);
  EXPECT_EQ(rest[1].size(), 500u);
}

// Filter, sort (on a key some objects lack) and selectors are carried by the Link and
// honoured on every page; a new connection per page.
TEST_F(PagingTest, AWalkWithFilterSortAndSelectorsMatchesTheUnpagedList) {
  json types = get_list(port(), kV2 + "/resourceTypes");
  std::string switch_type;
  for (const auto& t : types) {
    if (t.at("resourceClass") == "NETWORKING") switch_type = t.at("resourceTypeId").get<std::string>();
  }
  ASSERT_FALSE(switch_type.empty());
  const std::string query = filter_param("(neq,resourceTypeId," + switch_type + ")") +
                            "&sort=" + encode("-extensions/telemetry/cpuUtilizationPercent,globalAssetId") +
                            "&fields=extensions/hostname";
  json unpaged = get_list(port(), path_ + "?" + query + "&limit=" + std::to_string(kMaxPageSize));
  ASSERT_GT(unpaged.size(), 2000u);
  ASSERT_LT(unpaged.size(), 2500u);
  std::vector<json> pages = walk(port(), path_ + "?" + query + "&limit=250", nullptr);
  json concatenated = json::array();
  for (const auto& p : pages) {
    EXPECT_LE(p.size(), 250u);
    for (const auto& o : p) concatenated.push_back(o);
  }
  EXPECT_EQ(pages.size(), (unpaged.size() + 249) / 250);
  ASSERT_EQ(concatenated.size(), unpaged.size());
  EXPECT_EQ(concatenated, unpaged);
  for (const auto& o : concatenated) {
    ASSERT_TRUE(o.contains("extensions") && o["extensions"].size() == 1 && o["extensions"].contains("hostname"))
        << o.dump();
    ASSERT_FALSE(o.contains("tags")) << o.dump();
  }
}

// ---------------------------------------------------------------------------
// Configuration of the pager.

TEST(PagingConfigTest, PageSizesComeFromTheConfiguration) {
  GatewayProcess gw(
      {.config_yaml = simulator_config(1, 120, "query:\n  default_page_size: 50\n  max_page_size: 100\n")});
  json pools = get_list(gw.port(), kV2 + "/resourcePools");
  const std::string path = kV2 + "/resourcePools/" + pools.at(0).at("resourcePoolId").get<std::string>() + "/resources";

  HttpConnection conn(gw.port());
  std::vector<json> pages = walk(gw.port(), path, &conn);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].size(), 50u);
  EXPECT_EQ(pages[1].size(), 50u);
  EXPECT_EQ(pages[2].size(), 20u);
  std::set<std::string> ids;
  for (const auto& p : pages) {
    for (const auto& id : ids_of(p, "resourceId")) ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 120u);
  HttpResponse first = http_get(gw.port(), path);
  EXPECT_EQ(first.json().size(), 50u);
  EXPECT_FALSE(next_link(first).empty());

  EXPECT_TRUE(IsProblem(http_get(gw.port(), path + "?limit=101"), 400, path));
  HttpResponse max = http_get(gw.port(), path + "?limit=100");
  ASSERT_EQ(max.status, 200);
  EXPECT_EQ(max.json().size(), 100u);
  EXPECT_FALSE(next_link(max).empty());
}

// Markers are signed with a per-process random key unless query.marker_key_file names
// a shared one: then another replica (or the same one after a restart) continues a walk.
TEST(PagingConfigTest, ASharedMarkerKeyLetsAnotherProcessContinueAWalk) {
  TempDir dir;
  auto key = dir.write("marker.key", "0123456789abcdef0123456789abcdef");
  const std::string keyed = simulator_config(1, 30, "query:\n  marker_key_file: " + key.string() + "\n");
  GatewayProcess a({.config_yaml = keyed});
  GatewayProcess b({.config_yaml = keyed});
  GatewayProcess unkeyed({.config_yaml = simulator_config(1, 30)});
  const std::string path = kV2 + "/resourcePools/" +
                           get_list(a.port(), kV2 + "/resourcePools").at(0).at("resourcePoolId").get<std::string>() +
                           "/resources";
  HttpResponse first = http_get(a.port(), path + "?limit=10");
  ASSERT_EQ(first.status, 200);
  const std::string link = next_link(first);
  ASSERT_FALSE(link.empty());
  HttpResponse on_a = http_get(a.port(), link);
  HttpResponse on_b = http_get(b.port(), link);
  ASSERT_EQ(on_a.status, 200) << on_a.body;
  ASSERT_EQ(on_b.status, 200) << on_b.body;
  EXPECT_EQ(on_b.json(), on_a.json());
  EXPECT_EQ(on_a.json().size(), 10u);
  EXPECT_TRUE(IsProblem(http_get(unkeyed.port(), link), 400, path));
}

// ---------------------------------------------------------------------------
// The file adapter: values with SOL013's special characters, and a walk while the
// inventory changes underneath.

std::string file_config(const std::filesystem::path& inventory) {
  return "adapters:\n"
         "  - name: query-file\n"
         "    category: ims\n"
         "    type: file\n"
         "    config:\n"
         "      path: " +
         inventory.string() +
         "\n"
         "      poll_interval_ms: 100\n";
}

std::string file_inventory(const std::vector<std::pair<std::string, std::string>>& resources) {
  return lab_inventory_yaml(resources);
}

TEST(FileQueryTest, QuotedValuesMayHoldCommasParenthesesSemicolonsAndQuotes) {
  const std::vector<std::pair<std::string, std::string>> resources = {
      {"r1", "Rack A, slot 3 (spare); do not use"},
      {"r2", "Operator's bench"},
      {"r3", "100% utilised"},
      {"r4", "a%2Cb"},
      {"r5",
       "\xc3\x96"
       "desh\xc3\xb6g node"},  // Ödeshög
      {"r6", "plain"},
      {"r7", ", leading comma"},
      {"r8", "Zulu"},
  };
  TempDir dir;
  auto inventory = dir.write("inventory.yaml", file_inventory(resources));
  GatewayProcess gw({.config_yaml = file_config(inventory)});
  json pools = get_list(gw.port(), kV2 + "/resourcePools");
  const std::string path = kV2 + "/resourcePools/" + pools.at(0).at("resourcePoolId").get<std::string>() + "/resources";
  json all = get_list(gw.port(), path);
  ASSERT_EQ(all.size(), resources.size());
  auto descriptions = [&](const std::string& query) {
    std::multiset<std::string> out;
    for (const auto& o : get_list(gw.port(), path + "?" + query)) out.insert(o.at("description").get<std::string>());
    return out;
  };
  using Set = std::multiset<std::string>;
  EXPECT_EQ(descriptions(filter_param("(eq,description,'Rack A, slot 3 (spare); do not use')")),
            Set{"Rack A, slot 3 (spare); do not use"});
  EXPECT_EQ(descriptions(filter_param("(eq,description,'Operator''s bench')")), Set{"Operator's bench"});
  EXPECT_EQ(
      descriptions(filter_param("(in,description,'Rack A, slot 3 (spare); do not use','Operator''s bench',plain)")),
      (Set{"Rack A, slot 3 (spare); do not use", "Operator's bench", "plain"}));
  EXPECT_EQ(descriptions(filter_param("(cont,description,',')")),
            (Set{"Rack A, slot 3 (spare); do not use", ", leading comma"}));
  EXPECT_EQ(descriptions(filter_param("(cont,description,'''')")), Set{"Operator's bench"});
  EXPECT_EQ(descriptions(filter_param("(nin,description,'Rack A, slot 3 (spare); do not use',plain)")).size(),
            resources.size() - 2);
  // The structural characters raw in the URL, the rest encoded.
  EXPECT_EQ(descriptions("filter=(eq,description,'Rack%20A,%20slot%203%20(spare);%20do%20not%20use')"),
            Set{"Rack A, slot 3 (spare); do not use"});
  // Decoded once: %25 is a literal %, so a value may look like percent-encoding.
  EXPECT_EQ(descriptions("filter=(eq,description,'a%252Cb')"), Set{"a%2Cb"});
  EXPECT_EQ(descriptions("filter=(eq,description,100%25%20utilised)"), Set{"100% utilised"});
  // Code-point order: lower case and non-ASCII letters come after 'Z'.
  Set after_zulu;
  for (const auto& [k, d] : resources) {
    if (d > std::string("Zulu")) after_zulu.insert(d);
  }
  ASSERT_EQ(after_zulu.count("\xc3\x96"
                             "desh\xc3\xb6g node"),
            1u);
  ASSERT_EQ(after_zulu.count("plain"), 1u);
  EXPECT_EQ(descriptions(filter_param("(gt,description,Zulu)")), after_zulu);
  // Unquoted, the comma splits the value and the parenthesis is a syntax error.
  HttpResponse unquoted =
      http_get(gw.port(), path + "?" + filter_param("(eq,description,Rack A, slot 3 (spare); do not use)"));
  EXPECT_TRUE(IsProblem(unquoted, 400, path));
}

// Key-set paging: objects present during the whole walk come exactly once, whatever is
// inserted, deleted or modified between pages; the markers stay valid.
TEST(FileQueryTest, AWalkDuringConcurrentChangesReturnsEverySurvivorExactlyOnce) {
  std::map<std::string, std::string> description_of;  // key -> description, as in the file now
  for (int i = 0; i < 60; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "r%03d", i);
    description_of[key] = std::string("resource ") + key;
  }
  auto file_text = [&] {
    return file_inventory(
        std::vector<std::pair<std::string, std::string>>(description_of.begin(), description_of.end()));
  };
  TempDir dir;
  auto inventory = dir.write("inventory.yaml", file_text());
  GatewayProcess gw({.config_yaml = file_config(inventory)});
  json pools = get_list(gw.port(), kV2 + "/resourcePools");
  const std::string path = kV2 + "/resourcePools/" + pools.at(0).at("resourcePoolId").get<std::string>() + "/resources";
  auto served = [&] {
    std::map<std::string, std::string> out;  // resourceId -> description
    for (const auto& o : get_list(gw.port(), path + "?" + kAll)) {
      out[o.at("resourceId").get<std::string>()] = o.at("description").get<std::string>();
    }
    return out;
  };
  const std::map<std::string, std::string> initial = served();
  ASSERT_EQ(initial.size(), 60u);
  std::map<std::string, std::string> key_of;  // resourceId -> key, for the initial resources
  for (const auto& [id, description] : initial) key_of[id] = description.substr(std::string("resource ").size());

  std::vector<std::string> returned;  // ids, in the order served
  std::set<std::string> deleted;      // initial ids removed during the walk
  int generation = 0;
  // Between two pages: deletes 3 initial resources the walk has not reached and 2 it has
  // returned, renames one it has not reached, adds 5 (wherever their ids fall), and
  // waits until the gateway serves exactly that.
  auto change = [&] {
    ++generation;
    const std::set<std::string> seen(returned.begin(), returned.end());
    std::size_t ahead = 0, behind = 0;
    bool renamed = false;
    for (const auto& [id, key] : key_of) {  // id order, the walk's order
      if (deleted.count(id) != 0) continue;
      if (seen.count(id) != 0) {
        if (behind < 2) {
          ++behind;
          deleted.insert(id);
          description_of.erase(key);
        }
      } else if (id > returned.back()) {
        if (ahead < 3) {
          ++ahead;
          deleted.insert(id);
          description_of.erase(key);
        } else if (!renamed) {
          renamed = true;
          description_of[key] = "renamed in generation " + std::to_string(generation);
        }
      }
    }
    for (int i = 0; i < 5; ++i) {
      std::string key = "n" + std::to_string(generation) + "-" + std::to_string(i);
      description_of[key] = "resource " + key;
    }
    write_file_atomically(inventory, file_text());
    std::multiset<std::string> expected;
    for (const auto& [key, description] : description_of) expected.insert(description);
    return renamed && ahead == 3 && behind == 2 &&
           eventually(
               [&] {
                 std::multiset<std::string> now;
                 for (const auto& [id, description] : served()) now.insert(description);
                 return now == expected;
               },
               5s);
  };

  std::string target = path + "?limit=8";
  std::size_t page = 0;
  while (!target.empty()) {
    ASSERT_LT(page, 30u) << "the walk does not end";
    HttpResponse res = http_get(gw.port(), target);
    ASSERT_EQ(res.status, 200) << "page " << page << ": " << res.body;
    for (const auto& o : res.json()) {
      std::string id = o.at("resourceId").get<std::string>();
      EXPECT_EQ(deleted.count(id), 0u) << "a deleted resource was served: " << o.dump();
      auto key = key_of.find(id);
      if (key != key_of.end() && description_of.count(key->second) != 0) {
        EXPECT_EQ(o.at("description"), description_of.at(key->second)) << "a stale version was served";
      }
      returned.push_back(id);
    }
    target = next_link(res);
    ++page;
    if (page == 1 || page == 3) {
      ASSERT_FALSE(target.empty());
      ASSERT_TRUE(change()) << "the change was not served in time";
    }
  }
  EXPECT_EQ(generation, 2);
  std::set<std::string> unique(returned.begin(), returned.end());
  EXPECT_EQ(unique.size(), returned.size()) << "a resource came twice";
  EXPECT_TRUE(std::is_sorted(returned.begin(), returned.end())) << "the walk is not in id order";
  std::size_t survivors = 0;
  for (const auto& [id, description] : initial) {
    if (deleted.count(id) != 0) continue;
    ++survivors;
    EXPECT_EQ(unique.count(id), 1u) << "survivor " << id << " was skipped";
  }
  EXPECT_EQ(survivors, 50u);
}

}  // namespace
}  // namespace o2gw::test
