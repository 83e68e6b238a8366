// The SMTP state machine: greeting, command dispatch, EHLO/MAIL/RCPT/RSET,
// STARTTLS and replies (Postfix's smtpd). DATA and BDAT are in
// session_data.cpp, AUTH in session_auth.cpp, recipient checks in
// recipient_checks.cpp, ESMTP parameters in envelope_parameters.cpp.
#include "smtp_session.hpp"

#include <algorithm>
#include <chrono>

#include "common/ascii.hpp"
#include "common/log.hpp"

namespace umstore::smtp {
namespace {

// Postfix's smtpd_hard_error_limit idea: a client that keeps failing is a
// broken program or a prober, and gets disconnected.
constexpr unsigned kMaxErrors = 20;

bool is_helo_domain(std::string_view name) {
  return !name.empty() && name.size() <= kMaxDomain &&
         std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127; });
}

// Verbs after which a pipelining client waits for our reply (RFC 2920 §3.1).
bool ends_pipelined_group(Verb verb) {
  switch (verb) {
    case Verb::Ehlo: case Verb::Helo: case Verb::Data: case Verb::Vrfy: case Verb::Expn:
    case Verb::Quit: case Verb::Noop: case Verb::Starttls: case Verb::Auth:
      return true;
    default:
      return false;
  }
}


}  // namespace

ServerContext::ServerContext(SmtpServerConfig config_in, mailstore::MailStore& store_in,
                             const mailstore::AccountStore& accounts_in)
    : config(std::move(config_in)), accounts(accounts_in), store(store_in),
      local_delivery(store_in, config.delivery_policy),
      delivery_pool(std::max<std::size_t>(1, config.delivery_threads)),
      max_message_bytes(config.max_message_bytes), max_recipients(config.max_recipients),
      idle_timeout(config.idle_timeout), metrics(*config.metrics) {
  if (config.sender_checks) sender_check_pool.emplace(std::max<std::size_t>(1, config.sender_checks->threads));
}

std::string ServerContext::next_queue_id() {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  return fmt::format("{:X}{:04X}", micros, id_counter_.fetch_add(1) & 0xFFFF);
}

void ServerContext::remember(const std::shared_ptr<net::Connection>& connection) {
  std::lock_guard lock(mutex_);
  std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
  connections_.push_back(connection);
}

void ServerContext::close_all() {
  std::lock_guard lock(mutex_);
  // Each connection belongs to its session's strand: close it there.
  for (const auto& weak : connections_)
    if (auto connection = weak.lock()) asio::post(connection->executor(), [connection] { connection->close(); });
  connections_.clear();
}

SmtpSession::SmtpSession(ServerContext& server, net::Connection& connection)
    : server_(server), connection_(connection), input_(connection) {
  trusted_peer_ = peer_in_trusted_networks();
}

net::Task<void> SmtpSession::run() {
  server_.metrics.sessions.add();
  const GaugeHold open(server_.metrics.sessions_open);
  log_(LogLevel::Debug, "connect peer={}", connection_.peer());
  if (server_.config.implicit_tls) {
    const bool secured = co_await connection_.start_tls(*server_.config.tls);  // not in the if: g++ 12 bug
    if (!secured) {
      log_(LogLevel::Info, "TLS handshake with {} failed{}", connection_.peer(),
           connection_.timed_out() ? " (timed out)" : "");
      co_return;
    }
  }
  reply(220, "", server_.config.hostname + " ESMTP umstore ready");
  co_await flush();
  while (connection_.is_open()) {
    auto line = co_await input_.read_line(kMaxCommandLine);
    if (line.status == LineInput::Status::Closed) break;
    Verb verb = Verb::Unknown;
    After after = After::Continue;
    if (line.status == LineInput::Status::TooLong) {
      refuse(500, "5.5.6", "command line too long (limit " + std::to_string(kMaxCommandLine) + " octets)");
    } else {
      Command command = parse_command(line.text);
      verb = command.verb;
      after = co_await dispatch(command);
    }
    if (errors_ >= kMaxErrors && after == After::Continue) {
      reply(421, "4.7.0", server_.config.hostname + " too many errors, closing the connection");
      after = After::Close;
    }
    if (after == After::Close || ends_pipelined_group(verb) || input_.buffered() == 0) co_await flush();
    if (after == After::Close) break;
  }
  connection_.close();
  log_(LogLevel::Info, "session peer={} helo={} tls={} messages={} errors={}", connection_.peer(),
      helo_.empty() ? "-" : helo_, connection_.is_tls() ? "yes" : "no", messages_, errors_);
}

