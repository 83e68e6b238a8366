#pragma once
// Certificates for the server's own names from an ACME CA (RFC 8555: Let's
// Encrypt, or pebble in the tests), proved with http-01 challenges whose
// answers ChallengeAnswers holds for the app's challenge listener. The
// account key and the certificate with its key live in one directory
// (DATA_DIR/acme). Blocking: run it on a thread of its own.
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::acme {

struct AcmeConfig {
  std::string directory_url;             // e.g. https://acme-v02.api.letsencrypt.org/directory
  std::vector<std::string> domains;      // the names the certificate is for; the first is its subject
  std::string contact_email;             // given to the CA for expiry notices; may be empty
  std::filesystem::path ca_file;         // CAs trusted for the ACME server besides the system's
  std::filesystem::path dir;             // account.key, key.pem, cert.pem
  std::chrono::seconds timeout{120};     // for one issuance, polling included
};

// The http-01 key authorizations being asked for, by token (RFC 8555 §8.3):
// GET /.well-known/acme-challenge/TOKEN answers with it.
class ChallengeAnswers {
 public:
  void put(const std::string& token, const std::string& key_authorization);
  void remove(const std::string& token);
  std::optional<std::string> find(std::string_view token) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> answers_;
};

struct CertificateFiles {
  std::filesystem::path cert;  // the certificate, then its chain (PEM)
  std::filesystem::path key;
};

// Where the certificate is kept in `dir`, whether or not it exists yet.
CertificateFiles certificate_files(const std::filesystem::path& dir);

// When the certificate in `cert` stops being valid; nullopt when there is
// none or it cannot be read.
std::optional<std::chrono::system_clock::time_point> certificate_expiry(const std::filesystem::path& cert);

// Obtains a certificate for config.domains (a new key each time) and writes
// it, durably, to certificate_files(config.dir). Throws std::runtime_error
// saying which step failed and what the CA answered.
CertificateFiles obtain_certificate(const AcmeConfig& config, ChallengeAnswers& answers);

}  // namespace umstore::acme
