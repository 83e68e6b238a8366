#pragma once
// The admin listener ([listen] admin): the web console (static files
// compiled into the program) and the JSON admin API it uses
// (docs/admin-api.yaml), on the shared HTTP server. Admins log in with an
// Argon2id password and a TOTP code; sessions are HttpOnly, SameSite=Strict
// cookies (Secure over TLS) with expiry; every state change needs the
// session's CSRF token; every action and every view of a message's content
// is written to the audit log.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin/admin_store.hpp"
#include "auth/gateway_tokens.hpp"
#include "auth/login_throttle.hpp"
#include "http/server.hpp"
#include "ingest/decode_worker.hpp"
#include "mailstore/message_aging.hpp"

namespace umstore::smtp {
class DeliveryQueue;
}
namespace umstore::ingest {
class IngestQueue;
struct IngestStatus;
}  // namespace umstore::ingest
namespace umstore::faxout {
class FaxJobs;
}

namespace umstore::admin {

struct AdminServices {
  AdminStore& admins;
  mailstore::AccountStore& accounts;
  mailstore::MailStore& store;
  smtp::DeliveryQueue& smtp_queue;
  ingest::IngestQueue& ingest_queue;
  std::vector<std::string> gateways;  // names from [gateways]; their tokens live in the config file
  // Failed logins by address and name, shared with the other listeners.
  std::shared_ptr<auth::LoginThrottle> throttle;
  std::function<void()> wake_smtp_queue;  // after a retry
  mailstore::AgingDays aging_defaults;     // [aging]: what a mailbox without its own days gets
  // Where the SIP endpoint looks for a mailbox's greeting (its greeting_for);
  // unset when greetings are off ([sip] greeting_dir empty).
  std::function<std::optional<std::filesystem::path>(std::string_view number)> greeting_for;
  // The tokens issued in the console, as the gateway API checks them
  // (loaded from `admins` at start); kept in step with the store here.
  std::shared_ptr<auth::GatewayTokens> issued_tokens;
  // The ingest spool, for erasing a caller's files there (empty: none).
  std::filesystem::path spool_dir;
  // Where a mailbox's export is written (as a file with no name) before it is sent.
  std::filesystem::path scratch_dir;
  // [ingest] sandbox: greeting uploads are decoded as gateways' recordings are.
  ingest::DecodeSandbox decode;
  // The outbound fax queue, for its jobs and ended faxes' records; null without [fax_out].
  faxout::FaxJobs* fax_jobs = nullptr;
};

// The largest greeting upload (PUT /api/mailboxes/{number}/greeting), and so
// the admin listener's body limit.
constexpr std::size_t kMaxGreetingUploadBytes = 8u << 20;

struct AdminConsoleConfig {
  http::ServerConfig server;
  std::chrono::seconds session_idle{30 * 60};
  std::chrono::seconds session_lifetime{12 * 60 * 60};
};

class AdminConsole {
 public:
  AdminConsole(asio::io_context& io, const net::tcp::endpoint& where, AdminConsoleConfig config, AdminServices services);
  ~AdminConsole();
  // Counts a finished ingest job for the dashboard's messages per hour.
  // Thread-safe (called from the ingest queue's storer threads).
  void record_final(const ingest::IngestStatus& status);
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::admin
