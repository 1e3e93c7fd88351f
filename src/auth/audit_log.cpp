// The audit log: callers enqueue records (never I/O on the request path); one
// writer thread serialises a batch and appends it with a single write().
#include "o2gw/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "o2gw/metrics.hpp"

namespace o2gw {

namespace {

// "2026-11-27T09:49:49.123Z"
std::string rfc3339_utc_ms(std::chrono::system_clock::time_point t) {
  const auto ms_since_epoch = std::chrono::floor<std::chrono::milliseconds>(t).time_since_epoch().count();
  auto seconds = static_cast<std::time_t>(ms_since_epoch / 1000);
  auto ms = static_cast<int>(ms_since_epoch % 1000);
  if (ms < 0) {  // before 1970: keep the millisecond part positive
    ms += 1000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[80];  // room for any int fields, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

// Writes all of `data`, retrying short writes and EINTR. Returns errno or 0.
int write_all(int fd, const std::string& data) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return 0;
}

constexpr auto kWarnInterval = std::chrono::seconds(10);

}  // namespace

std::string audit_json(const AuditRecord& r) {
  // Insertion order keeps the lines readable: when, who, what, outcome.
  nlohmann::ordered_json j;
  const auto optional = [&j](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  j["time"] = rfc3339_utc_ms(r.time);
  optional("requestId", r.request_id);
  optional("subject", r.subject);
  optional("authMethod", r.auth_method);
  optional("roles", r.roles);
  optional("tenant", r.tenant);
  optional("peer", r.peer);
  j["method"] = r.method;
  j["path"] = r.path;
  optional("route", r.route);
  j["status"] = r.status;
  j["outcome"] = r.outcome;
  optional("reason", r.reason);
  // JSON escaping keeps control characters (a newline in a path) inside the
  // string, so a record cannot forge another line; bytes that are not UTF-8
  // become U+FFFD instead of an exception.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

struct AuditLog::Impl {
  std::string path;
  int fd = -1;
  bool owns_fd = false;
  std::size_t queue_limit = 1;
  Metrics* metrics = nullptr;

  std::mutex mutex;
  std::condition_variable work_ready;  // writer waits: records or stop
  std::condition_variable written;     // flush() waits: written_seq advanced
  std::deque<AuditRecord> queue;
  std::uint64_t accepted_seq = 0;  // records queued so far
  std::uint64_t written_seq = 0;   // records the writer has finished with
  bool stopping = false;
  std::atomic<std::size_t> dropped{0};
  std::chrono::steady_clock::time_point last_drop_warning{};
  bool warned_once = false;
  std::chrono::steady_clock::time_point last_write_error_log{};
  bool write_error_logged = false;
  std::thread writer;

  void run() {
    std::vector<AuditRecord> batch;
    std::string buffer;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        work_ready.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
        queue.clear();
      }
      buffer.clear();
      for (const AuditRecord& r : batch) {
        buffer += audit_json(r);
        buffer += '\n';
      }
      if (const int err = write_all(fd, buffer); err != 0) report_write_error(err, batch.size());
      {
        std::lock_guard lock(mutex);
        written_seq += batch.size();
      }
      written.notify_all();
      batch.clear();
    }
  }

  void report_write_error(int err, std::size_t lost) {
    const auto now = std::chrono::steady_clock::now();
    if (write_error_logged && now - last_write_error_log < kWarnInterval) return;
    write_error_logged = true;
    last_write_error_log = now;
    spdlog::error("audit log {}: write failed ({}); {} record(s) lost", path, std::strerror(err), lost);
  }
};

AuditLog::AuditLog(const AuditConfig& cfg, Metrics* metrics) : impl_(std::make_unique<Impl>()) {
  impl_->path = cfg.path.string();
  impl_->queue_limit = std::max<std::size_t>(cfg.queue_limit, 1);
  impl_->metrics = metrics;
  if (impl_->path.empty()) throw std::runtime_error("audit log: no path configured");
  if (impl_->path == "-") {
    impl_->fd = STDOUT_FILENO;
  } else {
    // Append-only, private to the gateway's user; the parent must already exist.
    impl_->fd = ::open(impl_->path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (impl_->fd < 0) {
      throw std::runtime_error("audit log " + impl_->path + ": cannot open: " + std::strerror(errno));
    }
    impl_->owns_fd = true;
  }
  impl_->writer = std::thread([impl = impl_.get()] { impl->run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_one();
  if (impl_->writer.joinable()) impl_->writer.join();
  if (impl_->owns_fd) ::close(impl_->fd);
}

void AuditLog::record(AuditRecord r) {
  Impl& s = *impl_;
  bool accepted = false;
  bool warn = false;
  {
    std::lock_guard lock(s.mutex);
    if (s.queue.size() < s.queue_limit) {
      s.queue.push_back(std::move(r));
      ++s.accepted_seq;
      accepted = true;
    } else {
      s.dropped.fetch_add(1, std::memory_order_relaxed);
      const auto now = std::chrono::steady_clock::now();
      if (!s.warned_once || now - s.last_drop_warning >= kWarnInterval) {
        s.warned_once = true;
        s.last_drop_warning = now;
        warn = true;
      }
    }
  }
  if (accepted) {
    s.work_ready.notify_one();
    return;
  }
  if (s.metrics != nullptr) s.metrics->count_audit_dropped();
  // At most one warning per interval: a flood of drops must not become a flood of logs.
  if (warn) {
    spdlog::warn("audit log {}: queue full ({} records), dropping records ({} dropped so far)", s.path,
                 s.queue_limit, s.dropped.load(std::memory_order_relaxed));
  }
}

void AuditLog::flush() {
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t target = impl_->accepted_seq;
  impl_->written.wait(lock, [&] { return impl_->written_seq >= target; });
}

std::size_t AuditLog::dropped() const { return impl_->dropped.load(std::memory_order_relaxed); }

}  // namespace o2gw
