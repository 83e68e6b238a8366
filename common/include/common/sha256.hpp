#pragma once
// SHA-256 through OpenSSL, which uses the CPU's SHA instructions where
// there are some: bodies are hashed at every append on the PostgreSQL
// backend (content addressing), where a portable implementation cost
// about five times the CPU.
#include <string>
#include <string_view>

namespace umstore {

// The 32-byte digest of `bytes`.
std::string sha256_digest(std::string_view bytes);
// The digest in lowercase hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace umstore
