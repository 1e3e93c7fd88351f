// Runs the real o2gw binary for the integration tests: fork/exec with a
// temporary config, listening on 127.0.0.1 port 0, stderr (the log) and stdout
// (the access log) captured to files. The port is learned from the
// "listening on 127.0.0.1:<port>" log line. The destructor kills the child, so
// a failing test never leaves a gateway behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace o2gw::test {

using namespace std::chrono_literals;

// The repository checkout (also the gateway's working directory) and the binary.
std::filesystem::path source_dir();
std::filesystem::path gateway_binary();

// A fresh directory under /tmp (mkdtemp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name (atomically: temp file + rename) and returns the path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

std::string read_file_text(const std::filesystem::path& path);
// Replaces the file through a rename, the way editors and ConfigMap updates do:
// a reader never sees a half-written file.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct GatewayOptions {
  // Written to <tempdir>/config.yaml and passed as --config.
  std::optional<std::string> config_yaml{};
  // Passed as --inventory.
  std::optional<std::filesystem::path> inventory{};
  // Extra command-line arguments, after the ones above.
  std::vector<std::string> extra_args{};
  // Added to the environment. Any O2GW_* variable of the test process is dropped,
  // so only these overrides reach the gateway.
  EnvList env{};
  std::string log_level = "info";
  // Passed as --data-dir; default: <tempdir>/data. Share one between two gateways to test a restart.
  std::optional<std::filesystem::path> data_dir{};
  // Wait until GET /readyz answers 200 before returning.
  bool wait_ready = true;
  // Probe /readyz on the plain ops listener (server.ops_listen) instead of the
  // API port, e.g. when the API port speaks TLS. The config must enable it.
  bool ready_on_ops_port = false;
  std::chrono::milliseconds start_timeout = 10s;
};

class GatewayProcess {
 public:
  // Starts the gateway and waits for its port (and readiness). Throws
  // std::runtime_error with the captured log when it does not come up.
  explicit GatewayProcess(GatewayOptions options = {});
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  // The ops listener's port, from the "ops listener on <addr>:<port>" log line
  // (waited for up to the start timeout); 0 when the gateway never logs it.
  [[nodiscard]] std::uint16_t ops_port();
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The temp directory holding the config, the data dir and the captured logs.
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }

  // Polls GET /readyz until 200; false on timeout.
  bool wait_ready(std::chrono::milliseconds timeout);

  void signal(int sig);
  void terminate();  // SIGTERM
  void kill();       // SIGKILL
  // The exit code (128 + signal number when killed by a signal), or nothing
  // when still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();

  // Everything the gateway wrote to stderr (its log) and stdout (the access log).
  [[nodiscard]] std::string log() const;
  [[nodiscard]] std::string access_log() const;
  // Waits until `needle` appears in the log.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout);

 private:
  void start();

  GatewayOptions options_;
  TempDir dir_;
  std::filesystem::path log_path_;
  std::filesystem::path access_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::uint16_t port_ = 0;
  std::uint16_t ops_port_ = 0;
};

// A helper program run for a test (a webhook receiver, a fake back end), with
// stdout and stderr captured to files; killed (SIGKILL) on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path out_path, std::filesystem::path err_path,
               const EnvList& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }
  void kill();
  [[nodiscard]] bool running();
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

 private:
  std::filesystem::path out_path_, err_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// Runs the binary to completion (e.g. `o2gw check-config --config f`), with a
// timeout after which it is killed (exit_code is then -1).
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult run_gateway_command(const std::vector<std::string>& args, const EnvList& env = {},
                                  std::chrono::milliseconds timeout = 10s);

// Polls `condition` until it holds or the timeout passes; returns its last value.
template <typename Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout, std::chrono::milliseconds interval = 20ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace o2gw::test
