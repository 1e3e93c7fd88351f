#include "support/gateway_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "support/http_client.hpp"

extern char** environ;

namespace o2gw::test {

namespace {

using Clock = std::chrono::steady_clock;

// What exec needs, prepared before fork: after fork only async-signal-safe calls are allowed.
struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  std::string out_path;
  std::string err_path;

  void finish() {
    for (auto& s : argv_storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

EnvList merged_environment(const EnvList& extra) {
  EnvList env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 5) == "O2GW_") continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  for (const auto& [k, v] : extra) {
    std::erase_if(env, [&](const auto& kv) { return kv.first == k; });
    env.emplace_back(k, v);
  }
  return env;
}

pid_t spawn(ExecPlan& plan) {
  plan.finish();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The gateway must not outlive the test runner, even when the runner is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = ::open(plan.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = ::open(plan.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // Reset what the test runner may have changed.
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGPIPE, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir(plan.cwd.c_str()) != 0) ::_exit(126);
    ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
    ::_exit(127);
  }
  return pid;
}

std::optional<int> decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

// Waits for pid to exit; nothing when it is still running at the deadline.
std::optional<int> wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (auto code = decode_status(status)) return code;
    } else if (r < 0 && errno != EINTR) {
      return -1;  // not our child any more: treat as gone
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

std::filesystem::path source_dir() {
  return O2GW_SOURCE_DIR;
}
std::filesystem::path gateway_binary() {
  return O2GW_BINARY;
}

TempDir::TempDir() {
  std::string templ = "/tmp/o2gw-it-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(std::string_view name, std::string_view content) const {
  auto p = path_ / std::string(name);
  write_file_atomically(p, content);
  return p;
}

std::string read_file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  auto tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

GatewayProcess::GatewayProcess(GatewayOptions options) : options_(std::move(options)) {
  log_path_ = dir_.path() / "o2gw.stderr.log";
  access_path_ = dir_.path() / "o2gw.stdout.log";
  start();
}

void GatewayProcess::start() {
  ExecPlan plan;
  plan.argv_storage = {
      gateway_binary().string(),      "--listen", "127.0.0.1:0", "--log-level", options_.log_level, "--data-dir",
      options_.data_dir.value_or(dir_.path() / "data").string()};
  if (options_.config_yaml) {
    auto cfg = dir_.write("config.yaml", *options_.config_yaml);
    plan.argv_storage.insert(plan.argv_storage.end(), {"--config", cfg.string()});
  }
  if (options_.inventory)
    plan.argv_storage.insert(plan.argv_storage.end(), {"--inventory", options_.inventory->string()});
  plan.argv_storage.insert(plan.argv_storage.end(), options_.extra_args.begin(), options_.extra_args.end());
  for (auto& [k, v] : merged_environment(options_.env)) plan.env_storage.push_back(k + "=" + v);
  plan.cwd = source_dir().string();
  plan.out_path = access_path_.string();
  plan.err_path = log_path_.string();
  pid_ = spawn(plan);

  auto fail = [this](const std::string& why) {
    kill();
    throw std::runtime_error("o2gw did not start: " + why + "\n--- o2gw log ---\n" + tail(log(), 6000));
  };

  static const std::regex kListening(R"(listening on 127\.0\.0\.1:(\d+))");
  auto deadline = Clock::now() + options_.start_timeout;
  while (port_ == 0) {
    std::smatch m;
    std::string text = log();
    if (std::regex_search(text, m, kListening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
      break;
    }
    if (!running()) fail("exited with code " + std::to_string(exit_code_.value_or(-1)));
    if (Clock::now() >= deadline) fail("no 'listening on' line within the start timeout");
    std::this_thread::sleep_for(5ms);
  }
  if (options_.ready_on_ops_port && ops_port() == 0) fail("no 'ops listener on' line within the start timeout");
  if (options_.wait_ready) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!wait_ready(std::max(left, 100ms))) fail("GET /readyz did not answer 200 within the start timeout");
  }
}

GatewayProcess::~GatewayProcess() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- o2gw (pid " << pid_ << ", port " << port_ << ") log ---\n"
              << tail(log(), 8000) << "--- end ---\n";
  }
  kill();
}

