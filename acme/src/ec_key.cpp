#include "ec_key.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include "common/durable_file.hpp"

namespace umstore::acme::detail {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + " (OpenSSL)"); }

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// An EC public coordinate as 32 big-endian octets.
std::string coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) fail("cannot read the EC key");
  std::string out(32, '\0');
  const int n = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_free(bn);
  if (n != 32) fail("cannot encode the EC key");
  return out;
}

}  // namespace

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;  // no padding (RFC 7515 §2)
}

KeyPtr new_p256_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  if (!key) fail("cannot make a P-256 key");
  return key;
}

std::string private_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot write the key");
  return bio_text(bio.get());
}

KeyPtr load_or_create_key(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    KeyPtr key = new_p256_key();
    create_directories_durably(path.parent_path());
    replace_file_durably(path, private_key_pem(key.get()), 0600);
    return key;
  }
  const std::string pem = read_file(path);
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) throw std::runtime_error("cannot read the key in " + path.string());
  return key;
}

std::string jwk_json(EVP_PKEY* key) {
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X)) +
         R"(","y":")" + base64url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y)) + R"("})";
}

std::string jwk_thumbprint(EVP_PKEY* key) {
  const std::string jwk = jwk_json(key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(jwk.data(), jwk.size(), digest, &length, EVP_sha256(), nullptr) != 1) fail("cannot hash the JWK");
  return base64url(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string jws(EVP_PKEY* key, const std::string& protected_header, const std::string& payload) {
  const std::string header64 = base64url(protected_header);
  const std::string payload64 = payload.empty() ? std::string() : base64url(payload);
  const std::string signing_input = header64 + "." + payload64;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t der_length = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &der_length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    fail("cannot sign the request");
  std::string der(der_length, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &der_length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    fail("cannot sign the request");
  // ES256 is r and s, 32 octets each (RFC 7518 §3.4), not OpenSSL's DER.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_length)),
                                                          ECDSA_SIG_free);
  if (!sig) fail("cannot decode the signature");
  std::string raw(64, '\0');
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) != 32)
    fail("cannot encode the signature");
  return R"({"protected":")" + header64 + R"(","payload":")" + payload64 + R"(","signature":")" + base64url(raw) +
         R"("})";
}

std::string certificate_request(EVP_PKEY* key, const std::vector<std::string>& domains) {
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), X509_REQ_free);
  if (!req || domains.empty()) fail("cannot make a certificate request");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(domains.front().c_str()),
                             -1, -1, 0);
  std::string names;
  for (const auto& d : domains) names += (names.empty() ? "DNS:" : ",DNS:") + d;
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, names.c_str());
  if (!san) fail("cannot name " + names + " in a certificate request");
  STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(extensions, san);
  const bool added = X509_REQ_add_extensions(req.get(), extensions) == 1;
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  if (!added || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    fail("cannot sign the certificate request");
  const int length = i2d_X509_REQ(req.get(), nullptr);
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

}  // namespace umstore::acme::detail
