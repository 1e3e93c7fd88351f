#include "o2gw/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "o2gw/metrics.hpp"

namespace o2gw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "o2gw-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override { fs::remove_all(dir); }

  AuditConfig config(std::size_t queue_limit = 1024) const {
    AuditConfig cfg;
    cfg.path = dir / "audit.log";
    cfg.queue_limit = queue_limit;
    return cfg;
  }

  static std::vector<std::string> lines_of(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  static std::string content_of(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir;
};

AuditRecord sample(std::string path = "/o2ims-infrastructureInventory/v1/subscriptions") {
  AuditRecord r;
  r.time = sys_days{year{2026} / 11 / 27} + hours(9) + minutes(49) + seconds(7) + milliseconds(42);
  r.request_id = "req-1";
  r.subject = "smo";
  r.auth_method = "jwt";
  r.roles = "reader,subscriber";
  r.tenant = "t1";
  r.peer = "10.0.0.1:5000";
  r.method = "POST";
  r.path = std::move(path);
  r.route = "/o2ims-infrastructureInventory/v1/subscriptions";
  r.status = 201;
  r.outcome = "allowed";
  return r;
}

TEST(AuditJson, CarriesEveryFieldOfTheRecord) {
  const auto j = nlohmann::json::parse(audit_json(sample()));
  EXPECT_EQ(j.at("time"), "2026-11-27T09:49:07.042Z");
  EXPECT_EQ(j.at("requestId"), "req-1");
  EXPECT_EQ(j.at("subject"), "smo");
  EXPECT_EQ(j.at("authMethod"), "jwt");
  EXPECT_EQ(j.at("roles"), "reader,subscriber");
  EXPECT_EQ(j.at("tenant"), "t1");
  EXPECT_EQ(j.at("peer"), "10.0.0.1:5000");
  EXPECT_EQ(j.at("method"), "POST");
  EXPECT_EQ(j.at("path"), "/o2ims-infrastructureInventory/v1/subscriptions");
  EXPECT_EQ(j.at("route"), "/o2ims-infrastructureInventory/v1/subscriptions");
  EXPECT_EQ(j.at("status"), 201);
  EXPECT_EQ(j.at("outcome"), "allowed");
  EXPECT_FALSE(j.contains("reason"));
}

TEST(AuditJson, OmitsEmptyOptionalFieldsButNeverTheCoreOnes) {
  AuditRecord r;
  r.time = sys_days{year{2026} / 1 / 2} + hours(3);
  r.outcome = "unauthenticated";
  r.reason = "expired";
  r.status = 401;
  const auto j = nlohmann::json::parse(audit_json(r));
  EXPECT_EQ(j.at("time"), "2026-01-02T03:00:00.000Z");
  EXPECT_EQ(j.at("method"), "");
  EXPECT_EQ(j.at("path"), "");
  EXPECT_EQ(j.at("status"), 401);
  EXPECT_EQ(j.at("reason"), "expired");
  for (const char* absent : {"requestId", "subject", "authMethod", "roles", "tenant", "peer", "route"}) {
    EXPECT_FALSE(j.contains(absent)) << absent;
  }
}

TEST(AuditJson, ControlCharactersCannotForgeALine) {
  const std::string evil = "/x\n{\"forged\":1}\r\n";
  const std::string line = audit_json(sample(evil));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(line).at("path"), evil);
}

TEST(AuditJson, InvalidUtf8IsReplacedNotThrown) {
  std::string line;
  ASSERT_NO_THROW(line = audit_json(sample(std::string("/bad\xff\xfe", 6))));
  EXPECT_EQ(nlohmann::json::parse(line).at("path"), "/bad\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(AuditLogTest, WritesOneJsonObjectPerLine) {
  AuditLog log(config());
  log.record(sample());
  log.record(sample("/x\n{\"forged\":1}"));
  log.flush();
  const auto lines = lines_of(dir / "audit.log");
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("outcome"), "allowed");
    EXPECT_FALSE(j.contains("forged"));
  }
  EXPECT_EQ(nlohmann::json::parse(lines[1]).at("path"), "/x\n{\"forged\":1}");
}

