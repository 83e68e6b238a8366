#pragma once
// Gateways' bearer tokens for the gateway API (ingest/) that an admin issued
// in the console (admin/), besides the [gateways] lines of the config file.
// Only a token's SHA-256 is kept: a token is 32 random bytes, so a fast hash
// is as safe as a slow one, and a lookup by hash compares nothing secret
// byte by byte. Thread-safe: the admin API changes it while gateways are
// checked.
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::auth {

std::string random_token(std::size_t bytes);             // that many random bytes, URL-safe base64
std::string new_gateway_token();                          // random_token(32)
std::string gateway_token_hash(std::string_view token);  // SHA-256, lower-case hex

class GatewayTokens {
 public:
  // The gateway's name for a bearer token, if it is one issued and not revoked.
  std::optional<std::string> gateway_for(std::string_view token) const;
  void add(std::string token_hash, std::string gateway);
  void remove(std::string_view gateway);
  // Every token at once (hash -> gateway name), as the admin store holds
  // them now: tokens issued or revoked elsewhere (the CLI, another node).
  void replace(std::map<std::string, std::string, std::less<>> by_hash);
  bool empty() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> by_hash_;  // hash -> gateway name
};

}  // namespace umstore::auth
