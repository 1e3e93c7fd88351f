#include "ims/simulator/simulator_adapter.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "ims/common/parallel_chunks.hpp"
#include "o2gw/alarms.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxResources = 10'000'000;
constexpr auto kChurnTick = std::chrono::milliseconds(100);

std::string alarm_source(const std::string& instance) {
  return "simulator/" + instance;
}

// SplitMix64: tiny, fast, and the same numbers on every platform and standard
// library (std::uniform_int_distribution is not), which the seed promises.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  int between(int low, int high) { return low + static_cast<int>(below(high - low + 1)); }
  [[nodiscard]] std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

// One independent stream per (seed, purpose, index): a resource's content does
// not depend on how many were generated before it.
Random stream(std::uint64_t seed, std::uint64_t purpose, std::uint64_t index) {
  Random mix(seed ^ (purpose * 0xd6e8feb86659fd93ULL));
  for (std::uint64_t i = 0; i < 2; ++i) mix.next();
  return Random(mix.next() ^ (index * 0x9e3779b97f4a7c15ULL));
}

struct City {
  const char* slug;
  const char* name;
  const char* country;  // ISO 3166-1 alpha-2 (civic address caType 1)
  const char* region;   // caType 3
  const char* city;     // caType 6
  const char* street;   // caType 22
  const char* number;   // caType 26
  double longitude;
  double latitude;
};

constexpr std::array<City, 8> kCities = {{
    {"stockholm", "Stockholm Kista", "SE", "Stockholms län", "Stockholm", "Torshamnsgatan", "21", 17.9497, 59.4036},
    {"madrid", "Madrid Las Tablas", "ES", "Comunidad de Madrid", "Madrid", "Calle de Isabel Colbrand", "10", -3.6712,
     40.5043},
    {"plano", "Dallas Plano", "US", "Texas", "Plano", "Legacy Drive", "5601", -96.8236, 33.0781},
    {"munich", "Munich Schwabing", "DE", "Bayern", "München", "Leopoldstraße", "175", 11.5860, 48.1745},
    {"toronto", "Toronto Financial District", "CA", "Ontario", "Toronto", "Bay Street", "200", -79.3807, 43.6480},
    {"bengaluru", "Bengaluru Bellandur", "IN", "Karnataka", "Bengaluru", "Outer Ring Road", "44", 77.6766, 12.9279},
    {"paris", "Paris La Défense", "FR", "Île-de-France", "Courbevoie", "Place des Reflets", "7", 2.2392, 48.8920},
    {"sydney", "Sydney Macquarie Park", "AU", "New South Wales", "Macquarie Park", "Talavera Road", "12", 151.1296,
     -33.7787},
}};

// Kinds of hardware in a simulated rack; keys are the resource type keys.
constexpr std::string_view kServerType = "edge-server-gen3";
constexpr std::string_view kAcceleratorType = "fec-accelerator";
constexpr std::string_view kSwitchType = "tor-switch";
constexpr std::string_view kStorageType = "nvme-storage-node";
constexpr int kRackSize = 20;  // one switch and one storage node per 20 resources

AlarmDefinitionSpec alarm(const char* key, const char* name, const char* description, const char* repair,
                          const char* clearing, json additional = json::object()) {
  AlarmDefinitionSpec def;
  def.key = key;
  def.name = name;
  def.description = description;
  def.proposed_repair_actions = repair;
  def.clearing_type = clearing;
  def.change_type = "ADDED";
  def.additional_fields = std::move(additional);
  return def;
}

ResourceTypeSpec resource_type(std::string_view key, const char* name, const char* description, const char* vendor,
                               const char* model, const char* version, const char* resource_class, json extensions,
                               std::vector<AlarmDefinitionSpec> alarms) {
  ResourceTypeSpec type;
  type.key = std::string(key);
  type.name = name;
  type.description = description;
  type.vendor = vendor;
  type.model = model;
  type.version = version;
  type.resource_kind = "PHYSICAL";
  type.resource_class = resource_class;
  type.extensions = std::move(extensions);
  AlarmDictionarySpec dict;
  dict.version = std::string(version) + ".0";
  dict.entity_type = std::string(model) + "-" + version;
  dict.vendor = vendor;
  for (auto& a : alarms) a.last_change = dict.version;
  dict.definitions = std::move(alarms);
  type.alarm_dictionary = std::move(dict);
  return type;
}

