#pragma once
// The TLS context SMTP and IMAP share, with a certificate that can be
// replaced while they run (SIGHUP): every handshake after reload() presents
// the new certificate, connections already encrypted keep theirs. The new
// files are loaded into a context of their own first, so a bad file leaves
// the served certificate as it was.
#include <asio/ssl.hpp>

#include <filesystem>
#include <memory>
#include <mutex>

namespace umstore::app {

struct TlsFiles {
  std::filesystem::path cert;  // PEM: the certificate, then its chain
  std::filesystem::path key;
};

class ReloadableTls {
 public:
  explicit ReloadableTls(const TlsFiles& files);  // throws naming the file on error
  ReloadableTls(const ReloadableTls&) = delete;
  ReloadableTls& operator=(const ReloadableTls&) = delete;

  // The context to hand to the servers; it stays the same object for life.
  const std::shared_ptr<asio::ssl::context>& context() const noexcept { return serving_; }
  // Throws (keeping the current certificate) when the files do not load.
  void reload(const TlsFiles& files);
  // Puts the certificate served now, its chain and key on `ssl`: a
  // connection we open that is asked for a client certificate.
  bool present(SSL* ssl) const;

 private:
  static int select_certificate(SSL* ssl, void* self);

  std::shared_ptr<asio::ssl::context> newest() const;

  std::shared_ptr<asio::ssl::context> serving_;
  mutable std::mutex mutex_;
  std::shared_ptr<asio::ssl::context> newest_;  // null until the first reload
};

}  // namespace umstore::app
