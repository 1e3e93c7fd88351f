// Alarms from the file adapter (the inventory file's `alarms:` list) and the simulator.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ims/file/file_adapter.hpp"
#include "ims/file/inventory_file.hpp"
#include "ims/simulator/simulator_adapter.hpp"
#include "o2gw/config.hpp"
#include "o2gw/inventory.hpp"
#include "unit/adapters/adapter_test_support.hpp"
#include "unit/alarms/recording_alarm_sink.hpp"

namespace o2gw::ims {
namespace {

using nlohmann::json;
using test::line_containing;
using test::make_adapter_context;
using test::RecordingAlarmSink;
using Type = RecordingAlarmSink::Event::Type;

const std::string kBase = R"(locations:
  - globalLocationId: lab-1
    name: Lab
    address: Bench 4
sites:
  - key: lab
    location: lab-1
    name: Lab site
resourceTypes:
  - key: server
    name: Server
    vendor: Acme
    model: S1
    version: "1"
    resourceKind: PHYSICAL
    resourceClass: COMPUTE
    alarmDictionary:
      alarmDictionaryVersion: "1.0"
      alarmDefinition:
        - key: fan-failure
          alarmName: Fan failure
          alarmDescription: A fan stopped.
          clearingType: MANUAL
        - key: psu-lost
          alarmName: PSU redundancy lost
          alarmDescription: A power supply failed.
          clearingType: AUTOMATIC
  - key: cable
    name: Cable
    vendor: Acme
    model: C1
    version: "1"
    resourceKind: PHYSICAL
    resourceClass: NETWORKING
resourcePools:
  - key: rack
    site: lab
    name: Rack
resources:
  - key: server-0
    pool: rack
    type: server
    description: Server 0
    elements:
      - key: psu-0
        description: PSU 0
  - key: server-1
    pool: rack
    type: server
    description: Server 1
  - key: cable-0
    pool: rack
    type: cable
    description: Cable 0
)";

std::string with_alarms(const std::string& alarms) {
  return kBase + "alarms:\n" + alarms;
}

const std::string kTwoAlarms = with_alarms(R"(  - key: fan
    resource: server-0
    definition: fan-failure
    severity: critical
    extensions: {slot: 3}
  - key: psu
    resource: server-1
    definition: psu-lost
    severity: warning
)");

std::string error_of(const std::string& text) {
  try {
    (void)parse_inventory_contents(text, "inv.yaml");
  } catch (const InventoryFileError& e) {
    return e.what();
  }
  return "";
}

TEST(InventoryFileAlarms, ParsedAndTurnedIntoReports) {
  const InventoryFileContents contents = parse_inventory_contents(kTwoAlarms, "inv.yaml");
  ASSERT_EQ(contents.alarms.size(), 2u);
  EXPECT_EQ(contents.alarms[0].key, "fan");
  EXPECT_EQ(contents.alarms[0].severity, Severity::critical);
  EXPECT_EQ(contents.alarms[0].extensions, (json{{"slot", 3}}));
  EXPECT_EQ(contents.alarms[1].resource_key, "server-1");
  EXPECT_EQ(contents.alarms[1].type_key, "server");
  EXPECT_EQ(contents.alarms[1].severity, Severity::warning);

  InventoryCache cache;
  AdapterContext ctx = make_adapter_context("lab", &cache);
  cache.replace_source("lab", build_inventory(contents.model, ctx));
  const auto reports = inventory_alarm_reports(contents.alarms, ctx);
  ASSERT_EQ(reports.size(), 2u);
  for (const auto& r : reports) {
    EXPECT_EQ(r.source, "file/lab");
    EXPECT_TRUE(cache.get(Kind::resource, r.resource_id)) << r.resource_id;
    bool defined = false;
    cache.visit(Kind::alarm_dictionary, [&](const InventoryObject& o) {
      defined |= o.json.find("\"" + r.definition + "\"") != std::string::npos;
    });
    EXPECT_TRUE(defined) << r.definition;
  }
  // No alarms section: no alarms, and parse_inventory_model still reads the file.
  EXPECT_TRUE(parse_inventory_contents(kBase, "inv.yaml").alarms.empty());
  EXPECT_NO_THROW((void)parse_inventory_model(kTwoAlarms, "inv.yaml"));
}

TEST(InventoryFileAlarms, ErrorsNameTheLine) {
  std::string text =
      with_alarms("  - key: a\n    resource: server-9\n    definition: fan-failure\n    severity: major\n");
  std::string error = error_of(text);
  EXPECT_NE(error.find("inv.yaml:" + std::to_string(line_containing(text, "resource: server-9"))), std::string::npos)
      << error;
  EXPECT_NE(error.find("unknown resource 'server-9'"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean 'server-"), std::string::npos) << error;

  // Elements are parts of their resource's document, not Resources an alarm can name.
  text = with_alarms("  - key: a\n    resource: server-0/psu-0\n    definition: fan-failure\n    severity: major\n");
  EXPECT_NE(error_of(text).find("unknown resource 'server-0/psu-0'"), std::string::npos) << error_of(text);

  text = with_alarms("  - key: a\n    resource: server-0\n    definition: fan-fail\n    severity: major\n");
  error = error_of(text);
  EXPECT_NE(error.find(":" + std::to_string(line_containing(text, "definition: fan-fail")) + ":"), std::string::npos)
      << error;
  EXPECT_NE(error.find("has no alarm definition 'fan-fail'"), std::string::npos) << error;

  text = with_alarms("  - key: a\n    resource: cable-0\n    definition: fan-failure\n    severity: major\n");
  EXPECT_NE(error_of(text).find("has no alarm dictionary"), std::string::npos) << error_of(text);

  text = with_alarms("  - key: a\n    resource: server-0\n    definition: fan-failure\n    severity: fatal\n");
  EXPECT_NE(error_of(text).find("'fatal' is not allowed"), std::string::npos) << error_of(text);

  text = with_alarms("  - key: a\n    resource: server-0\n    definition: fan-failure\n");
  EXPECT_NE(error_of(text).find("severity"), std::string::npos) << error_of(text);

  text = with_alarms(
      "  - key: a\n    resource: server-0\n    definition: fan-failure\n    severity: major\n"
      "  - key: a\n    resource: server-0\n    definition: psu-lost\n    severity: major\n");
  EXPECT_NE(error_of(text).find("duplicate alarm key"), std::string::npos) << error_of(text);

  text = with_alarms(
      "  - key: a\n    resource: server-0\n    definition: fan-failure\n    severity: major\n    color: red\n");
  EXPECT_NE(error_of(text).find("unknown key 'color'"), std::string::npos) << error_of(text);
}

TEST(FileAdapterAlarms, RaisedOnLoadAndClearedWhenRemoved) {
  test::TempDir dir;
  const auto path = dir.path() / "inventory.yaml";
  test::write_file_atomically(path, kTwoAlarms);
  InventoryCache cache;
  RecordingAlarmSink sink;
  AdapterContext ctx = make_adapter_context("lab", &cache);
  ctx.alarms = &sink;
  FileAdapterOptions options;
  options.path = path;
  FileAdapter adapter(ctx, options);
  adapter.poll_once();
  ASSERT_TRUE(adapter.synced()) << adapter.check_health().detail;
  auto active = sink.active();
  ASSERT_EQ(active.size(), 2u);
  EXPECT_TRUE(active.contains({"file/lab", "fan"}));
  EXPECT_EQ(active.at({"file/lab", "psu"}).severity, Severity::warning);
  const auto events = sink.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, Type::retain_only);
  EXPECT_EQ(events.back().keys, (std::vector<std::string>{"fan", "psu"}));

  // The psu entry is removed and fan's severity changes: psu clears, fan is raised again.
  std::string edited = with_alarms(
      "  - key: fan\n    resource: server-0\n    definition: fan-failure\n    severity: minor\n"
      "    extensions: {slot: 3}\n");
  test::write_file_atomically(path, edited);
  adapter.poll_once();
  active = sink.active();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active.at({"file/lab", "fan"}).severity, Severity::minor);

  // A broken edit keeps the last good alarms (nothing raised or cleared).
  const auto before = sink.events().size();
  test::write_file_atomically(path,
                              with_alarms("  - key: x\n    resource: nope\n    definition: a\n    severity: major\n"));
  adapter.poll_once();
  EXPECT_FALSE(adapter.check_health().ok);
  EXPECT_EQ(sink.events().size(), before);
  EXPECT_EQ(sink.active().size(), 1u);
}

TEST(FileAdapterAlarms, WithoutASinkAlarmsAreOnlyValidated) {
  test::TempDir dir;
  const auto path = dir.path() / "inventory.yaml";
  test::write_file_atomically(path, kTwoAlarms);
  InventoryCache cache;
  FileAdapterOptions options;
  options.path = path;
  FileAdapter adapter(make_adapter_context("lab", &cache), options);
  adapter.poll_once();
  EXPECT_TRUE(adapter.synced()) << adapter.check_health().detail;
}

SimulatorOptions small_simulation(std::uint64_t seed) {
  SimulatorOptions o;
  o.pools = 2;
  o.resources_per_pool = 30;
  o.sites = 1;
  o.seed = seed;
  o.alarm_rate_per_minute = 1;  // the thread's first step is a minute away; the test steps by hand
  return o;
}

std::vector<std::string> run_steps(std::uint64_t seed, int steps, InventoryCache& cache, RecordingAlarmSink& sink) {
  AdapterContext ctx = make_adapter_context("sim", &cache);
  ctx.alarms = &sink;
  SimulatorAdapter adapter(ctx, small_simulation(seed));
  adapter.start();
  for (int i = 0; i < steps; ++i) EXPECT_TRUE(adapter.alarm_step());
  EXPECT_LE(adapter.active_alarms(), SimulatorAdapter::kMaxActiveAlarms);
  adapter.stop();
  std::vector<std::string> trace;
  for (const auto& e : sink.events()) {
    if (e.type == Type::raise) trace.push_back("raise " + e.report.key);
    if (e.type == Type::clear) trace.push_back("clear " + e.key);
    if (e.type == Type::retain_only) trace.push_back("retain " + std::to_string(e.keys.size()));
  }
  return trace;
}

TEST(SimulatorAlarms, RaiseAndClearDeterministicallyForTheSeed) {
  InventoryCache cache_a;
  RecordingAlarmSink sink_a;
  const auto trace_a = run_steps(7, 200, cache_a, sink_a);
  InventoryCache cache_b;
  RecordingAlarmSink sink_b;
  const auto trace_b = run_steps(7, 200, cache_b, sink_b);
  EXPECT_EQ(trace_a, trace_b);
  ASSERT_EQ(trace_a.front(), "retain 0");  // a restart clears what a previous run left active
  InventoryCache cache_c;
  RecordingAlarmSink sink_c;
  EXPECT_NE(run_steps(8, 200, cache_c, sink_c), trace_a);

  std::size_t raises = 0;
  std::size_t clears = 0;
  std::set<std::string> definitions;
  for (const auto& e : sink_a.events()) {
    if (e.type == Type::clear) {
      ++clears;
      EXPECT_EQ(e.source, "simulator/sim");
    }
    if (e.type != Type::raise) continue;
    ++raises;
    EXPECT_EQ(e.report.source, "simulator/sim");
    EXPECT_TRUE(cache_a.get(Kind::resource, e.report.resource_id)) << e.report.resource_id;
    EXPECT_NE(e.report.severity, Severity::cleared);
    definitions.insert(e.report.definition);
  }
  EXPECT_GT(raises, 50u);
  EXPECT_GT(clears, 50u);
  EXPECT_GT(definitions.size(), 3u);
  for (const auto& d : definitions) {
    bool defined = false;
    cache_a.visit(Kind::alarm_dictionary,
                  [&](const InventoryObject& o) { defined |= o.json.find("\"" + d + "\"") != std::string::npos; });
    EXPECT_TRUE(defined) << d;
  }
}

TEST(SimulatorAlarms, OffWithoutASinkOrRate) {
  InventoryCache cache;
  SimulatorAdapter adapter(make_adapter_context("sim", &cache), small_simulation(1));
  adapter.start();
  EXPECT_FALSE(adapter.alarm_step());
  adapter.stop();
}

TEST(SimulatorAlarms, ThreadRaisesAtTheConfiguredRate) {
  InventoryCache cache;
  RecordingAlarmSink sink;
  AdapterContext ctx = make_adapter_context("sim", &cache);
  ctx.alarms = &sink;
  SimulatorOptions o = small_simulation(3);
  o.alarm_rate_per_minute = 6000;  // one every 10 ms
  SimulatorAdapter adapter(ctx, o);
  adapter.start();
  EXPECT_TRUE(test::eventually([&] { return sink.events().size() > 5; }, std::chrono::seconds(5)));
  adapter.stop();
}

TEST(SimulatorAlarms, RateIsValidated) {
  EXPECT_EQ(SimulatorOptions::parse(json::object()).alarm_rate_per_minute, 0);
  EXPECT_EQ(SimulatorOptions::parse(json{{"alarm_rate_per_minute", 30}}).alarm_rate_per_minute, 30);
  EXPECT_THROW((void)SimulatorOptions::parse(json{{"alarm_rate_per_minute", -1}}), ConfigError);
  EXPECT_THROW((void)SimulatorOptions::parse(json{{"alarm_rate_per_minute", 60001}}), ConfigError);
  EXPECT_THROW((void)SimulatorOptions::parse(json{{"alarm_rate_per_minute", "often"}}), ConfigError);
}

}  // namespace
}  // namespace o2gw::ims
