#include "admin/issued_token_sync.hpp"

#include "common/log.hpp"

namespace umstore::admin {

void load_issued_tokens(const AdminStore& store, auth::GatewayTokens& tokens) {
  std::map<std::string, std::string, std::less<>> by_hash;
  for (const auto& t : store.gateway_tokens()) by_hash.emplace(t.token_hash, t.gateway);
  tokens.replace(std::move(by_hash));
}

IssuedTokenSync::IssuedTokenSync(const AdminStore& store, std::shared_ptr<auth::GatewayTokens> tokens,
                                 std::chrono::seconds interval)
    : reload_(interval, interval, [&store, tokens] {
        try {
          load_issued_tokens(store, *tokens);
        } catch (const std::exception& e) {
          log(LogLevel::Warning, "admin", "cannot reload the issued gateway tokens (the ones loaded stay): {}", e.what());
        }
      }) {
  load_issued_tokens(store, *tokens);  // the first, which throws
}

}  // namespace umstore::admin
