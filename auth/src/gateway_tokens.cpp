#include "auth/gateway_tokens.hpp"

#include <sodium.h>

#include <vector>

#include "common/sha256.hpp"

namespace umstore::auth {

std::string random_token(std::size_t bytes) {
  std::vector<unsigned char> random(bytes);
  randombytes_buf(random.data(), random.size());
  std::string b64(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(b64.data(), b64.size(), random.data(), random.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(b64.size() - 1);  // the terminating NUL
  return b64;
}

std::string new_gateway_token() { return random_token(32); }

std::string gateway_token_hash(std::string_view token) { return sha256_hex(token); }

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

void GatewayTokens::replace(std::map<std::string, std::string, std::less<>> by_hash) {
  std::lock_guard lock(mutex_);
  by_hash_ = std::move(by_hash);
}

bool GatewayTokens::empty() const {
  std::lock_guard lock(mutex_);
  return by_hash_.empty();
}

}  // namespace umstore::auth
