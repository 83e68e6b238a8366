#include "admin/admin_console.hpp"

#include <fmt/format.h>

#include <asio/thread_pool.hpp>

#include "admin/totp.hpp"
#include "api.hpp"
#include "common/log.hpp"
#include "console_assets.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/password_hash.hpp"

namespace umstore::admin {
namespace {

constexpr std::string_view kCookie = "umstore_admin";

std::string session_cookie(const Session& s, bool secure, std::chrono::seconds max_age) {
  return fmt::format("Set-Cookie: {}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}\r\n", kCookie, s.id,
                     max_age.count(), secure ? "; Secure" : "");
}

nlohmann::json session_json(const Session& s) {
  return {{"name", s.user}, {"role", to_string(s.role)}, {"csrf", s.csrf}, {"enrolling", s.enrolling}};
}

bool changes_state(const http::Request& r) { return r.method != "GET" && r.method != "HEAD"; }

}  // namespace

http::Response json_response(int status, const nlohmann::json& body) { return {status, "application/json", body.dump(), {}}; }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Activity::record(std::int64_t finished_ms, std::string kind, std::string source, bool delivered) {
  const std::int64_t hour = finished_ms / 3'600'000;
  std::lock_guard lock(mutex_);
  auto& [ok, failed] = counts_[{hour, std::move(kind), std::move(source)}];
  ++(delivered ? ok : failed);
  std::erase_if(counts_, [&](const auto& entry) { return std::get<0>(entry.first) < hour - 48; });
}

nlohmann::json Activity::per_hour(std::int64_t now) const {
  const std::int64_t first = now / 3'600'000 - 23;
  nlohmann::json out = nlohmann::json::array();
  std::lock_guard lock(mutex_);
  for (const auto& [key, value] : counts_) {
    const auto& [hour, kind, source] = key;
    if (hour < first) continue;
    out.push_back({{"hour", hour * 3600}, {"kind", kind}, {"source", source}, {"delivered", value.first},
                   {"failed", value.second}});
  }
  return out;
}

void Call::audit(std::string_view action, std::string_view target, std::string_view outcome) const {
  context.services.admins.record({0, now_ms(), session.user, std::string(action), std::string(target),
                                  request.peer_address, std::string(outcome)});
}

nlohmann::json Call::body() const {
  auto parsed = nlohmann::json::parse(request.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) throw BadRequest("the request body must be a JSON object");
  return parsed;
}

struct AdminConsole::Impl {
  AdminConsoleConfig config;
  AdminServices services;
  SessionTable sessions;
  Activity activity;
  ApiContext context{services, sessions, activity};
  ApiRouter router;
  // Argon2id, SQLite and the store: never on the I/O threads.
  asio::thread_pool blocking_pool{2};
  http::Server server;

  Impl(asio::io_context& io, const net::tcp::endpoint& where, AdminConsoleConfig c, AdminServices s)
      : config(std::move(c)),
        services(std::move(s)),
        sessions(config.session_idle, config.session_lifetime),
        server(io, where, config.server, [this](const http::Request& r) { return handle(r); }) {
    add_api_routes(router);
    add_greeting_routes(router);
    add_privacy_routes(router);
  }
  ~Impl() { blocking_pool.join(); }

  void audit_anonymous(const http::Request& r, std::string_view actor, std::string_view action, std::string_view outcome) {
    services.admins.record({0, now_ms(), std::string(actor), std::string(action), "", r.peer_address, std::string(outcome)});
  }

  net::Task<http::Response> handle(const http::Request& request) {
    const std::string_view path = request.path();
    if (!path.starts_with("/api/")) co_return static_asset(request);
    // A body is JSON: a cross-site HTML form cannot send that without the
    // browser asking first, so it cannot log a victim in to its own session.
    // A greeting is audio, PUT (no form can) with the CSRF token.
    const bool greeting = request.method == "PUT" && path.ends_with("/greeting");
    if (!request.body.empty() && !greeting && !request.header("content-type").value_or("").starts_with("application/json"))
      co_return http::json_error(415, "send the request body as application/json");
    if (path == "/api/session" && request.method == "POST") co_return co_await login(request);
    co_return co_await asio::co_spawn(
        blocking_pool, [&]() -> net::Task<http::Response> { co_return api(request); }, asio::use_awaitable);
  }

  http::Response static_asset(const http::Request& request) {
    if (request.method != "GET" && request.method != "HEAD") return http::json_error(405, "use GET for the console's files");
    const auto* asset = find_console_asset(request.path() == "/" ? "/index.html" : request.path());
    if (!asset) return http::json_error(404, fmt::format("no such page: {}", request.path()));
    // The console takes no scripts, styles or frames from anywhere else.
    return {200, std::string(asset->content_type), std::string(asset->body),
            "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
            "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'self'; frame-ancestors 'none'\r\n"
            "Referrer-Policy: no-referrer\r\n"};
  }

  // POST /api/session {name, password, totp}: the password, then the code;
  // an admin without a confirmed TOTP gets a session for enrolment only.
  net::Task<http::Response> login(const http::Request& request) {
    const std::string address = request.peer_address;
    if (services.throttle->refused(address))
      co_return http::retry_later(429, "too many failed logins from your address; wait 15 minutes", 900);
    auto outcome = co_await asio::co_spawn(
        blocking_pool, [&]() -> net::Task<std::pair<http::Response, std::string>> { co_return check_login(request); },
        asio::use_awaitable);
    if (outcome.first.status == 401) {
      ++context.failed_logins;
      asio::steady_timer delay(co_await asio::this_coro::executor, services.throttle->record_failure(address, outcome.second));
      co_await delay.async_wait(net::use_nothrow);
    }
    co_return std::move(outcome.first);
  }

