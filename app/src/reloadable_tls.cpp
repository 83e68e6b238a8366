#include "reloadable_tls.hpp"

#include "net/tls.hpp"

namespace umstore::app {

ReloadableTls::ReloadableTls(const TlsFiles& files)
    : serving_(net::make_server_tls_context(files.cert, files.key)) {
  // Called during each handshake (OpenSSL's certificate callback), before
  // the server's certificate is sent.
  SSL_CTX_set_cert_cb(serving_->native_handle(), &ReloadableTls::select_certificate, this);
}

void ReloadableTls::reload(const TlsFiles& files) {
  auto loaded = net::make_server_tls_context(files.cert, files.key);
  const std::lock_guard lock(mutex_);
  newest_ = std::move(loaded);
}

namespace {

bool use_certificate_of(SSL* ssl, SSL_CTX* from) {
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(from, &chain);
  // Each call takes its own reference: the SSL keeps them after a later reload.
  return SSL_use_certificate(ssl, SSL_CTX_get0_certificate(from)) == 1 &&
         SSL_use_PrivateKey(ssl, SSL_CTX_get0_privatekey(from)) == 1 && SSL_set1_chain(ssl, chain) == 1;
}

}  // namespace

std::shared_ptr<asio::ssl::context> ReloadableTls::newest() const {
  const std::lock_guard lock(mutex_);
  return newest_;
}

int ReloadableTls::select_certificate(SSL* ssl, void* self) {
  const auto newest = static_cast<ReloadableTls*>(self)->newest();
  if (!newest) return 1;  // the context's own certificate
  return use_certificate_of(ssl, newest->native_handle()) ? 1 : 0;
}

bool ReloadableTls::present(SSL* ssl) const {
  const auto newest = this->newest();
  return use_certificate_of(ssl, (newest ? newest : serving_)->native_handle());
}

}  // namespace umstore::app
