#pragma once
#include <asio/ssl.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace umstore::net {

// A server context from PEM files: TLS 1.2 with forward-secret AEAD suites
// only, and TLS 1.3; throws with the file names on error.
std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::filesystem::path& cert_pem,
                                                            const std::filesystem::path& key_pem);

// Writes a self-signed certificate (subjectAltName DNS:hostname) and key if either file is
// missing (demo and test setups; production points the config at real ones).
void ensure_self_signed_certificate(const std::filesystem::path& cert_pem, const std::filesystem::path& key_pem,
                                    const std::string& hostname);

}  // namespace umstore::net