// A simulated alarm's severity: the definition's alarmAdditionalFields.severity, else MAJOR.
int simulated_severity(const AlarmDefinitionSpec& def) {
  static constexpr std::string_view kNames[] = {"CRITICAL", "MAJOR", "MINOR", "WARNING"};
  const auto it = def.additional_fields.find("severity");
  if (it != def.additional_fields.end() && it->is_string()) {
    for (std::size_t i = 0; i < std::size(kNames); ++i) {
      if (kNames[i] == it->get_ref<const std::string&>()) return static_cast<int>(i);
    }
  }
  return static_cast<int>(Severity::major);
}

std::vector<ResourceTypeSpec> simulated_resource_types() {
  std::vector<ResourceTypeSpec> types;
  types.push_back(resource_type(
      kServerType, "Edge server, 3rd generation", "Short-depth 2U single-socket server for far-edge and DU workloads",
      "Kestrel Systems", "KS-E340", "3.2", "COMPUTE",
      json{{"formFactor", "2U short-depth"}, {"powerSupplies", 2}, {"maxPowerWatts", 800}},
      {alarm("fan-failure", "Fan failure",
             "A chassis fan stopped or runs below its minimum speed; "
             "the server may throttle or shut down if temperature keeps rising.",
             "Replace the failed fan module (hot-swappable).", "MANUAL", json{{"severity", "MAJOR"}}),
       alarm("psu-redundancy-lost", "Power supply redundancy lost",
             "One of the two power supplies failed or lost input power; a second failure stops "
             "the server.",
             "Check the PDU feed and replace the power supply if it reports a fault.", "AUTOMATIC",
             json{{"severity", "MAJOR"}}),
       alarm("cpu-thermal-throttling", "CPU thermal throttling",
             "The CPU reduced its frequency to stay within thermal limits; latency-sensitive "
             "workloads may miss deadlines.",
             "Check airflow, inlet temperature and fan status.", "AUTOMATIC", json{{"severity", "MINOR"}}),
       alarm("memory-ecc-uncorrectable", "Uncorrectable memory error",
             "A DIMM reported an uncorrectable ECC error; the affected pages were retired.",
             "Drain the node and replace the DIMM named in the BMC event log.", "MANUAL",
             json{{"severity", "CRITICAL"}}),
       alarm("bmc-unreachable", "BMC unreachable",
             "The baseboard management controller does not answer Redfish requests; hardware "
             "health is unknown.",
             "Check the management network and reset the BMC.", "AUTOMATIC", json{{"severity", "WARNING"}})}));
  types.push_back(resource_type(
      kAcceleratorType, "FEC accelerator card", "PCIe look-aside accelerator for 5G LDPC forward error correction",
      "Tern Silicon", "TS-FEC200", "2.1", "COMPUTE", json{{"interface", "PCIe Gen4 x16"}, {"sriovVFs", 16}},
      {alarm("firmware-mismatch", "Firmware version mismatch",
             "The card runs firmware that the installed driver does not support.",
             "Update the card firmware to the version listed for the driver.", "MANUAL"),
       alarm("device-reset", "Device reset", "The accelerator was reset after a hang; queued operations were lost.",
             "No action if isolated; replace the card if resets repeat.", "AUTOMATIC"),
       alarm("queue-overflow", "Queue overflow", "Offload queues overflowed; the DU fell back to software decoding.",
             "Rebalance cells across accelerators or add capacity.", "AUTOMATIC")}));
  types.push_back(resource_type(
      kSwitchType, "Top-of-rack switch", "48x25G + 8x100G leaf switch with PTP boundary clock", "Auklet Networks",
      "AN-7048", "4.0", "NETWORKING", json{{"ports", json{{"25G", 48}, {"100G", 8}}}, {"ptpProfile", "G.8275.1"}},
      {alarm("port-down", "Port down", "A server-facing or uplink port lost its link.",
             "Check the cable and optics of the port named in the alarm.", "AUTOMATIC"),
       alarm("ptp-clock-unlocked", "PTP clock unlocked",
             "The boundary clock lost lock to its grandmaster; radio timing is at risk.",
             "Check the grandmaster and the uplink carrying PTP.", "AUTOMATIC", json{{"severity", "CRITICAL"}}),
       alarm("high-temperature", "High temperature", "The switch ASIC temperature exceeds its warning threshold.",
             "Check rack airflow and fan trays.", "AUTOMATIC")}));
  types.push_back(resource_type(
      kStorageType, "NVMe storage node", "1U storage server with 10 NVMe drives for Ceph OSDs", "Kestrel Systems",
      "KS-S220", "1.4", "STORAGE", json{{"driveBays", 10}},
      {alarm("disk-failure", "Drive failure", "An NVMe drive failed and was taken out of service.",
             "Replace the drive; the cluster rebalances automatically.", "MANUAL"),
       alarm("capacity-critical", "Capacity critical", "Used capacity exceeds 90%; writes may be refused soon.",
             "Add drives or nodes, or delete unused volumes.", "AUTOMATIC")}));
  return types;
}

