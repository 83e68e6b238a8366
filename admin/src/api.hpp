#pragma once
// The admin API's handlers (internal): plain functions from a checked call
// to a response, run on the console's blocking pool, never an I/O thread.
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <map>
#include <tuple>
#include <variant>

#include "admin/admin_console.hpp"
#include "http/router.hpp"
#include "sessions.hpp"

namespace umstore::admin {

// Finished ingest jobs per hour, kind and source, for the last two days.
class Activity {
 public:
  void record(std::int64_t finished_ms, std::string kind, std::string source, bool delivered);
  nlohmann::json per_hour(std::int64_t now_ms) const;

 private:
  mutable std::mutex mutex_;
  // (hour since the epoch, kind, source) -> (delivered, failed)
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> counts_;
};

struct ApiContext {
  AdminServices& services;
  SessionTable& sessions;
  Activity& activity;
  std::atomic<std::uint64_t> failed_logins{0};
};

// One authenticated request.
struct Call {
  const http::Request& request;
  const http::PathParams& params;
  const Session& session;
  ApiContext& context;
  // Writes the audit entry (durably) for what this call did to `target`.
  void audit(std::string_view action, std::string_view target, std::string_view outcome = "ok") const;
  nlohmann::json body() const;  // the JSON request body; throws BadRequest
};

class BadRequest : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

using ApiHandler = std::function<http::Response(const Call&)>;
struct ApiRoute {
  ApiHandler handler;
  bool admin_only = false;  // helpdesk gets 403
};
using ApiRouter = http::Router<ApiRoute>;

http::Response json_response(int status, const nlohmann::json& body);
std::int64_t now_ms();

// Mailboxes, messages, queues, gateways, the audit log and the dashboard.
void add_api_routes(ApiRouter& router);
// A mailbox's greeting: GET, PUT (any audio the codecs read), DELETE (greetings.cpp).
void add_greeting_routes(ApiRouter& router);
bool has_greeting(const AdminServices& services, std::string_view number);
// A mailbox's export and erasure, a caller's erasure (privacy_routes.cpp).
void add_privacy_routes(ApiRouter& router);

}  // namespace umstore::admin