net::Task<SmtpSession::After> SmtpSession::dispatch(const Command& command) {
  switch (command.verb) {
    case Verb::Ehlo: on_ehlo(command.argument, true); break;
    case Verb::Helo: on_ehlo(command.argument, false); break;
    case Verb::Mail: on_mail(command.argument); break;
    case Verb::Rcpt: co_await on_rcpt(command.argument); break;
    case Verb::Data: co_return co_await on_data(command.argument);
    case Verb::Rset: on_rset(command.argument); break;
    case Verb::Noop: on_noop(); break;
    case Verb::Vrfy: on_vrfy(command.argument); break;
    case Verb::Help: on_help(); break;
    case Verb::Starttls: co_return co_await on_starttls(command.argument);
    case Verb::Quit:
      reply(221, "2.0.0", server_.config.hostname + " closing connection");
      co_return After::Close;
    // Recognised but not offered yet: EXPN (mailing lists), BDAT (RFC 3030
    // CHUNKING) and AUTH (RFC 4954) get their own handlers when they come.
    case Verb::Bdat: co_return co_await on_bdat(command.argument);
    case Verb::Auth: co_return co_await on_auth(command.argument);
    case Verb::Expn:
      refuse(502, "5.5.1", "command not implemented");
      break;
    case Verb::Unknown:
      refuse(500, "5.5.1", "unknown command");
      break;
  }
  co_return After::Continue;
}

void SmtpSession::on_ehlo(std::string_view argument, bool extended) {
  if (!is_helo_domain(argument)) {
    refuse(501, "5.5.4", std::string(extended ? "EHLO" : "HELO") + " needs a domain name or address literal");
    return;
  }
  helo_ = std::string(argument);
  esmtp_ = extended;
  transaction_.reset();  // EHLO implies RSET (RFC 5321 §4.1.4)
  const auto& config = server_.config;
  std::string greeting = config.hostname + " greets " + helo_;
  if (!extended) {
    reply(250, "", greeting);
    return;
  }
  std::string lines = greeting + "\nPIPELINING\nSIZE " + std::to_string(server_.max_message_bytes.load()) +
                      "\n8BITMIME\nENHANCEDSTATUSCODES\nCHUNKING\nSMTPUTF8";
  if (config.queue) lines += "\nDSN";
  if (config.tls && !connection_.is_tls()) lines += "\nSTARTTLS";
  if (auth_offered()) lines += "\nAUTH PLAIN LOGIN";
  reply(250, "", lines);
}

void SmtpSession::on_mail(std::string_view argument) {
  if (helo_.empty()) return refuse(503, "5.5.1", "send EHLO or HELO first");
  if (transaction_) return refuse(503, "5.5.1", "sender already given; send RSET to start over");
  if (server_.config.require_auth && authenticated_.empty())
    return refuse(530, "5.7.0", "authentication required: AUTH first");
  if (!ascii_istarts_with(argument, "FROM:")) return refuse(501, "5.5.2", "syntax: MAIL FROM:<address>");
  auto path = parsed_path(parse_reverse_path, argument.substr(5));
  if (!path) return;
  Transaction transaction;
  if (!check_mail_parameters(path->parameters, transaction)) return;
  transaction.sender = std::move(path->mailbox);
  transaction_.emplace(std::move(transaction));
  reply(250, "2.1.0", "sender " + format_path(transaction_->sender) + " OK");
}

// parse(text), or nullopt after refusing the command with what is wrong in it.
std::optional<PathArgument> SmtpSession::parsed_path(PathArgument (*parse)(std::string_view), std::string_view text) {
  try {
    return parse(text);
  } catch (const SmtpSyntaxError& e) {
    refuse(e.reply_code(), e.enhanced(), e.what());
    return std::nullopt;
  }
}

