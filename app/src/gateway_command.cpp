// umstore gateway: the gateway API's bearer tokens issued from the command
// line, the same kind the console issues (kept hashed in the admin store; a
// running server picks up a change within 10 seconds). Tokens in [gateways]
// of the config file are listed, not changed, here.
#include <chrono>
#include <iostream>

#include "admin/admin_store.hpp"
#include "auth/gateway_tokens.hpp"
#include "commands.hpp"
#include "common/rfc5322_date.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kGatewayUsage = R"(usage:
  umstore [--data-dir DIR] [--config FILE] gateway list
  umstore [--data-dir DIR] [--config FILE] gateway issue NAME
  umstore [--data-dir DIR] [--config FILE] gateway revoke NAME

issue prints a new bearer token for the gateway NAME (letters, digits, '.',
'_', '-'), once: only its SHA-256 is kept. A running server accepts it
within 10 seconds, and refuses it as long after revoke. Gateways whose
token is in [gateways] of the config file are changed there. Every issue
and revoke is written to the admin audit log (actor "cli").
)";

bool configured(const Settings& s, std::string_view name) {
  for (const auto& [token, gateway] : s.gateway_tokens)
    if (gateway == name) return true;
  return false;
}

void audit(admin::AdminStore& store, std::string_view action, std::string_view name) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  store.record({0, now.count(), "cli", std::string(action), std::string(name), "", "ok"});
}

}  // namespace

int run_gateway(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kGatewayUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.empty()) throw UsageError("gateway needs a subcommand: list, issue or revoke");
  const Settings s = load_settings(cmd);
  const auto store = open_admin_store(s);
  if (words[0] == "list" && words.size() == 1) {
    for (const auto& [token, name] : s.gateway_tokens) std::cout << name << "  in [gateways] of the config file\n";
    for (const auto& t : store->gateway_tokens()) {
      const auto created = std::chrono::system_clock::time_point(std::chrono::milliseconds(t.created_ms));
      std::cout << t.gateway << "  issued by " << t.created_by << ", " << format_rfc5322_date(created) << "\n";
    }
    return 0;
  }
  if (words.size() != 2 || (words[0] != "issue" && words[0] != "revoke"))
    throw UsageError("expected: gateway list | gateway issue NAME | gateway revoke NAME");
  const std::string& name = words[1];
  if (words[0] == "revoke") {
    if (!store->remove_gateway_token(name)) {
      if (configured(s, name)) throw std::runtime_error("gateway " + name + "'s token is in [gateways] of the config file: remove it there");
      throw std::runtime_error("no token issued for gateway " + name);
    }
    audit(*store, "gateway.token_revoke", name);
    std::cout << "revoked the token of gateway " << name << "; a running server refuses it within 10 seconds\n";
    return 0;
  }
  try {
    admin::require_admin_name(name);
  } catch (const admin::AdminError&) {
    throw UsageError("a gateway's name is 1 to 64 letters, digits, '.', '_' or '-'");
  }
  if (configured(s, name)) throw std::runtime_error("gateway " + name + " has its token in [gateways] of the config file; pick another name");
  const std::string token = auth::new_gateway_token();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  store->add_gateway_token({name, auth::gateway_token_hash(token), now.count(), "cli"});
  audit(*store, "gateway.token_create", name);
  std::cout << token << "\n";
  return 0;
}

}  // namespace umstore::app