std::uint16_t GatewayProcess::ops_port() {
  static const std::regex kOpsListening(R"(ops listener on \S+:(\d+))");
  if (ops_port_ != 0) return ops_port_;
  eventually(
      [&] {
        std::smatch m;
        std::string text = log();
        if (std::regex_search(text, m, kOpsListening)) ops_port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        return ops_port_ != 0 || !running();
      },
      options_.start_timeout, 5ms);
  return ops_port_;
}

bool GatewayProcess::wait_ready(std::chrono::milliseconds timeout) {
  std::uint16_t probe_port = options_.ready_on_ops_port ? ops_port() : port_;
  return eventually(
      [&] {
        if (!running()) return false;
        try {
          HttpConnection conn(probe_port, 1000ms);
          return conn.get("/readyz", {{"Connection", "close"}}).status == 200;
        } catch (const HttpClientError&) {
          return false;
        }
      },
      timeout, 20ms);
}

void GatewayProcess::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

void GatewayProcess::terminate() {
  signal(SIGTERM);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path out_path,
                           std::filesystem::path err_path, const EnvList& env)
    : out_path_(std::move(out_path)), err_path_(std::move(err_path)) {
  ExecPlan plan;
  plan.argv_storage = std::move(argv);
  for (auto& [k, v] : merged_environment(env)) plan.env_storage.push_back(k + "=" + v);
  plan.cwd = source_dir().string();
  plan.out_path = out_path_.string();
  plan.err_path = err_path_.string();
  pid_ = spawn(plan);
}

ChildProcess::~ChildProcess() { kill(); }

void ChildProcess::kill() {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(pid_, SIGKILL);
  exit_code_ = wait_pid(pid_, 10s).value_or(-1);
}

bool ChildProcess::running() {
  if (pid_ <= 0 || exit_code_) return false;
  exit_code_ = wait_pid(pid_, 0ms);
  return !exit_code_.has_value();
}

std::string ChildProcess::out() const {
  try {
    return read_file_text(out_path_);
  } catch (const std::exception&) {
    return {};
  }
}

std::string ChildProcess::err() const {
  try {
    return read_file_text(err_path_);
  } catch (const std::exception&) {
    return {};
  }
}

void GatewayProcess::kill() {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(pid_, SIGKILL);
  exit_code_ = wait_pid(pid_, 10s).value_or(-1);
}

std::optional<int> GatewayProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  if (pid_ <= 0) return std::nullopt;
  exit_code_ = wait_pid(pid_, timeout);
  return exit_code_;
}

bool GatewayProcess::running() {
  if (pid_ <= 0) return false;
  if (exit_code_) return false;
  exit_code_ = wait_pid(pid_, 0ms);
  return !exit_code_.has_value();
}

std::string GatewayProcess::log() const {
  try {
    return read_file_text(log_path_);
  } catch (const std::exception&) {
    return {};
  }
}

std::string GatewayProcess::access_log() const {
  try {
    return read_file_text(access_path_);
  } catch (const std::exception&) {
    return {};
  }
}

bool GatewayProcess::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) {
  return eventually([&] { return log().find(needle) != std::string::npos; }, timeout, 10ms);
}

CommandResult run_gateway_command(const std::vector<std::string>& args, const EnvList& env,
                                  std::chrono::milliseconds timeout) {
  TempDir dir;
  ExecPlan plan;
  plan.argv_storage.push_back(gateway_binary().string());
  plan.argv_storage.insert(plan.argv_storage.end(), args.begin(), args.end());
  for (auto& [k, v] : merged_environment(env)) plan.env_storage.push_back(k + "=" + v);
  plan.cwd = source_dir().string();
  plan.out_path = (dir.path() / "stdout").string();
  plan.err_path = (dir.path() / "stderr").string();
  pid_t pid = spawn(plan);
  CommandResult result;
  auto code = wait_pid(pid, timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    wait_pid(pid, 10s);
  }
  result.exit_code = code.value_or(-1);
  result.out = read_file_text(plan.out_path);
  result.err = read_file_text(plan.err_path);
  return result;
}

}  // namespace o2gw::test