net::Task<void> SmtpSession::on_rcpt(std::string_view argument) {
  if (!transaction_) co_return refuse(503, "5.5.1", "send MAIL FROM first");
  if (!ascii_istarts_with(argument, "TO:")) co_return refuse(501, "5.5.2", "syntax: RCPT TO:<address>");
  const auto path = parsed_path(parse_forward_path, argument.substr(3));
  if (!path) co_return;
  Recipient accepted;
  if (!check_rcpt_parameters(path->parameters, accepted)) co_return;
  auto& recipients = transaction_->recipients;
  if (recipients.size() >= server_.max_recipients.load())
    co_return reply(452, "4.5.3", "too many recipients; send the rest in another transaction");
  const Mailbox& mailbox = *path->mailbox;
  if (co_await took_fax_recipient(mailbox, accepted)) co_return;
  if (is_fax_transaction())
    co_return reply(452, "4.5.3", "a fax goes in a transaction of its own; send this recipient in another one");
  std::optional<std::vector<std::string>> numbers;
  try {
    numbers = mailboxes_for(mailbox);
  } catch (const std::exception& e) {
    log_(LogLevel::Error, "recipient lookup for {} failed: {}", mailbox.address(), e.what());
    co_return reply(451, "4.3.0", "cannot look up the recipient now, try again later");
  }
  if (!numbers) co_return;  // mailboxes_for replied
  // Already full: refused now rather than after the whole message arrived
  // (a message that would not fit gets 452 4.2.2 after DATA).
  if (const auto full = co_await full_mailbox(*numbers))
    co_return reply(452, "4.2.2", "mailbox " + *full + " is full; try again later");
  accepted.address = mailbox.address();
  for (const auto& number : *numbers) {
    const bool duplicate = std::any_of(recipients.begin(), recipients.end(), [&](const auto& r) {
      return number.empty() ? ascii_iequals(r.address, accepted.address) : r.number == number;
    });
    if (duplicate) continue;
    Recipient member = accepted;
    member.number = number;
    recipients.push_back(std::move(member));
  }
  reply(250, "2.1.5", "recipient <" + mailbox.address() + "> OK");
}

net::Task<std::optional<std::string>> SmtpSession::full_mailbox(const std::vector<std::string>& numbers) {
  std::vector<std::string> local;
  for (const auto& number : numbers)
    if (!number.empty() && number != delivery::kMailboxFromSubject) local.push_back(number);
  if (local.empty()) co_return std::nullopt;
  co_return co_await asio::co_spawn(
      server_.delivery_pool,
      [&]() -> net::Task<std::optional<std::string>> {
        for (const auto& number : local) {
          try {
            if (mailstore::first_full(server_.store.user(number)->quota(), false)) co_return number;
          } catch (const std::exception& e) {
            log_(LogLevel::Warning, "quota of {} unknown at RCPT ({}): checked after DATA", number, e.what());
          }
        }
        co_return std::nullopt;
      },
      asio::use_awaitable);
}


void SmtpSession::on_rset(std::string_view argument) {
  if (!argument.empty()) return refuse(501, "5.5.4", "RSET takes no argument");
  transaction_.reset();
  reply(250, "2.0.0", "OK");
}

void SmtpSession::on_noop() { reply(250, "2.0.0", "OK"); }

void SmtpSession::on_vrfy(std::string_view argument) {
  if (argument.empty()) return refuse(501, "5.5.4", "syntax: VRFY <address>");
  // Answering would let anyone enumerate mailboxes (RFC 5321 §3.5.3).
  reply(252, "2.5.0", "cannot VRFY, but send the message and delivery will be attempted");
}

void SmtpSession::on_help() {
  reply(214, "2.0.0", "umstore SMTP: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\n"
                      "see RFC 5321");
}

net::Task<SmtpSession::After> SmtpSession::on_starttls(std::string_view argument) {
  if (!server_.config.tls) {
    refuse(502, "5.5.1", "STARTTLS is not available");
    co_return After::Continue;
  }
  if (connection_.is_tls()) {
    refuse(503, "5.5.1", "TLS is already active");
    co_return After::Continue;
  }
  if (!argument.empty()) {
    refuse(501, "5.5.4", "STARTTLS takes no argument");
    co_return After::Continue;
  }
  reply(220, "2.0.0", "ready to start TLS");
  co_await flush();
  // Anything pipelined after STARTTLS came in clear text: drop it (RFC 3207 §6).
  input_.discard();
  // (g++ 12 miscompiles a co_await directly inside the if condition.)
  const bool secured = co_await connection_.start_tls(*server_.config.tls);
  if (!secured) {
    log_(LogLevel::Info, "TLS handshake with {} failed", connection_.peer());
    co_return After::Close;
  }
  // Forget everything learned before TLS; the client must EHLO again.
  helo_.clear();
  authenticated_.clear();
  esmtp_ = false;
  transaction_.reset();
  co_return After::Continue;
}

void SmtpSession::reply(int code, std::string_view enhanced, std::string_view text) {
  server_.metrics.replies.count(code);
  pending_replies_ += format_reply(code, enhanced, text);
}

void SmtpSession::message_reply(int code, std::string_view enhanced, std::string_view text) {
  server_.metrics.messages.count(code);
  reply(code, enhanced, text);
}

void SmtpSession::refuse(int code, std::string_view enhanced, std::string_view text) {
  ++errors_;
  reply(code, enhanced, text);
}

net::Task<void> SmtpSession::flush() {
  if (pending_replies_.empty()) co_return;
  std::string out = std::move(pending_replies_);
  pending_replies_.clear();
  co_await connection_.write(out);
}

}  // namespace umstore::smtp
