#pragma once
// P-256 keys (internal): the ACME account key that signs requests as JWS
// (RFC 7515, ES256), and the certificate's key with its signing request.
#include <openssl/evp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::acme::detail {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string base64url(std::string_view bytes);

KeyPtr new_p256_key();
// The key in `path` (PEM), made and written (0600) first when missing.
KeyPtr load_or_create_key(const std::filesystem::path& path);
std::string private_key_pem(EVP_PKEY* key);

// {"crv":"P-256","kty":"EC","x":...,"y":...}: the JWK, members in the order
// RFC 7638 hashes them.
std::string jwk_json(EVP_PKEY* key);
// base64url(SHA-256(jwk)): the account's part of a key authorization (RFC 8555 §8.1).
std::string jwk_thumbprint(EVP_PKEY* key);
// A flattened JWS (RFC 8555 §6.2): protected header and payload as given
// (JSON text; an empty payload is a POST-as-GET), signed with ES256.
std::string jws(EVP_PKEY* key, const std::string& protected_header, const std::string& payload);

// A PKCS#10 request (DER) for `domains` (subjectAltName DNS; the first one
// also the subject's CN), signed with `key`.
std::string certificate_request(EVP_PKEY* key, const std::vector<std::string>& domains);

}  // namespace umstore::acme::detail