  // The response, and the name tried (for the throttle).
  std::pair<http::Response, std::string> check_login(const http::Request& request) {
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) return {http::json_error(400, "send {\"name\", \"password\", \"totp\"} as JSON"), ""};
    const std::string name = body.value("name", "");
    const std::string password = body.value("password", "");
    const std::string code = body.value("totp", "");
    const auto user = services.admins.find(name);
    if (!mailstore::password_matches(user ? user->password_hash : "", password)) {
      audit_anonymous(request, name.empty() ? "-" : name, "login", "refused: wrong name or password");
      return {http::json_error(401, "wrong name or password"), name};
    }
    const bool enrolling = !user->totp_confirmed;
    if (!enrolling) {
      const auto step = totp_step(user->totp_secret, code, now_ms() / 1000);
      if (!step || !sessions.claim_totp_step(user->name, *step)) {
        audit_anonymous(request, name, "login", "refused: wrong TOTP code");
        return {http::json_error(401, "wrong or reused TOTP code"), name};
      }
    }
    const Session s = sessions.open(*user, enrolling);
    services.throttle->record_success(request.peer_address, name);
    audit_anonymous(request, name, "login", enrolling ? "ok, TOTP enrolment pending" : "ok");
    http::Response r = json_response(200, session_json(s));
    r.extra_headers = session_cookie(s, request.secure, config.session_lifetime);
    return {r, name};
  }

  // Every other /api path: a session, the CSRF token on a state change, the role.
  http::Response api(const http::Request& request) {
    const auto id = request.cookie(kCookie);
    const auto session = id ? sessions.find(*id) : std::nullopt;
    if (!session) return http::json_error(401, "log in first (POST /api/session)");
    if (changes_state(request) && request.header("x-csrf-token").value_or("") != session->csrf) {
      services.admins.record({0, now_ms(), session->user, request.method + " " + std::string(request.path()), "",
                              request.peer_address, "refused: no CSRF token"});
      return http::json_error(403, "the X-CSRF-Token header is missing or wrong; reload the console");
    }
    const http::PathParams none;
    const Call session_call{request, none, *session, context};
    try {
      if (request.path() == "/api/session") return session_endpoint(session_call);
      if (request.path() == "/api/enrolment") return enrolment(session_call);
      if (session->enrolling) return http::json_error(403, "confirm your TOTP code first (POST /api/enrolment)");
      auto match = router.match(request.method, request.path());
      if (!match.handler)
        return http::json_error(match.status, match.status == 405 ? "method not allowed here" : "no such API path");
      const Call call{request, match.params, *session, context};
      if (match.handler->admin_only && session->role != Role::Admin) {
        call.audit(request.method + " " + std::string(request.path()), "", "refused: helpdesk role");
        return http::json_error(403, "a helpdesk account may read and reset passwords only; ask an admin");
      }
      return match.handler->handler(call);
    } catch (const BadRequest& e) {
      return http::json_error(400, e.what());
    } catch (const std::exception& e) {
      log(LogLevel::Error, "admin", "{} {}: {}", request.method, request.path(), e.what());
      return http::json_error(500, std::string("internal error: ") + e.what());
    }
  }

  http::Response session_endpoint(const Call& call) {
    if (call.request.method == "GET") return json_response(200, session_json(call.session));
    if (call.request.method != "DELETE") return http::json_error(405, "GET or DELETE /api/session");
    sessions.close(call.session.id);
    call.audit("logout", call.session.user);
    http::Response r = json_response(200, {{"status", "logged out"}});
    r.extra_headers = fmt::format("Set-Cookie: {}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\r\n", kCookie);
    return r;
  }

  // GET: the secret, its otpauth URI and QR code; POST {code}: confirms it.
  http::Response enrolment(const Call& call) {
    const auto user = services.admins.find(call.session.user);
    if (!user) return http::json_error(401, "this admin account no longer exists");
    if (user->totp_confirmed) return http::json_error(409, "the TOTP code is confirmed already");
    if (call.request.method == "GET") {
      const std::string uri = otpauth_uri(user->name, user->totp_secret);
      return json_response(200, {{"secret", base32(user->totp_secret)}, {"uri", uri}, {"qr_svg", qr_svg(uri)}});
    }
    if (call.request.method != "POST") return http::json_error(405, "GET or POST /api/enrolment");
    const auto step = totp_step(user->totp_secret, call.body().value("code", ""), now_ms() / 1000);
    if (!step || !sessions.claim_totp_step(user->name, *step)) {
      ++context.failed_logins;
      services.throttle->record_failure(call.request.peer_address, user->name);
      call.audit("totp.enrol", user->name, "refused: wrong TOTP code");
      return http::json_error(422, "that code does not match; check the phone's clock and try the next one");
    }
    services.admins.confirm_totp(user->name);
    sessions.upgrade(call.session.id);
    call.audit("totp.enrol", user->name);
    auto upgraded = call.session;
    upgraded.enrolling = false;
    return json_response(200, session_json(upgraded));
  }
};

AdminConsole::AdminConsole(asio::io_context& io, const net::tcp::endpoint& where, AdminConsoleConfig config,
                           AdminServices services)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), std::move(services))) {}
AdminConsole::~AdminConsole() = default;

void AdminConsole::record_final(const ingest::IngestStatus& status) {
  impl_->activity.record(status.finished_ms, status.kind == ingest::Kind::Voice ? "voice" : "fax", status.source,
                         status.state == ingest::IngestState::Delivered);
}

void AdminConsole::start() { impl_->server.start(); }
void AdminConsole::stop() { impl_->server.stop(); }
net::tcp::endpoint AdminConsole::local_endpoint() const { return impl_->server.local_endpoint(); }

}  // namespace umstore::admin
