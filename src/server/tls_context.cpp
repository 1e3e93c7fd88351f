#include "tls_context.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>

namespace o2gw::tls {

namespace ssl = boost::asio::ssl;

namespace {

// An encrypted key would make OpenSSL prompt on the terminal; fail instead.
int refuse_passphrase(char*, int, int, void*) {
  return 0;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string ia5_text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* s) {
  std::array<char, INET6_ADDRSTRLEN> out{};
  const unsigned char* bytes = ASN1_STRING_get0_data(s);
  int len = ASN1_STRING_length(s);
  int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
  if (family == 0 || ::inet_ntop(family, bytes, out.data(), out.size()) == nullptr) return {};
  return out.data();
}

}  // namespace

std::string last_openssl_error() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    const char* r = ERR_reason_error_string(code);
    reason = r != nullptr ? r : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return reason.empty() ? "unknown error" : reason;
}

SslContextPtr build_server_context(const TlsServerConfig& cfg, std::string& error) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  int min_version = cfg.min_version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(native, min_version);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_NO_TICKET | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  // Sessions are not resumed: TLS 1.3 tickets and the server-side cache are off.
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_default_passwd_cb(native, refuse_passphrase);
  if (SSL_CTX_set_ciphersuites(native, cfg.ciphersuites.c_str()) != 1) {
    error = "server.tls.ciphersuites: no usable TLS 1.3 suite (" + last_openssl_error() + ")";
    return nullptr;
  }
  if (min_version == TLS1_2_VERSION && SSL_CTX_set_cipher_list(native, cfg.ciphers.c_str()) != 1) {
    error = "server.tls.ciphers: no usable TLS 1.2 cipher (" + last_openssl_error() + ")";
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(native, cfg.cert_file.c_str()) != 1) {
    error = "cannot load certificate " + cfg.cert_file.string() + ": " + last_openssl_error();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, cfg.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "cannot load private key " + cfg.key_file.string() + ": " + last_openssl_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    error = "private key " + cfg.key_file.string() + " does not match certificate " + cfg.cert_file.string();
    ERR_clear_error();
    return nullptr;
  }
  if (cfg.client_auth != TlsServerConfig::ClientAuth::off) {
    if (cfg.client_ca_file.empty()) {
      error = "server.tls.client_ca_file is required when client_auth is not off";
      return nullptr;
    }
    // Only this bundle is trusted for clients, never the system store.
    if (SSL_CTX_load_verify_locations(native, cfg.client_ca_file.c_str(), nullptr) != 1) {
      error = "cannot load client CA file " + cfg.client_ca_file.string() + ": " + last_openssl_error();
      return nullptr;
    }
    // Tells clients which CAs we accept, so they pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
    int mode = SSL_VERIFY_PEER;
    if (cfg.client_auth == TlsServerConfig::ClientAuth::required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
    SSL_CTX_set_verify_depth(native, 8);
    static constexpr unsigned char kSessionContext[] = "o2gw";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  ERR_clear_error();
  return ctx;
}

void fill_client_identity(SSL* ssl, http::ConnectionInfo& info) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    info.client_subject = bio_text(bio.get());
  }
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    switch (name->type) {
      case GEN_DNS: info.client_sans.push_back("DNS:" + ia5_text(name->d.dNSName)); break;
      case GEN_URI: info.client_sans.push_back("URI:" + ia5_text(name->d.uniformResourceIdentifier)); break;
      case GEN_EMAIL: info.client_sans.push_back("email:" + ia5_text(name->d.rfc822Name)); break;
      case GEN_IPADD: {
        std::string ip = ip_text(name->d.iPAddress);
        if (!ip.empty()) info.client_sans.push_back("IP:" + ip);
        break;
      }
      default: break;  // other name forms are not used for identity
    }
  }
  GENERAL_NAMES_free(names);
}

bool ReloadingTlsContext::load(std::string& error) {
  auto stamps = stamp_files();
  auto ctx = build_server_context(cfg_, error);
  if (!ctx) return false;
  std::lock_guard lock(mu_);
  current_ = std::move(ctx);
  stamps_ = std::move(stamps);
  return true;
}

SslContextPtr ReloadingTlsContext::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

ReloadingTlsContext::Reload ReloadingTlsContext::reload_if_changed(std::string& error) {
  // Stamped before reading: a write landing during the rebuild is seen next time.
  auto stamps = stamp_files();
  if (stamps == stamps_) return Reload::unchanged;
  stamps_ = std::move(stamps);
  auto ctx = build_server_context(cfg_, error);
  if (!ctx) return Reload::failed;
  std::lock_guard lock(mu_);
  current_ = std::move(ctx);
  return Reload::reloaded;
}

std::vector<ReloadingTlsContext::FileStamp> ReloadingTlsContext::stamp_files() const {
  std::vector<FileStamp> out;
  for (const auto* path : {&cfg_.cert_file, &cfg_.key_file, &cfg_.client_ca_file}) {
    FileStamp s;
    struct stat st {};
    // stat follows symlinks: a Kubernetes Secret volume swaps its ..data link.
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      s.exists = true;
      s.device = st.st_dev;
      s.inode = st.st_ino;
      s.size = static_cast<unsigned long long>(st.st_size);
      s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace o2gw::tls
