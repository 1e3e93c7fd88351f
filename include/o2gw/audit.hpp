// The audit log: one JSON object per line, appended, for every mutating request
// and every authentication or authorization failure. Who, what, when, outcome,
// request id. Never a credential, a body or a query string.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "o2gw/config.hpp"

namespace o2gw {

class Metrics;

struct AuditRecord {
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  std::string request_id;
  std::string subject;      // empty: anonymous
  std::string auth_method;  // "jwt", "api_token", "client_certificate", "trusted_proxy", "" (none)
  std::string roles;        // "reader,subscriber"
  std::string tenant;
  std::string peer;         // remote address
  std::string method;       // HTTP method
  std::string path;         // decoded path, no query
  std::string route;        // matched template, or "unmatched"
  int status = 0;
  // "allowed" (a mutating request that ran; status says how it ended),
  // "unauthenticated" (401/400 from authentication), "forbidden" (403),
  // "rate_limited" (429).
  std::string outcome;
  std::string reason;       // short label for failures ("expired", "role", ...)
};

class AuditLog {
 public:
  // Opens (creating, mode 0600) and appends to cfg.path ("-": stdout). Throws
  // std::runtime_error when the file cannot be opened. Records are written by a
  // background thread; record() never blocks on I/O.
  AuditLog(const AuditConfig& cfg, Metrics* metrics = nullptr);
  ~AuditLog();  // writes what is queued, then closes
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void record(AuditRecord r);
  // Blocks until everything recorded so far is written (tests, shutdown).
  void flush();
  [[nodiscard]] std::size_t dropped() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One record as its JSON line (without the newline); public for tests.
std::string audit_json(const AuditRecord& r);

}  // namespace o2gw
