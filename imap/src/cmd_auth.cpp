// Any-state and not-authenticated commands: CAPABILITY NOOP LOGOUT ID ENABLE
// NAMESPACE STARTTLS COMPRESS LOGIN AUTHENTICATE.
#include <asio/post.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/log.hpp"
#include "mailbox_name.hpp"
#include "mime/message_parser.hpp"
#include "response_writer.hpp"
#include "deflate_codec.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

constexpr unsigned kMaxFailedLogins = 5;
constexpr std::size_t kMaxIdPairs = 30;

}  // namespace

net::Task<void> Session::cmd_capability(const Command& cmd) {
  untagged("CAPABILITY " + capabilities());
  reply(cmd, "OK", "CAPABILITY completed");
  co_return;
}

net::Task<void> Session::cmd_noop(const Command& cmd) {
  report_changes(true);
  reply(cmd, "OK", cmd.name == "CHECK" ? "CHECK completed" : "NOOP completed");
  co_return;
}

net::Task<void> Session::cmd_check(const Command& cmd) { co_await cmd_noop(cmd); }

net::Task<void> Session::cmd_logout(const Command& cmd) {
  untagged("BYE umstore logging out");
  reply(cmd, "OK", "LOGOUT completed");
  logout_ = true;
  co_return;
}

net::Task<void> Session::cmd_id(const Command& cmd) {
  if (cmd.args.size() != 1 || !(cmd.args[0].is_list() || cmd.args[0].kind == Arg::Kind::Nil) ||
      cmd.args[0].list.size() > 2 * kMaxIdPairs) {
    reply(cmd, "BAD", "ID needs a parameter list or NIL");
    co_return;
  }
  if (cmd.args[0].is_list() && !cmd.args[0].list.empty())
    log_(LogLevel::Debug, "peer={} client ID with {} fields", conn_.peer(), cmd.args[0].list.size() / 2);
  untagged("ID (\"name\" \"umstore\" \"vendor\" \"umstore\")");
  reply(cmd, "OK", "ID completed");
}

net::Task<void> Session::cmd_enable(const Command& cmd) {
  if (cmd.args.empty()) {
    reply(cmd, "BAD", "ENABLE needs capability names");
    co_return;
  }
  // RFC 5161: names we do not know (or that need no enabling) are ignored.
  std::string enabled = "ENABLED";
  for (const Arg& a : cmd.args) {
    if (a.is_atom("CONDSTORE") && enabled.find(" CONDSTORE") == std::string::npos) {
      enable_condstore();
      enabled += " CONDSTORE";
    } else if (a.is_atom("QRESYNC") && enabled.find(" QRESYNC") == std::string::npos) {
      enable_condstore();  // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
      qresync_ = true;
      enabled += " QRESYNC";
    } else if (a.is_atom("IMAP4REV2") && enabled.find(" IMAP4rev2") == std::string::npos) {
      rev2_ = true;
      utf8_ = true;  // RFC 9051 §5.1: mailbox names in UTF-8
      enabled += " IMAP4rev2";
    } else if (a.is_atom("UTF8=ACCEPT") && enabled.find(" UTF8=ACCEPT") == std::string::npos) {
      utf8_ = true;  // RFC 6855: names in UTF-8 from now on
      enabled += " UTF8=ACCEPT";
    }
  }
  untagged(enabled);
  reply(cmd, "OK", "ENABLE completed");
}

net::Task<void> Session::cmd_compress(const Command& cmd) {
  if (cmd.args.size() != 1 || !cmd.args[0].is_atom("DEFLATE")) {
    reply(cmd, "BAD", "The only COMPRESS mechanism is DEFLATE");
    co_return;
  }
  if (compressed_) {
    reply(cmd, "NO", "[COMPRESSIONACTIVE] Compression is already on");
    co_return;
  }
  // RFC 4978 §3: the tagged OK is the last thing sent uncompressed.
  reply(cmd, "OK", "DEFLATE active");
  out_ += pending_reply_;
  pending_reply_.clear();
  co_await flush();
  compressed_ = true;
  conn_.set_codec(make_deflate_codec());  // input that is not DEFLATE then ends the connection
}

net::Task<void> Session::cmd_namespace(const Command& cmd) {
  untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
  reply(cmd, "OK", "NAMESPACE completed");
  co_return;
}

net::Task<void> Session::cmd_starttls(const Command& cmd) {
  if (!ctx_.config.tls || conn_.is_tls()) {
    reply(cmd, "BAD", "STARTTLS not available");
    co_return;
  }
  reply(cmd, "OK", "Begin TLS negotiation now");
  out_ += pending_reply_;  // must reach the client before the handshake
  pending_reply_.clear();
  co_await flush();
  const bool secured = co_await conn_.start_tls(*ctx_.config.tls);  // not inside the if: g++ 12 bug
  if (!secured) logout_ = true;
}

