#include "auth/gateway_tokens.hpp"

#include <sodium.h>

namespace umstore::auth {

std::string new_gateway_token() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char b64[sodium_base64_ENCODED_LEN(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return b64;
}

std::string gateway_token_hash(std::string_view token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[sizeof digest * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

std::optional<std::string> GatewayTokens::gateway_for(std::string_view token) const {
  const std::string hash = gateway_token_hash(token);
  std::lock_guard lock(mutex_);
  const auto found = by_hash_.find(hash);
  if (found == by_hash_.end()) return std::nullopt;
  return found->second;
}

void GatewayTokens::add(std::string token_hash, std::string gateway) {
  std::lock_guard lock(mutex_);
  by_hash_[std::move(token_hash)] = std::move(gateway);
}

void GatewayTokens::remove(std::string_view gateway) {
  std::lock_guard lock(mutex_);
  std::erase_if(by_hash_, [&](const auto& entry) { return entry.second == gateway; });
}

bool GatewayTokens::empty() const {
  std::lock_guard lock(mutex_);
  return by_hash_.empty();
}

}  // namespace umstore::auth
