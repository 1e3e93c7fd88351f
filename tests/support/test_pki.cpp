#include "support/test_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace o2gw::test {

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

KeyPtr new_key() {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) return;
  check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                   -1, -1, 0) == 1,
        "X509_NAME_add_entry_by_txt");
}

// issuer == nullptr: self-signed (a CA).
CertPtr make_cert(EVP_PKEY* key, long serial, const std::string& cn, const std::string& org, X509* issuer,
                  EVP_PKEY* issuer_key, bool ca, bool server, bool expired, const std::vector<std::string>& sans) {
  CertPtr cert(X509_new(), X509_free);
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  constexpr long kDay = 24 * 3600;
  if (expired) {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -2 * kDay);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), -kDay);
  } else {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2 * kDay);
  }
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  add_name_entry(name, "O", org);
  add_name_entry(name, "CN", cn);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (ca) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), signer, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
    std::string joined;
    for (const auto& san : sans) joined += (joined.empty() ? "" : ",") + san;
    if (!joined.empty()) add_extension(cert.get(), signer, NID_subject_alt_name, joined);
  }
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

std::string cert_pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string subject_rfc2253(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

struct TestPki::Authority {
  KeyPtr key{nullptr, EVP_PKEY_free};
  CertPtr cert{nullptr, X509_free};
};

void replace_file(const std::filesystem::path& path, const std::string& content) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

TestPki::TestPki() {
  std::string templ = "/tmp/o2gw-pki-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = templ;
  auto make_ca = [this](const std::string& cn, const std::filesystem::path& file) {
    auto authority = std::make_unique<Authority>();
    authority->key = new_key();
    authority->cert =
        make_cert(authority->key.get(), next_serial_++, cn, "o2gw tests", nullptr, nullptr, true, false, false, {});
    replace_file(file, cert_pem(authority->cert.get()));
    return authority;
  };
  ca_file_ = dir_ / "ca.crt";
  other_ca_file_ = dir_ / "other-ca.crt";
  ca_ = make_ca("o2gw Test CA", ca_file_);
  other_ca_ = make_ca("Untrusted Test CA", other_ca_file_);
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

IssuedCert TestPki::issue(const std::string& stem, const CertOptions& options) {
  const Authority& issuer = options.issuer == Issuer::ca ? *ca_ : *other_ca_;
  KeyPtr key = new_key();
  IssuedCert out;
  out.serial = next_serial_++;
  CertPtr cert = make_cert(key.get(), out.serial, options.common_name, options.organization, issuer.cert.get(),
                           issuer.key.get(), false, options.server, options.expired, options.sans);
  out.cert_pem = cert_pem(cert.get());
  out.key_pem = key_pem(key.get());
  out.subject = subject_rfc2253(cert.get());
  out.cert_file = dir_ / (stem + ".crt");
  out.key_file = dir_ / (stem + ".key");
  replace_file(out.cert_file, out.cert_pem);
  replace_file(out.key_file, out.key_pem);
  return out;
}

IssuedCert TestPki::server_cert(const std::string& stem) {
  CertOptions options;
  options.common_name = "localhost";
  options.organization = "o2gw tests";
  options.sans = {"DNS:localhost", "IP:127.0.0.1"};
  options.server = true;
  return issue(stem, options);
}

IssuedCert TestPki::client_cert(const std::string& stem, const std::string& common_name, Issuer issuer, bool expired) {
  CertOptions options;
  options.common_name = common_name;
  options.organization = "Operator";
  options.sans = {"DNS:" + common_name + ".example.net", "URI:spiffe://o2gw.test/" + common_name};
  options.issuer = issuer;
  options.expired = expired;
  return issue(stem, options);
}

}  // namespace o2gw::test