net::Task<void> Session::finish_login(const Command& cmd, std::string_view user, std::string_view password) {
  const std::string address = conn_.peer_address();
  if (ctx_.login_throttle.refused(address)) {
    // Refused before the password check: guessing costs the attacker a
    // round trip and us nothing. Only this address is refused: the owner
    // still gets in from another one.
    ctx_.metrics.logins_failed.add();
    log_(LogLevel::Warning, "peer={} login for '{}' refused after too many failures from the address", conn_.peer(),
        user.substr(0, 64));
    reply(cmd, "NO", "[UNAVAILABLE] Too many failed logins from your address; try again later");
    co_return;
  }
  auto check = auth::PasswordCheck::Invalid;
  if (!user.empty() && user.size() <= 64 && !password.empty() && password.size() <= 1024) {
    // g++ 12 miscompiles co_await inside conditions and temporaries across
    // one: keep each co_await a statement, its argument a named variable.
    std::function<bool()> verify = [accounts = &ctx_.accounts, u = std::string(user),
                                    p = std::string(password)]() mutable {
      const bool valid = accounts->verify_password(u, p);
      std::fill(p.begin(), p.end(), '\0');
      return valid;
    };
    check = co_await ctx_.password_pool.check(std::move(verify));
  }
  if (check == auth::PasswordCheck::Busy) {
    reply(cmd, "NO", "[UNAVAILABLE] Too many logins in progress; try again in a moment");
    co_return;
  }
  if (check == auth::PasswordCheck::Unavailable) {  // the account store is unreachable: not the client's fault
    reply(cmd, "NO", "[UNAVAILABLE] Cannot check credentials now; try again later");
    co_return;
  }
  if (check == auth::PasswordCheck::Invalid) {
    ++failed_logins_;
    ctx_.metrics.logins_failed.add();
    log_(LogLevel::Info, "peer={} failed login for '{}'", conn_.peer(), user.substr(0, 64));
    asio::steady_timer delay(conn_.executor(), ctx_.login_throttle.record_failure(address, user));
    co_await delay.async_wait(net::use_nothrow);
    if (failed_logins_ >= kMaxFailedLogins) {
      untagged("BYE Too many failed logins");
      logout_ = true;
    }
    reply(cmd, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
    co_return;
  }
  ctx_.login_throttle.record_success(address, user);
  co_await in_store([this, user] {
    user_ = ctx_.store.user(user);
    if (const auto account = ctx_.accounts.find(user)) user_->set_quota_limit(account->quota_bytes);
  });
  state_ = kAuthenticated;
  conn_.clear_deadline();
  conn_.set_idle_timeout(ctx_.config.idle_timeout);
  ctx_.metrics.logins_ok.add();
  log_(LogLevel::Info, "peer={} user={} logged in", conn_.peer(), user);
  reply(cmd, "OK", "[CAPABILITY " + capabilities() + "] Logged in");
}

net::Task<void> Session::cmd_login(const Command& cmd) {
  if (login_disabled()) {
    reply(cmd, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
    co_return;
  }
  if (cmd.args.size() != 2 || !cmd.args[0].is_astring() || !cmd.args[1].is_astring()) {
    reply(cmd, "BAD", "LOGIN needs a user name and a password");
    co_return;
  }
  co_await finish_login(cmd, cmd.args[0].text, cmd.args[1].text);
}

net::Task<void> Session::cmd_authenticate(const Command& cmd) {
  if (cmd.args.empty() || cmd.args.size() > 2 || cmd.args[0].kind != Arg::Kind::Atom) {
    reply(cmd, "BAD", "AUTHENTICATE needs a mechanism");
    co_return;
  }
  if (!cmd.args[0].is_atom("PLAIN")) {
    reply(cmd, "NO", "[CANNOT] Unsupported authentication mechanism");
    co_return;
  }
  if (login_disabled()) {
    reply(cmd, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
    co_return;
  }
  std::string response;
  if (cmd.args.size() == 2) {
    if (!cmd.args[1].is_astring()) {
      reply(cmd, "BAD", "Invalid initial response");
      co_return;
    }
    response = cmd.args[1].text == "=" ? std::string() : std::string(cmd.args[1].text);
  } else {
    out_ += "+ \r\n";
    co_await flush();
    auto line = co_await conn_.read_line();
    if (line.status != net::LineResult::Status::Ok) {
      logout_ = line.status == net::LineResult::Status::Closed;
      reply(cmd, "BAD", "Invalid response");
      co_return;
    }
    if (line.line == "*") {
      reply(cmd, "BAD", "Authentication cancelled");
      co_return;
    }
    response = std::string(line.line);
  }
  for (char c : response)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      reply(cmd, "BAD", "Invalid base64");
      co_return;
    }
  std::string plain = mime::base64_decode(response);
  // authzid NUL authcid NUL password
  auto nul1 = plain.find('\0');
  auto nul2 = nul1 == std::string::npos ? std::string::npos : plain.find('\0', nul1 + 1);
  if (nul2 == std::string::npos) {
    reply(cmd, "BAD", "Invalid PLAIN response");
    co_return;
  }
  std::string_view authz(plain.data(), nul1);
  std::string_view authc(plain.data() + nul1 + 1, nul2 - nul1 - 1);
  std::string_view password(plain.data() + nul2 + 1, plain.size() - nul2 - 1);
  if (!authz.empty() && authz != authc) {
    reply(cmd, "NO", "[AUTHORIZATIONFAILED] Cannot act as another user");
    co_return;
  }
  co_await finish_login(cmd, authc, password);
  std::fill(plain.begin(), plain.end(), '\0');
}

}  // namespace umstore::imap
