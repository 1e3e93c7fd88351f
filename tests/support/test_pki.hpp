// A throw-away PKI for TLS tests, made with the OpenSSL API in a temporary
// directory (removed on destruction): a trusted CA, an untrusted "other" CA,
// and certificates they issue (P-256 keys, so it is fast).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace o2gw::test {

struct IssuedCert {
  std::filesystem::path cert_file;  // PEM certificate
  std::filesystem::path key_file;   // PEM private key (unencrypted)
  std::string cert_pem;
  std::string key_pem;
  std::string subject;  // RFC 2253, as the server reports it
  long serial = 0;
};

class TestPki {
 public:
  enum class Issuer { ca, other_ca };
  struct CertOptions {
    std::string common_name;
    std::string organization;
    std::vector<std::string> sans;  // OpenSSL syntax: "DNS:localhost", "IP:127.0.0.1", "URI:spiffe://x"
    Issuer issuer = Issuer::ca;
    bool server = false;   // serverAuth, else clientAuth
    bool expired = false;  // valid from two days ago until yesterday
  };

  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] const std::filesystem::path& ca_file() const { return ca_file_; }
  [[nodiscard]] const std::filesystem::path& other_ca_file() const { return other_ca_file_; }

  // Issues a certificate and writes <stem>.crt and <stem>.key in dir().
  IssuedCert issue(const std::string& stem, const CertOptions& options);
  // CN=localhost, SANs DNS:localhost and IP:127.0.0.1, from the trusted CA.
  IssuedCert server_cert(const std::string& stem = "server");
  IssuedCert client_cert(const std::string& stem, const std::string& common_name, Issuer issuer = Issuer::ca,
                         bool expired = false);

 private:
  struct Authority;
  std::filesystem::path dir_;
  std::filesystem::path ca_file_;
  std::filesystem::path other_ca_file_;
  std::unique_ptr<Authority> ca_;
  std::unique_ptr<Authority> other_ca_;
  long next_serial_ = 1000;
};

// Writes `content` to `path` through a rename (a reader never sees half a file).
void replace_file(const std::filesystem::path& path, const std::string& content);

}  // namespace o2gw::test