TEST_F(AuditLogTest, CreatesTheFilePrivate) {
  { AuditLog log(config()); }
  struct stat st {};
  ASSERT_EQ(::stat((dir / "audit.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, AppendsToAnExistingFileWithoutTruncating) {
  { std::ofstream(dir / "audit.log") << "earlier line\n"; }
  {
    AuditLog log(config());
    log.record(sample());
  }
  {
    AuditLog log(config());  // a restart appends too
    log.record(sample());
  }
  const auto lines = lines_of(dir / "audit.log");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "earlier line");
  EXPECT_EQ(nlohmann::json::parse(lines[2]).at("requestId"), "req-1");
}

TEST_F(AuditLogTest, MissingParentDirectoryIsAnErrorNamingThePath) {
  AuditConfig cfg = config();
  cfg.path = dir / "no-such-dir" / "audit.log";
  try {
    AuditLog log(cfg);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(cfg.path.string()), std::string::npos) << e.what();
  }
}

TEST_F(AuditLogTest, FlushReturnsOnlyOnceEverythingRecordedIsWritten) {
  AuditLog log(config(100000));
  for (int i = 0; i < 5000; ++i) {
    AuditRecord r = sample();
    r.request_id = "req-" + std::to_string(i);
    log.record(std::move(r));
  }
  log.flush();
  const auto lines = lines_of(dir / "audit.log");
  ASSERT_EQ(lines.size(), 5000u);
  EXPECT_EQ(nlohmann::json::parse(lines.back()).at("requestId"), "req-4999");
  EXPECT_EQ(log.dropped(), 0u);
  log.flush();  // nothing pending: returns at once
}

TEST_F(AuditLogTest, DestructorWritesWhatIsQueued) {
  {
    AuditLog log(config(100000));
    for (int i = 0; i < 3000; ++i) log.record(sample());
  }
  EXPECT_EQ(lines_of(dir / "audit.log").size(), 3000u);
}

TEST_F(AuditLogTest, ConcurrentRecordersNeverInterleaveLines) {
  {
    AuditLog log(config(100000));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 1000; ++i) {
          AuditRecord r = sample();
          r.subject = "thread-" + std::to_string(t);
          log.record(std::move(r));
        }
      });
    }
    for (auto& th : threads) th.join();
    log.flush();
    EXPECT_EQ(lines_of(dir / "audit.log").size(), 4000u);
  }
  for (const auto& line : lines_of(dir / "audit.log")) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

// A FIFO nobody reads blocks the writer thread deterministically: one record
// bigger than the pipe buffer can never be written until the test reads.
TEST_F(AuditLogTest, FullQueueDropsAndCountsRecords) {
  const fs::path fifo = dir / "audit.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  const std::string big_path(512 * 1024, 'p');  // larger than any default pipe buffer

  Metrics metrics;
  AuditConfig cfg = config(4);
  cfg.path = fifo;
  auto log = std::make_unique<AuditLog>(cfg, &metrics);
  constexpr int kRecorded = 20;
  for (int i = 0; i < kRecorded; ++i) log->record(sample(big_path));
  // At most one batch (<= 4) is stuck in write() and at most 4 more wait in the queue.
  EXPECT_GE(log->dropped(), static_cast<std::size_t>(kRecorded - 8));
  EXPECT_NE(metrics.render().find("o2gw_audit_dropped_total " + std::to_string(log->dropped())), std::string::npos);

  // Drain the pipe until the log closes it; every accepted record arrives whole.
  std::string received;
  std::thread drain([&] {
    ::fcntl(reader, F_SETFL, 0);  // blocking from here: read() returns 0 at EOF
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(reader, buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
    }
  });
  log->flush();
  const std::size_t dropped = log->dropped();
  log.reset();
  drain.join();
  ::close(reader);

  std::size_t lines = 0;
  std::istringstream in(received);
  for (std::string line; std::getline(in, line); ++lines) {
    ASSERT_EQ(nlohmann::json::parse(line).at("path"), big_path);
  }
  EXPECT_EQ(lines + dropped, static_cast<std::size_t>(kRecorded));
}

}  // namespace
}  // namespace o2gw
