// AUTH PLAIN and LOGIN (RFC 4954, RFC 4616; Postfix's smtpd_sasl_glue):
// the user name is the mailbox number, checked on the delivery pool.
#include "smtp_session.hpp"

#include "common/ascii.hpp"
#include "common/e164.hpp"
#include "common/log.hpp"
#include "mime/message_parser.hpp"

namespace umstore::smtp {

bool SmtpSession::auth_offered() const {
  return server_.config.auth && (connection_.is_tls() || !server_.config.auth_requires_tls);
}

// AUTH PLAIN / LOGIN (RFC 4954, RFC 4616); the user name is the mailbox number.
net::Task<SmtpSession::After> SmtpSession::on_auth(std::string_view argument) {
  if (!server_.config.auth) {
    refuse(502, "5.5.1", "AUTH is not available on this port");
    co_return After::Continue;
  }
  if (!auth_offered()) {
    refuse(538, "5.7.11", "encryption required: STARTTLS before AUTH");
    co_return After::Continue;
  }
  if (helo_.empty() || !esmtp_) {
    refuse(503, "5.5.1", "send EHLO first");
    co_return After::Continue;
  }
  if (!authenticated_.empty() || transaction_) {
    refuse(503, "5.5.1", authenticated_.empty() ? "not during a mail transaction" : "already authenticated");
    co_return After::Continue;
  }
  const auto space = argument.find(' ');
  const std::string_view mechanism = argument.substr(0, space);
  std::optional<std::string> initial;
  if (space != std::string_view::npos) initial = std::string(argument.substr(space + 1));
  std::string user, password;
  if (ascii_iequals(mechanism, "PLAIN")) {
    std::optional<std::string> response = initial;
    if (!response) response = co_await read_auth_response("");
    if (!response) co_return After::Continue;  // cancelled; read_auth_response replied
    const std::string decoded = *response == "=" ? std::string() : mime::base64_decode(*response);
    const auto first = decoded.find('\0');
    const auto second = first == std::string::npos ? first : decoded.find('\0', first + 1);
    if (second == std::string::npos) {
      refuse(501, "5.5.2", "PLAIN response must be authzid NUL authcid NUL password in base64");
      co_return After::Continue;
    }
    const std::string authzid = decoded.substr(0, first);
    user = decoded.substr(first + 1, second - first - 1);
    password = decoded.substr(second + 1);
    if (!authzid.empty() && authzid != user) {
      refuse(535, "5.7.8", "authentication credentials invalid");
      co_return After::Continue;
    }
  } else if (ascii_iequals(mechanism, "LOGIN")) {
    std::optional<std::string> name = initial;
    if (!name) name = co_await read_auth_response("VXNlcm5hbWU6");  // "Username:"
    if (!name) co_return After::Continue;
    const auto secret = co_await read_auth_response("UGFzc3dvcmQ6");  // "Password:"
    if (!secret) co_return After::Continue;
    user = mime::base64_decode(*name);
    password = mime::base64_decode(*secret);
  } else {
    refuse(504, "5.5.4", "unrecognized authentication mechanism; use PLAIN or LOGIN");
    co_return After::Continue;
  }
  const std::string address = connection_.peer_address();
  auth::LoginThrottle& throttle = *server_.config.login_throttle;
  if (throttle.refused(address)) {
    // Before the password check: guessing costs the attacker a round trip
    // and us nothing. Only this address is refused.
    log_(LogLevel::Warning, "AUTH refused peer={}: too many failures from the address", connection_.peer());
    refuse(454, "4.7.0", "too many failed authentications from your address; try again later");
    co_return After::Continue;
  }
  const auto number = normalise_e164(user);
  auto check = auth::PasswordCheck::Invalid;
  if (number) check = co_await verify(*number, password);
  if (check == auth::PasswordCheck::Busy) {
    refuse(454, "4.7.0", "too many authentications in progress; try again in a moment");
    co_return After::Continue;
  }
  if (check == auth::PasswordCheck::Unavailable) {  // the account store is unreachable: not the client's fault
    refuse(454, "4.7.0", "cannot check credentials now; try again later");
    co_return After::Continue;
  }
  if (check == auth::PasswordCheck::Invalid) {
    log_(LogLevel::Warning, "AUTH failed peer={} user={}", connection_.peer(), user.substr(0, 64));
    asio::steady_timer delay(connection_.executor(), throttle.record_failure(address, number.value_or(user)));
    co_await delay.async_wait(net::use_nothrow);
    refuse(535, "5.7.8", "authentication credentials invalid");
    co_return After::Continue;
  }
  throttle.record_success(address, *number);
  authenticated_ = *number;
  log_(LogLevel::Info, "AUTH peer={} user={}", connection_.peer(), authenticated_);
  reply(235, "2.7.0", "authentication successful");
  co_return After::Continue;
}

// One line of a SASL exchange after a 334 challenge; nullopt after
// replying to a cancelled ("*") or broken exchange.
net::Task<std::optional<std::string>> SmtpSession::read_auth_response(std::string_view challenge) {
  reply(334, "", challenge);
  co_await flush();
  const auto line = co_await input_.read_line(kMaxCommandLine);
  if (line.status == LineInput::Status::Closed) {
    connection_.close();
    co_return std::nullopt;
  }
  if (line.status == LineInput::Status::TooLong) {
    refuse(500, "5.5.6", "authentication exchange line is too long");
    co_return std::nullopt;
  }
  if (line.text == "*") {
    refuse(501, "5.0.0", "authentication cancelled");
    co_return std::nullopt;
  }
  co_return std::string(line.text);
}

// Argon2id takes ~90 ms of CPU and 64 MiB: never on an I/O thread, nor on
// the delivery pool, whose threads the mail needs.
net::Task<auth::PasswordCheck> SmtpSession::verify(std::string number, std::string password) {
  // A named argument: g++ 12 mishandles temporaries across a co_await.
  std::function<bool()> check = [&accounts = server_.accounts, &number, &password] {
    return accounts.verify_password(number, password);
  };
  co_return co_await server_.config.password_pool->check(std::move(check));
}

}  // namespace umstore::smtp
