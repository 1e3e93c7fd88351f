// The server's TLS context: built from the certificate files, swapped for a new
// one when they change (certificate rotation without a restart). Private to
// src/server: only the HTTP server includes it.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "o2gw/config.hpp"
#include "o2gw/http.hpp"

struct ssl_st;

namespace o2gw::tls {

using SslContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// Builds a server context from the files named in `cfg`. Null, with `error`
// set (names files, never their content), when a file is missing or broken.
SslContextPtr build_server_context(const TlsServerConfig& cfg, std::string& error);

// Fills client_subject and client_sans from the peer certificate, only when
// one was presented and verified (the handshake succeeded).
void fill_client_identity(ssl_st* ssl, http::ConnectionInfo& info);

// The reason of the last OpenSSL error on this thread (and clears the queue).
std::string last_openssl_error();

// Holds the newest context; new connections take it, old ones keep theirs.
class ReloadingTlsContext {
 public:
  explicit ReloadingTlsContext(TlsServerConfig cfg) : cfg_(std::move(cfg)) {}

  // Loads the files the first time; false with `error` when they are unusable.
  bool load(std::string& error);
  [[nodiscard]] SslContextPtr current() const;

  enum class Reload { unchanged, reloaded, failed };
  // Rebuilds when any file's identity (inode, size, mtime) changed. A failed
  // rebuild keeps the old context; the same broken files are not retried.
  Reload reload_if_changed(std::string& error);

 private:
  struct FileStamp {
    unsigned long long device = 0, inode = 0, size = 0;
    long long mtime_ns = 0;
    bool exists = false;
    bool operator==(const FileStamp&) const = default;
  };
  [[nodiscard]] std::vector<FileStamp> stamp_files() const;

  TlsServerConfig cfg_;
  mutable std::mutex mu_;
  SslContextPtr current_;
  std::vector<FileStamp> stamps_;  // touched only by load and the reload timer
};

}  // namespace o2gw::tls
