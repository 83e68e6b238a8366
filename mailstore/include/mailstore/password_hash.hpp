#pragma once
// Argon2id password hashes (libsodium's $argon2id$... strings), as every
// account store keeps them; admin accounts (admin/) use the same.
#include <string>
#include <string_view>

namespace umstore::mailstore {

// Throws AccountError for an empty or over-long password.
std::string hash_password(std::string_view password);
// Argon2id verification (~90 ms, 64 MiB): off the I/O threads. An empty
// `stored_hash` (no such account) costs as much as a real check, so the
// answer time does not tell which names exist.
bool password_matches(const std::string& stored_hash, std::string_view password);

}  // namespace umstore::mailstore
