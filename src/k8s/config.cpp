// Cluster configuration: kubeconfig files, the in-cluster service account, and
// the bearer token source that follows a rotating token file. Error messages name
// files, contexts and fields, never credential material.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "o2gw/k8s.hpp"

namespace o2gw::k8s {

namespace fs = std::filesystem;

namespace {

// Standard base64 (RFC 4648 section 4), whitespace ignored, padding optional.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (padding > 2 || bits >= 6) return std::nullopt;
  return out;
}

std::string trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(ss).str();
}

// Reads one kubeconfig document; every error names `where_` and the entry.
class KubeconfigReader {
 public:
  KubeconfigReader(std::string_view source, fs::path base_dir) : source_(source), base_dir_(std::move(base_dir)) {}

  ClusterConfig read(std::string_view yaml, const std::string& wanted_context) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      // e.mark, not e.what(): the message may quote the document (and so a token).
      fail("not valid YAML (line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
           ")");
    }
    if (!root.IsMap()) fail("not a kubeconfig (the document is not a mapping)");
    try {
      return read_config(root, wanted_context);
    } catch (const YAML::Exception& e) {
      fail("unexpected structure (line " + std::to_string(e.mark.line + 1) + ")");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw ConfigError(std::string(source_) + ": " + what); }

  static YAML::Node child(const YAML::Node& n, const char* key) {
    if (!n || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return n[key];
  }

  std::optional<std::string> text(const YAML::Node& n, const char* key, const std::string& where) const {
    YAML::Node c = child(n, key);
    if (!c || c.IsNull()) return std::nullopt;
    if (!c.IsScalar()) fail(where + ": " + key + " must be a string");
    return c.Scalar();
  }

  bool flag(const YAML::Node& n, const char* key, const std::string& where) const {
    YAML::Node c = child(n, key);
    if (!c || c.IsNull()) return false;
    bool value = false;
    if (!c.IsScalar() || !YAML::convert<bool>::decode(c, value)) fail(where + ": " + key + " must be true or false");
    return value;
  }

  // The `body_key` mapping of the entry called `name` in the list `list_key`.
  YAML::Node named(const YAML::Node& root, const char* list_key, const char* body_key, const std::string& name,
                   const char* what) const {
    YAML::Node list = child(root, list_key);
    if (list && list.IsSequence()) {
      for (const auto& entry : list) {
        YAML::Node n = child(entry, "name");
        if (n && n.IsScalar() && n.Scalar() == name) {
          YAML::Node body = child(entry, body_key);
          if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
          if (!body.IsMap()) fail(std::string(what) + " \"" + name + "\": " + body_key + " must be a mapping");
          return body;
        }
      }
    }
    fail(std::string(what) + " \"" + name + "\" not found");
  }

  fs::path resolve(const std::string& p) const {
    fs::path path(p);
    return path.is_relative() ? base_dir_ / path : path;
  }

  fs::path existing_file(const std::string& p, const std::string& where, const char* key) const {
    fs::path path = resolve(p);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) fail(where + ": " + key + " file " + path.string() + " does not exist");
    return path;
  }

  std::string decoded(const std::string& data, const std::string& where, const char* key) const {
    auto out = base64_decode(data);
    if (!out || out->empty()) fail(where + ": " + key + " is not valid base64");
    return std::move(*out);
  }

  ClusterConfig read_config(const YAML::Node& root, const std::string& wanted_context) {
    ClusterConfig out;
    std::string context_name = wanted_context;
    if (context_name.empty()) context_name = text(root, "current-context", "kubeconfig").value_or("");
    if (context_name.empty()) fail("no context given and current-context is not set");
    out.context = context_name;

    std::string ctx_where = "context \"" + context_name + "\"";
    YAML::Node context = named(root, "contexts", "context", context_name, "context");
    std::string cluster_name = text(context, "cluster", ctx_where).value_or("");
    if (cluster_name.empty()) fail(ctx_where + " names no cluster");
    out.namespace_ = text(context, "namespace", ctx_where).value_or("");
    if (out.namespace_.empty()) out.namespace_ = "default";

    read_cluster(named(root, "clusters", "cluster", cluster_name, "cluster"), "cluster \"" + cluster_name + "\"", out);
    std::string user_name = text(context, "user", ctx_where).value_or("");
    if (!user_name.empty())
      read_user(named(root, "users", "user", user_name, "user"), "user \"" + user_name + "\"", out);
    return out;
  }

  void read_cluster(const YAML::Node& cluster, const std::string& where, ClusterConfig& out) {
    std::string server = text(cluster, "server", where).value_or("");
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
      fail(where + ": server must be an https:// (or http://) URL");
    }
    while (!server.empty() && server.back() == '/') server.pop_back();
    out.server = server;
    if (child(cluster, "proxy-url")) fail(where + ": proxy-url is not supported");

    auto ca_data = text(cluster, "certificate-authority-data", where);
    auto ca_file = text(cluster, "certificate-authority", where);
    bool insecure = flag(cluster, "insecure-skip-tls-verify", where);
    if (insecure && ((ca_data && !ca_data->empty()) || (ca_file && !ca_file->empty()))) {
      // As client-go: trusting a CA and skipping verification contradict each other.
      fail(where + ": insecure-skip-tls-verify cannot be combined with a certificate authority");
    }
    out.tls.verify = !insecure;
    // The data wins over the file when both are given (client-go does the same).
    if (ca_data && !ca_data->empty()) {
      out.tls.ca_pem = decoded(*ca_data, where, "certificate-authority-data");
    } else if (ca_file && !ca_file->empty()) {
      out.tls.ca_file = existing_file(*ca_file, where, "certificate-authority");
    }
  }

  void read_user(const YAML::Node& user, const std::string& where, ClusterConfig& out) {
    if (child(user, "exec"))
      fail(where + ": exec credential plugins are not supported (use a token or a client certificate)");
    if (child(user, "auth-provider"))
      fail(where + ": auth-provider plugins are not supported (use a token or a client certificate)");
    if (child(user, "username") || child(user, "password")) fail(where + ": basic authentication is not supported");
    if (child(user, "as") || child(user, "as-groups") || child(user, "as-uid") || child(user, "as-user-extra")) {
      fail(where + ": impersonation is not supported");
    }

    auto cert_data = text(user, "client-certificate-data", where);
    auto cert_file = text(user, "client-certificate", where);
    auto key_data = text(user, "client-key-data", where);
    auto key_file = text(user, "client-key", where);
    if (cert_data && !cert_data->empty()) {
      out.tls.client_cert_pem = decoded(*cert_data, where, "client-certificate-data");
    } else if (cert_file && !cert_file->empty()) {
      out.tls.client_cert_file = existing_file(*cert_file, where, "client-certificate");
    }
    if (key_data && !key_data->empty()) {
      out.tls.client_key_pem = decoded(*key_data, where, "client-key-data");
    } else if (key_file && !key_file->empty()) {
      out.tls.client_key_file = existing_file(*key_file, where, "client-key");
    }
    bool has_cert = !out.tls.client_cert_pem.empty() || !out.tls.client_cert_file.empty();
    bool has_key = !out.tls.client_key_pem.empty() || !out.tls.client_key_file.empty();
    if (has_cert != has_key) fail(where + ": a client certificate needs both client-certificate and client-key");

    out.bearer_token = trim(text(user, "token", where).value_or(""));
    if (auto token_file = text(user, "tokenFile", where); token_file && !token_file->empty()) {
      out.token_file = existing_file(*token_file, where, "tokenFile");
    }
  }

  std::string_view source_;
  fs::path base_dir_;
};

}  // namespace