std::string mac_address(Random& rng) {
  std::uint64_t bits = rng.next();
  // 02: locally administered, so simulated addresses never collide with real ones.
  return fmt::format("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (bits >> 32) & 0xff, (bits >> 24) & 0xff,
                     (bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff);
}

struct Totals {
  std::int64_t cores = 0;
  std::int64_t memory_gib = 0;
  std::int64_t servers = 0;
};

constexpr std::array<int, 3> kServerCores = {24, 32, 48};
constexpr std::array<int, 3> kServerMemoryGiB = {192, 256, 512};

json object_of(std::initializer_list<std::pair<const char*, json>> members) {
  json out = json::object();
  for (const auto& [key, value] : members) out[key] = value;
  return out;
}

// Extension trees shared by every resource of one shape. Copying a prototype
// and setting the few per-resource values costs a fraction of building the
// tree each time, which is what lets 100,000 resources load in well under a
// second.
struct ExtensionPrototypes {
  std::array<json, kServerCores.size()> server;
  json accelerator;
  json tor_switch;
  json storage;

  ExtensionPrototypes() {
    for (std::size_t size = 0; size < server.size(); ++size) {
      json nic = object_of({{"speedGbps", 25}, {"sriovVFs", 64}, {"macAddress", ""}});
      json nics = json::array();
      for (const char* name : {"ens1f0", "ens1f1"}) {
        nic["name"] = name;
        nics.push_back(nic);
      }
      server[size] = object_of({
          {"hostname", ""},
          {"bmcAddress", ""},
          {"cpu", object_of({{"model", "Xeon-class edge CPU"}, {"cores", kServerCores[size]}})},
          {"memoryGiB", kServerMemoryGiB[size]},
          {"nics", nics},
          {"operationalState", "enabled"},
          {"telemetry", object_of({{"cpuUtilizationPercent", 0}, {"sequence", 0}})},
      });
    }
    accelerator = object_of({{"pciAddress", "0000:51:00.0"}, {"firmwareVersion", "24.03"}, {"sriovVFs", 16}});
    tor_switch = object_of({{"hostname", ""},
                            {"managementAddress", ""},
                            {"osVersion", "4.31.2"},
                            {"operationalState", "enabled"},
                            {"telemetry", object_of({{"sequence", 0}})}});
    storage = object_of({{"hostname", ""},
                         {"drives", 10},
                         {"rawCapacityTB", 76.8},
                         {"operationalState", "enabled"},
                         {"telemetry", object_of({{"sequence", 0}})}});
  }
};

std::string management_address(int site, std::int64_t pool, std::int64_t index) {
  return fmt::format("10.{}.{}.{}", 100 + site % 100, pool % 256, index % 250 + 2);
}

ResourceSpec server(const ExtensionPrototypes& prototypes, const std::string& host, int site, std::int64_t pool,
                    std::int64_t index, Random& rng, Totals& totals) {
  const std::size_t size = rng.below(kServerCores.size());
  ResourceSpec r;
  r.type_key = std::string(kServerType);
  r.description = "Edge server " + host;
  r.global_asset_id = fmt::format("KSE340-{:010X}", rng.next() & 0xffffffffffULL);
  r.tags = {"edge", "sriov", "ptp"};
  r.extensions = prototypes.server[size];
  r.extensions["hostname"] = host;
  r.extensions["bmcAddress"] = management_address(site, pool, index);
  for (auto& nic : r.extensions["nics"]) nic["macAddress"] = mac_address(rng);
  r.extensions["telemetry"]["cpuUtilizationPercent"] = rng.between(5, 60);
  totals.cores += kServerCores[size];
  totals.memory_gib += kServerMemoryGiB[size];
  ++totals.servers;
  if (index % 4 == 0) {  // every fourth server carries a FEC accelerator for DU work
    ResourceSpec card;
    card.key = "fec0";
    card.type_key = std::string(kAcceleratorType);
    card.description = "FEC accelerator in " + host;
    card.global_asset_id = fmt::format("TSFEC-{:08X}", rng.next() & 0xffffffffULL);
    card.tags = {"accelerator"};
    card.extensions = prototypes.accelerator;
    r.elements.push_back(std::move(card));
    r.tags.emplace_back("fec");
  }
  return r;
}

std::string utc_now_rfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

SimulatorOptions SimulatorOptions::parse(const nlohmann::json& config) {
  SectionReader reader(config, "");
  SimulatorOptions o;
  o.pools = reader.integer("pools", 10, 0, 100'000);
  o.resources_per_pool = reader.integer("resources_per_pool", 1000, 0, 1'000'000);
  o.sites = reader.integer("sites", 2, 1, 1000);
  o.churn_per_second = reader.integer("churn_per_second", 0, 0, 1'000'000);
  o.alarm_rate_per_minute = reader.integer("alarm_rate_per_minute", 0, 0, 60'000);
  o.seed = static_cast<std::uint64_t>(reader.integer("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
  reader.finish();
  if (o.pools * o.resources_per_pool > kMaxResources) {
    throw ConfigError(reader.path("resources_per_pool"),
                      "pools x resources_per_pool must be at most " + std::to_string(kMaxResources));
  }
  return o;
}

OCloudModel generate_ocloud(const SimulatorOptions& options, const std::string& instance_name) {
  OCloudModel model;
  const int site_count = static_cast<int>(options.sites);
  std::vector<std::string> site_keys;
  for (int s = 0; s < site_count; ++s) {
    const City& city = kCities[static_cast<std::size_t>(s) % kCities.size()];
    // Site numbers keep keys unique when there are more sites than cities.
    const int number = s / static_cast<int>(kCities.size()) + 1;
    std::string site_key = fmt::format("{}-{:02}", city.slug, number);
    LocationSpec loc;
    // Prefixed with the instance: two simulators must not claim one SMO location.
    loc.global_location_id = instance_name + "-" + site_key;
    loc.name = fmt::format("{} {}", city.name, number);
    loc.description = fmt::format("Simulated edge data centre in {}", city.city);
    loc.coordinate = json{{"type", "Point"}, {"coordinates", {city.longitude, city.latitude}}};
    loc.civic_address = json::array({{{"caType", 1}, {"caValue", city.country}},
                                     {{"caType", 3}, {"caValue", city.region}},
                                     {{"caType", 6}, {"caValue", city.city}},
                                     {{"caType", 22}, {"caValue", city.street}},
                                     {{"caType", 26}, {"caValue", city.number}}});
    loc.address = fmt::format("{} {}, {}, {}", city.street, city.number, city.city, city.country);
    loc.extensions = json{{"simulated", true}};

    SiteSpec site;
    site.key = site_key;
    site.global_location_id = loc.global_location_id;
    site.name = fmt::format("{} edge site {}", city.name, number);
    site.description = "Simulated far-edge O-Cloud site";
    site.extensions = json{{"tier", "far-edge"}, {"racks", 0}};
    model.locations.push_back(std::move(loc));
    model.sites.push_back(std::move(site));
    site_keys.push_back(std::move(site_key));
  }

  model.resource_types = simulated_resource_types();

  static constexpr std::array<const char*, 3> kPurposes = {"du", "cu", "upf"};
  const ExtensionPrototypes prototypes;
  std::vector<std::int64_t> site_racks(static_cast<std::size_t>(site_count), 0);
  const auto per_pool = static_cast<std::size_t>(options.resources_per_pool);
  for (std::int64_t p = 0; p < options.pools; ++p) {
    const int site = static_cast<int>(p % site_count);
    const std::string& site_key = site_keys[static_cast<std::size_t>(site)];
    const char* purpose = kPurposes[static_cast<std::size_t>(p) % kPurposes.size()];
    ResourcePoolSpec pool;
    pool.key = fmt::format("{}-pool-{:03}", site_key, p);
    pool.site_key = site_key;
    pool.name = fmt::format("{}-{}-{:03}", site_key, purpose, p);
    pool.description = fmt::format("Simulated {} pool at {}", purpose, site_key);
    const std::int64_t racks = (options.resources_per_pool + kRackSize - 1) / kRackSize;
    pool.extensions = json{{"purpose", purpose}, {"racks", racks}};
    site_racks[static_cast<std::size_t>(site)] += racks;

    model.resource_pools.push_back(std::move(pool));
  }

  // Pools are generated in parallel: each has its own random stream and its own
  // slice of the resource list, so the result does not depend on the threads.
  std::vector<Totals> pool_totals(model.resource_pools.size());
  model.resources.resize(model.resource_pools.size() * per_pool);
  const std::size_t min_pools_per_thread = std::max<std::size_t>(1, 2048 / std::max<std::size_t>(1, per_pool));
  for_each_chunk(model.resource_pools.size(), min_pools_per_thread, [&](std::size_t begin, std::size_t end) {
    for (std::size_t pool_index = begin; pool_index < end; ++pool_index) {
      const auto p = static_cast<std::int64_t>(pool_index);
      const ResourcePoolSpec& pool = model.resource_pools[pool_index];
      const int site = static_cast<int>(p % site_count);
      const std::string& site_key = site_keys[static_cast<std::size_t>(site)];
      Random rng = stream(options.seed, 1, static_cast<std::uint64_t>(p));
      Totals& totals = pool_totals[pool_index];
      for (std::int64_t i = 0; i < options.resources_per_pool; ++i) {
        const std::string host = fmt::format("{}-p{:03}-n{:05}", site_key, p, i);
        ResourceSpec r;
        if (i % kRackSize == kRackSize - 1) {
          r.type_key = std::string(kSwitchType);
          r.description = "Top-of-rack switch " + host;
          r.global_asset_id = fmt::format("AN7048-{:010X}", rng.next() & 0xffffffffffULL);
          r.tags = {"leaf", "ptp-boundary-clock"};
          r.extensions = prototypes.tor_switch;
          r.extensions["hostname"] = host;
          r.extensions["managementAddress"] = management_address(site, p, i);
        } else if (i % kRackSize == kRackSize - 2) {
          r.type_key = std::string(kStorageType);
          r.description = "NVMe storage node " + host;
          r.global_asset_id = fmt::format("KSS220-{:010X}", rng.next() & 0xffffffffffULL);
          r.tags = {"ceph-osd"};
          r.extensions = prototypes.storage;
          r.extensions["hostname"] = host;
        } else {
          r = server(prototypes, host, site, p, i, rng, totals);
        }
        r.key = host;
        r.pool_key = pool.key;
        r.groups = {pool.name, fmt::format("rack-{:03}", i / kRackSize)};
        model.resources[pool_index * per_pool + static_cast<std::size_t>(i)] = std::move(r);
      }
    }
  });
  std::vector<Totals> site_totals(static_cast<std::size_t>(site_count));
  for (std::size_t p = 0; p < pool_totals.size(); ++p) {
    Totals& site = site_totals[p % static_cast<std::size_t>(site_count)];
    site.cores += pool_totals[p].cores;
    site.memory_gib += pool_totals[p].memory_gib;
    site.servers += pool_totals[p].servers;
  }
  for (int s = 0; s < site_count; ++s) {
    model.sites[static_cast<std::size_t>(s)].extensions["racks"] = site_racks[static_cast<std::size_t>(s)];
    const Totals& totals = site_totals[static_cast<std::size_t>(s)];
    DeploymentManagerSpec dm;
    dm.key = "k8s-" + site_keys[static_cast<std::size_t>(s)];
    dm.name = dm.key;
    dm.description = "Kubernetes cluster of " + model.sites[static_cast<std::size_t>(s)].name;
    dm.service_uri =
        fmt::format("https://api.{}.{}.sim.o2gw.example:6443", site_keys[static_cast<std::size_t>(s)], instance_name);
    dm.site_keys = {site_keys[static_cast<std::size_t>(s)]};
    dm.capabilities = json{{"profiles", {"kubernetes"}},
                           {"kubernetesVersion", "1.30.4"},
                           {"features", {"sriov", "hugepages-1Gi", "ptp", "cpu-manager-static"}}};
    dm.capacity = json{{"nodes", totals.servers}, {"cpuCores", totals.cores}, {"memoryGiB", totals.memory_gib}};
    dm.extensions = json{{"simulated", true}};
    model.deployment_managers.push_back(std::move(dm));
  }
  return model;
}

SimulatorAdapter::SimulatorAdapter(AdapterContext ctx, SimulatorOptions options)
    : ctx_(std::move(ctx)),
      options_(options),
      churn_state_(stream(options.seed, 2, 0).next()),
      alarm_state_(stream(options.seed, 3, 0).next()) {
  if (ctx_.inventory == nullptr) {
    throw std::invalid_argument("simulator adapter '" + ctx_.spec.name + "' needs an inventory cache");
  }
}

SimulatorAdapter::~SimulatorAdapter() {
  stop();
}

void SimulatorAdapter::start() {
  const auto began = std::chrono::steady_clock::now();
  OCloudModel model = generate_ocloud(options_, ctx_.spec.name);
  // The alarm dictionaries, by resource type id, for the alarm thread.
  std::vector<AlarmType> alarm_types;
  std::unordered_map<std::string, std::uint8_t> alarm_type_of;
  if (ctx_.alarms != nullptr) {
    const O2Ids ids(ctx_);
    for (const auto& type : model.resource_types) {
      if (!type.alarm_dictionary || type.alarm_dictionary->definitions.empty() || alarm_types.size() >= 255) continue;
      AlarmType t;
      t.type_id = ids.resource_type(type.key);
      for (const auto& def : type.alarm_dictionary->definitions) {
        t.definition_ids.push_back(ids.alarm_definition(type.key, def.key));
        t.definition_keys.push_back(def.key);
        t.severities.push_back(simulated_severity(def));
      }
      alarm_type_of.emplace(t.type_id, static_cast<std::uint8_t>(alarm_types.size()));
      alarm_types.push_back(std::move(t));
    }
  }
  std::vector<InventoryObject> objects = build_inventory(std::move(model), ctx_);
  std::vector<std::string> resource_ids;
  std::vector<std::uint8_t> resource_alarm_type;
  std::vector<std::size_t> alarmable;
  resource_ids.reserve(static_cast<std::size_t>(options_.pools * options_.resources_per_pool));
  for (const auto& o : objects) {
    if (o.kind != Kind::resource) continue;
    if (!alarm_type_of.empty()) {
      auto t = alarm_type_of.find(o.doc.value("resourceTypeId", std::string()));
      resource_alarm_type.push_back(t == alarm_type_of.end() ? std::uint8_t{255} : t->second);
      if (t != alarm_type_of.end()) alarmable.push_back(resource_ids.size());
    }
    resource_ids.push_back(o.id);
  }
  const std::size_t count = objects.size();
  ctx_.inventory->replace_source(ctx_.spec.name, std::move(objects));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  spdlog::info("adapter {}: simulated {} objects ({} resources in {} pools, {} sites) in {} ms", ctx_.spec.name, count,
               resource_ids.size(), options_.pools, options_.sites, took.count());
  {
    std::lock_guard lock(mu_);
    health_ = {true, fmt::format("{} resources in {} pools across {} sites; churn {}/s; alarms {}/min",
                                 resource_ids.size(), options_.pools, options_.sites, options_.churn_per_second,
                                 ctx_.alarms == nullptr ? 0 : options_.alarm_rate_per_minute)};
    resource_ids_ = std::move(resource_ids);
    alarm_types_ = std::move(alarm_types);
    resource_alarm_type_ = std::move(resource_alarm_type);
    alarmable_ = std::move(alarmable);
    synced_ = true;
  }
  if (ctx_.alarms != nullptr) {
    // Alarms left active by a previous run of this instance are stale: the sequence starts over.
    ctx_.alarms->retain_only(alarm_source(ctx_.spec.name), {});
  }
  if (options_.churn_per_second > 0) {
    churner_ = std::jthread([this](const std::stop_token& stop) { churn_loop(stop); });
  }
  if (options_.alarm_rate_per_minute > 0 && ctx_.alarms != nullptr) {
    alarmer_ = std::jthread([this](const std::stop_token& stop) { alarm_loop(stop); });
  }
}

void SimulatorAdapter::stop() {
  for (std::jthread* t : {&churner_, &alarmer_}) {
    if (!t->joinable()) continue;
    t->request_stop();
    t->join();
  }
}

Health SimulatorAdapter::check_health() {
  std::lock_guard lock(mu_);
  return health_;
}

bool SimulatorAdapter::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

std::size_t SimulatorAdapter::churn(std::size_t count) {
  std::vector<InventoryObject> updates;
  {
    std::lock_guard lock(mu_);
    if (resource_ids_.empty()) return 0;
    count = std::min(count, resource_ids_.size());
    updates.reserve(count);
    const std::string sampled_at = utc_now_rfc3339();
    Random rng(churn_state_);
    // Distinct resources, so a step of n is n modifications.
    std::vector<std::size_t> picks;
    picks.reserve(count);
    if (count == resource_ids_.size()) {
      for (std::size_t i = 0; i < count; ++i) picks.push_back(i);
    } else {
      std::unordered_set<std::size_t> chosen;
      while (picks.size() < count) {
        const std::size_t i = rng.below(resource_ids_.size());
        if (chosen.insert(i).second) picks.push_back(i);
      }
    }
    for (const std::size_t pick : picks) {
      const std::string& id = resource_ids_[pick];
      ObjectPtr current = ctx_.inventory->get(Kind::resource, id);
      if (!current || current->source != ctx_.spec.name) continue;
      InventoryObject next;
      next.kind = Kind::resource;
      next.id = id;
      next.parent_id = current->parent_id;
      next.source = ctx_.spec.name;
      next.doc = current->doc;
      json& telemetry = next.doc["extensions"]["telemetry"];
      // A fresh sequence number makes every sample a real modification.
      telemetry["sequence"] = ++samples_;
      telemetry["sampledAt"] = sampled_at;
      if (telemetry.contains("cpuUtilizationPercent")) {
        telemetry["cpuUtilizationPercent"] = rng.between(5, 95);
      }
      next.finalize();
      updates.push_back(std::move(next));
    }
    churn_state_ = rng.state();
  }
  const std::vector<Change> changes = ctx_.inventory->apply(ctx_.spec.name, std::move(updates), {});
  return static_cast<std::size_t>(
      std::count_if(changes.begin(), changes.end(), [](const Change& c) { return c.type == ChangeType::modify; }));
}

void SimulatorAdapter::churn_loop(const std::stop_token& stop) {
  double owed = 0;  // fractional updates carried to the next tick
  auto last = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(wait_mu_);
      wake_.wait_for(lock, stop, kChurnTick, [] { return false; });
    }
    if (stop.stop_requested()) return;
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last).count();
    last = now;
    // Never owe more than a second: a stalled tick must not turn into a burst.
    owed = std::min(owed + seconds * static_cast<double>(options_.churn_per_second),
                    static_cast<double>(options_.churn_per_second));
    const auto due = static_cast<std::size_t>(owed);
    if (due == 0) continue;
    owed -= static_cast<double>(due);
    try {
      churn(due);
    } catch (const std::exception& e) {
      spdlog::error("adapter {}: churn failed: {}", ctx_.spec.name, e.what());
    } catch (...) {
      spdlog::error("adapter {}: churn failed", ctx_.spec.name);
    }
  }
}

bool SimulatorAdapter::alarm_step() {
  if (ctx_.alarms == nullptr) return false;
  std::optional<AlarmReport> raise;
  std::string clear_key;
  {
    std::lock_guard lock(mu_);
    if (alarmable_.empty()) return false;
    Random rng(alarm_state_);
    const bool clear =
        !active_alarm_keys_.empty() && (active_alarm_keys_.size() >= kMaxActiveAlarms || rng.below(2) == 0);
    if (clear) {
      const std::size_t i = rng.below(active_alarm_keys_.size());
      clear_key = std::move(active_alarm_keys_[i]);
      active_alarm_keys_.erase(active_alarm_keys_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      const std::size_t resource = alarmable_[rng.below(alarmable_.size())];
      const AlarmType& type = alarm_types_[resource_alarm_type_[resource]];
      const std::size_t def = rng.below(type.definition_ids.size());
      AlarmReport r;
      r.source = alarm_source(ctx_.spec.name);
      r.key = resource_ids_[resource] + "/" + type.definition_keys[def];
      r.resource_id = resource_ids_[resource];
      r.definition = type.definition_ids[def];
      r.severity = static_cast<Severity>(type.severities[def]);
      r.extensions = json{{"simulated", true}, {"sequence", ++alarm_sequence_}};
      if (std::find(active_alarm_keys_.begin(), active_alarm_keys_.end(), r.key) == active_alarm_keys_.end()) {
        active_alarm_keys_.push_back(r.key);
      }
      raise = std::move(r);
    }
    alarm_state_ = rng.state();
  }
  // Outside the lock: the sink may block briefly on its store.
  if (raise) {
    if (auto rejected = ctx_.alarms->raise(*raise)) {
      spdlog::warn("adapter {}: simulated alarm {} rejected: {}", ctx_.spec.name, raise->key, rejected->reason);
    }
  } else {
    ctx_.alarms->clear(alarm_source(ctx_.spec.name), clear_key);
  }
  return true;
}

std::size_t SimulatorAdapter::active_alarms() const {
  std::lock_guard lock(mu_);
  return active_alarm_keys_.size();
}

void SimulatorAdapter::alarm_loop(const std::stop_token& stop) {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(60.0 / static_cast<double>(options_.alarm_rate_per_minute)));
  auto next = std::chrono::steady_clock::now() + interval;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(wait_mu_);
      wake_.wait_until(lock, stop, next, [] { return false; });
    }
    if (stop.stop_requested()) return;
    // A stalled step is not made up with a burst.
    next = std::max(next + interval, std::chrono::steady_clock::now());
    try {
      alarm_step();
    } catch (const std::exception& e) {
      spdlog::error("adapter {}: simulated alarm failed: {}", ctx_.spec.name, e.what());
    } catch (...) {
      spdlog::error("adapter {}: simulated alarm failed", ctx_.spec.name);
    }
  }
}

namespace {

const AdapterRegistration kSimulatorAdapterRegistration{AdapterFactory{
    Category::ims,
    std::string(kSimulatorAdapterType),
    "Synthetic O-Cloud of configurable size, deterministic per seed, with optional churn",
    [](const nlohmann::json& config) { (void)SimulatorOptions::parse(config); },
    [](const AdapterContext& ctx) -> std::unique_ptr<Adapter> {
      return std::make_unique<SimulatorAdapter>(ctx, SimulatorOptions::parse(ctx.spec.config));
    },
}};

}  // namespace
}  // namespace o2gw::ims
