#include "net/tls.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

#include "common/durable_file.hpp"

namespace umstore::net {
namespace {
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}
}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::filesystem::path& cert_pem,
                                                            const std::filesystem::path& key_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                   asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // TLS 1.2: forward-secret AEAD suites only (no CBC, no SHA-1 MACs, no RSA
  // key exchange); TLS 1.3's suites are all AEAD already.
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1)
    throw std::runtime_error("this OpenSSL offers none of the TLS 1.2 AEAD cipher suites");
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  std::error_code ec;
  ctx->use_certificate_chain_file(cert_pem.string(), ec);
  if (ec) throw std::runtime_error("cannot load TLS certificate " + cert_pem.string() + ": " + ec.message());
  ctx->use_private_key_file(key_pem.string(), asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot load TLS key " + key_pem.string() + ": " + ec.message());
  return ctx;
}

void ensure_self_signed_certificate(const std::filesystem::path& cert_pem, const std::filesystem::path& key_pem,
                                    const std::string& hostname) {
  if (std::filesystem::exists(cert_pem) && std::filesystem::exists(key_pem)) return;
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("cannot generate a TLS key");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 825);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // Clients match the host name against subjectAltName only (RFC 6125).
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string alt_name = "DNS:" + hostname;
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, alt_name.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("cannot sign TLS certificate");

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  replace_file_durably(key_pem, bio_text(key_bio.get()));
  replace_file_durably(cert_pem, bio_text(cert_bio.get()));
}

}  // namespace umstore::net
