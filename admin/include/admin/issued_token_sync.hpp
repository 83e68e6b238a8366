#pragma once
// Keeps the gateway API's issued tokens (auth/gateway_tokens.hpp) equal to
// what the admin store holds, reloading them every `interval` on a thread
// of its own: a token issued or revoked with `umstore gateway`, or in the
// console of another node sharing the database, takes effect here within
// that time. The console's own changes apply at once (admin_console.cpp).
#include <chrono>
#include <memory>

#include "admin/admin_store.hpp"
#include "auth/gateway_tokens.hpp"
#include "common/periodic_task.hpp"

namespace umstore::admin {

// Loads every issued token into `tokens` now; throws what the store throws.
void load_issued_tokens(const AdminStore& store, auth::GatewayTokens& tokens);

class IssuedTokenSync {
 public:
  // The first load runs here (a failure throws); the later ones log a
  // failure and keep the tokens they had.
  IssuedTokenSync(const AdminStore& store, std::shared_ptr<auth::GatewayTokens> tokens, std::chrono::seconds interval);

 private:
  PeriodicTask reload_;
};

}  // namespace umstore::admin