ClusterConfig parse_kubeconfig(std::string_view yaml, const fs::path& base_dir, const std::string& context,
                               std::string_view source) {
  return KubeconfigReader(source, base_dir).read(yaml, context);
}

ClusterConfig load_kubeconfig(const fs::path& file, const std::string& context) {
  auto text = read_file(file);
  std::error_code ec;
  if (!text || fs::is_directory(file, ec)) throw ConfigError("kubeconfig " + file.string() + ": cannot be read");
  fs::path dir = fs::absolute(file, ec).parent_path();
  return parse_kubeconfig(*text, dir, context, "kubeconfig " + file.string());
}

ClusterConfig in_cluster_config(const fs::path& sa_dir) {
  // Read once at start-up, before threads that could change the environment.
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");  // NOLINT(concurrency-mt-unsafe)
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");  // NOLINT(concurrency-mt-unsafe)
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  std::string h(host);
  for (char c : std::string_view(port)) {
    if (c < '0' || c > '9') throw ConfigError("in-cluster: KUBERNETES_SERVICE_PORT is not a port number");
  }
  ClusterConfig out;
  // An IPv6 service address needs brackets in a URL.
  out.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;

  std::error_code ec;
  fs::path token = sa_dir / "token";
  if (!fs::is_regular_file(token, ec) || !read_file(token)) {
    throw ConfigError("in-cluster: service account token " + token.string() + " cannot be read");
  }
  out.token_file = token;
  fs::path ca = sa_dir / "ca.crt";
  if (!fs::is_regular_file(ca, ec)) throw ConfigError("in-cluster: CA certificate " + ca.string() + " not found");
  // A file, not its content: the HTTP client reloads it when it changes.
  out.tls.ca_file = ca;
  out.namespace_ = trim(read_file(sa_dir / "namespace").value_or(""));
  if (out.namespace_.empty()) out.namespace_ = "default";
  return out;
}

// ---------------------------------------------------------------------------

struct TokenSource::State {
  std::mutex mu;
  std::string static_token;
  fs::path file;
  std::string file_token;  // last good read
  std::string stamp;       // modification time and size of that read
  bool force = false;
};

TokenSource::TokenSource(const ClusterConfig& config) : state_(std::make_shared<State>()) {
  state_->static_token = config.bearer_token;
  state_->file = config.token_file;
}

std::string TokenSource::token() {
  std::lock_guard lock(state_->mu);
  auto& s = *state_;
  if (s.file.empty()) return s.static_token;
  std::error_code ec;
  auto mtime = fs::last_write_time(s.file, ec);
  auto size = ec ? std::uintmax_t{0} : fs::file_size(s.file, ec);
  if (!ec) {
    std::string stamp = std::to_string(mtime.time_since_epoch().count()) + "/" + std::to_string(size);
    if (stamp != s.stamp || s.force || s.file_token.empty()) {
      // A failed or empty read keeps the previous token: a rotation writes a new
      // file and swaps a symlink, and a read can land in between.
      if (auto text = read_file(s.file)) {
        std::string t = trim(*text);
        if (!t.empty()) {
          s.file_token = std::move(t);
          s.stamp = std::move(stamp);
          s.force = false;
        }
      }
    }
  }
  return s.file_token.empty() ? s.static_token : s.file_token;
}

void TokenSource::invalidate() {
  std::lock_guard lock(state_->mu);
  state_->force = true;
}

}  // namespace o2gw::k8s
