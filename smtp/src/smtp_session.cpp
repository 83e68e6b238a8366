#include "smtp_session.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/log.hpp"
#include "common/rfc5322_date.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "smtp";
// RFC 5321 §4.5.3.1.4 says 512 octets; clients with long ESMTP parameter
// lists (DSN ORCPT, RFC 3461 §5) exceed it, so we tolerate more.
constexpr std::size_t kMaxCommandLine = 4096;
// RFC 5321 §4.5.3.1.6 says 1000 octets per text line; real mail breaks that.
constexpr std::size_t kMaxDataLine = 64 * 1024;
// Postfix's smtpd_hard_error_limit idea: a client that keeps failing is a
// broken program or a prober, and gets disconnected.
constexpr unsigned kMaxErrors = 20;

bool is_helo_domain(std::string_view name) {
  return !name.empty() && name.size() <= kMaxDomain &&
         std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127; });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

bool has_prefix_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
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

std::optional<std::size_t> parse_size(std::string_view digits) {
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::size_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<std::size_t>(c - '0');
  return n;
}

}  // namespace

ServerContext::ServerContext(SmtpServerConfig config_in, mailstore::MailStore& store_in,
                             const mailstore::AccountStore& accounts_in)
    : config(std::move(config_in)), store(store_in), accounts(accounts_in),
      delivery_pool(std::max<std::size_t>(1, config.delivery_threads)) {}

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

bool BufferReservation::cover(std::size_t total) {
  constexpr std::size_t kStep = 256 * 1024;  // few atomic operations per message
  if (total <= held_) return true;
  std::size_t more = std::max(kStep, total - held_);
  if (server_.buffered_bytes.fetch_add(more) + more > server_.config.max_buffered_bytes) {
    server_.buffered_bytes -= more;
    return false;
  }
  held_ += more;
  return true;
}

SmtpSession::SmtpSession(ServerContext& server, net::Connection& connection)
    : server_(server), connection_(connection), input_(connection) {}

net::Task<void> SmtpSession::run() {
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
  log(LogLevel::Info, kLog, "session peer={} helo={} tls={} messages={} errors={}", connection_.peer(),
      helo_.empty() ? "-" : helo_, connection_.is_tls() ? "yes" : "no", messages_, errors_);
}

net::Task<SmtpSession::After> SmtpSession::dispatch(const Command& command) {
  switch (command.verb) {
    case Verb::Ehlo: on_ehlo(command.argument, true); break;
    case Verb::Helo: on_ehlo(command.argument, false); break;
    case Verb::Mail: on_mail(command.argument); break;
    case Verb::Rcpt: on_rcpt(command.argument); break;
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
    case Verb::Expn: case Verb::Bdat: case Verb::Auth:
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
  std::string lines = greeting + "\nPIPELINING\nSIZE " + std::to_string(config.max_message_bytes) +
                      "\n8BITMIME\nENHANCEDSTATUSCODES";
  if (config.tls && !connection_.is_tls()) lines += "\nSTARTTLS";
  // DSN, CHUNKING and AUTH are advertised here once their handlers exist.
  reply(250, "", lines);
}

void SmtpSession::on_mail(std::string_view argument) {
  if (helo_.empty()) return refuse(503, "5.5.1", "send EHLO or HELO first");
  if (transaction_) return refuse(503, "5.5.1", "sender already given; send RSET to start over");
  if (!has_prefix_ci(argument, "FROM:")) return refuse(501, "5.5.2", "syntax: MAIL FROM:<address>");
  PathArgument path;
  try {
    path = parse_reverse_path(argument.substr(5));
  } catch (const SmtpSyntaxError& e) {
    return refuse(e.reply_code(), e.enhanced(), e.what());
  }
  if (!check_mail_parameters(path.parameters)) return;
  transaction_ = Transaction{std::move(path.mailbox), {}};
  reply(250, "2.1.0", "sender " + format_path(transaction_->sender) + " OK");
}

// SIZE (RFC 1870) and BODY (RFC 6152); later RET/ENVID (DSN) and AUTH= join here.
bool SmtpSession::check_mail_parameters(const std::vector<EsmtpParameter>& parameters) {
  if (!parameters.empty() && !esmtp_) {
    refuse(555, "5.5.4", "MAIL parameters need EHLO, not HELO");
    return false;
  }
  for (const auto& parameter : parameters) {
    if (parameter.keyword == "SIZE") {
      auto size = parse_size(parameter.value);
      if (!size) {
        refuse(501, "5.5.4", "SIZE needs a number of octets");
        return false;
      }
      if (*size > server_.config.max_message_bytes) {
        reply(552, "5.3.4", "message size " + std::to_string(*size) + " exceeds the fixed maximum of " +
                                std::to_string(server_.config.max_message_bytes) + " octets");
        return false;
      }
    } else if (parameter.keyword == "BODY") {
      if (!iequals(parameter.value, "7BIT") && !iequals(parameter.value, "8BITMIME")) {
        refuse(501, "5.5.4", "BODY must be 7BIT or 8BITMIME");
        return false;
      }
    } else {
      refuse(555, "5.5.4", "MAIL parameter " + parameter.keyword + " is not supported");
      return false;
    }
  }
  return true;
}

void SmtpSession::on_rcpt(std::string_view argument) {
  if (!transaction_) return refuse(503, "5.5.1", "send MAIL FROM first");
  if (!has_prefix_ci(argument, "TO:")) return refuse(501, "5.5.2", "syntax: RCPT TO:<address>");
  PathArgument path;
  try {
    path = parse_forward_path(argument.substr(3));
  } catch (const SmtpSyntaxError& e) {
    return refuse(e.reply_code(), e.enhanced(), e.what());
  }
  // NOTIFY and ORCPT (DSN) will be accepted here.
  if (!path.parameters.empty())
    return refuse(555, "5.5.4", "RCPT parameter " + path.parameters.front().keyword + " is not supported");
  auto& recipients = transaction_->recipients;
  if (recipients.size() >= server_.config.max_recipients)
    return reply(452, "4.5.3", "too many recipients; send the rest in another transaction");
  const Mailbox& mailbox = *path.mailbox;
  std::optional<std::string> number;
  try {
    number = mailbox_for(mailbox);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kLog, "recipient lookup for {} failed: {}", mailbox.address(), e.what());
    return reply(451, "4.3.0", "cannot look up the recipient now, try again later");
  }
  if (!number) return;  // mailbox_for replied
  bool duplicate = std::any_of(recipients.begin(), recipients.end(), [&](const auto& r) { return r.number == *number; });
  if (!duplicate) recipients.push_back({mailbox.address(), *number});
  reply(250, "2.1.5", "recipient <" + mailbox.address() + "> OK");
}

// The E.164 mailbox a recipient maps to, or nullopt after refusing it.
std::optional<std::string> SmtpSession::mailbox_for(const Mailbox& recipient) {
  auto route = route_recipient(recipient, server_.config.local_domains);
  switch (route.kind) {
    case RecipientKind::Foreign:
      refuse(554, "5.7.1", "relaying denied: " + recipient.address() + " is not in a domain this server serves");
      return std::nullopt;
    case RecipientKind::NonMailUser:
      refuse(550, "5.1.1", recipient.address() + " does not accept mail (RFC 3801)");
      return std::nullopt;
    case RecipientKind::NotANumber:
      refuse(550, "5.1.1", "no mailbox " + recipient.local_part +
                               " here: local parts are E.164 numbers such as +15550100");
      return std::nullopt;
    case RecipientKind::Postmaster:
      if (auto number = postmaster_mailbox()) return number;
      refuse(550, "5.1.1", "postmaster has no mailbox here yet; contact the administrator another way");
      return std::nullopt;
    case RecipientKind::Number:
      if (server_.accounts.find(route.number)) return route.number;
      refuse(550, "5.1.1", "mailbox " + route.number + " does not exist here");
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> SmtpSession::postmaster_mailbox() const {
  const auto& configured = server_.config.postmaster_number;
  if (!configured.empty()) return server_.accounts.find(configured) ? std::optional(configured) : std::nullopt;
  auto accounts = server_.accounts.list();
  auto lowest = std::min_element(accounts.begin(), accounts.end(),
                                 [](const auto& a, const auto& b) { return a.number < b.number; });
  return lowest == accounts.end() ? std::nullopt : std::optional(lowest->number);
}

net::Task<SmtpSession::After> SmtpSession::on_data(std::string_view argument) {
  if (!transaction_) {
    refuse(503, "5.5.1", "send MAIL FROM first");
    co_return After::Continue;
  }
  if (transaction_->recipients.empty()) {
    refuse(503, "5.5.1", "no valid recipients");
    co_return After::Continue;
  }
  if (!argument.empty()) {
    refuse(501, "5.5.4", "DATA takes no argument");
    co_return After::Continue;
  }
  reply(354, "", "end data with <CR><LF>.<CR><LF>");
  co_await flush();

  std::string queue_id = server_.next_queue_id();
  std::string message = trace_headers(queue_id);
  BufferReservation reservation(server_);  // held until delivery is done
  DataResult data = co_await read_data(message, reservation);
  if (data.closed) co_return After::Close;
  if (data.too_big) {
    reply(552, "5.3.4", "message exceeds the fixed maximum size of " +
                            std::to_string(server_.config.max_message_bytes) + " octets");
  } else if (data.out_of_memory) {
    log(LogLevel::Warning, kLog, "buffer budget of {} octets spent, deferring a message from {}",
        server_.config.max_buffered_bytes, connection_.peer());
    reply(452, "4.3.1", "insufficient system storage, try again later");
  } else if (data.line_too_long) {
    reply(554, "5.6.0", "message has a line longer than " + std::to_string(kMaxDataLine) +
                            " octets (RFC 5322 allows 998)");
  } else {
    auto result = co_await deliver(queue_id, message, data.octets);
    reply(result.code, result.enhanced, result.text);
    if (result.code / 100 == 2) ++messages_;
  }
  transaction_.reset();
  co_return After::Continue;
}

// Reads the message to the final dot, undoing dot-stuffing and storing CRLF
// line ends. Past the size limit it keeps reading (the client is still
// sending) but stops storing.
net::Task<SmtpSession::DataResult> SmtpSession::read_data(std::string& message, BufferReservation& reservation) {
  DataResult result;
  bool previous_crlf = true;  // the DATA line ended the previous "line"
  const std::size_t limit = server_.config.max_message_bytes;
  for (;;) {
    auto line = co_await input_.read_line(kMaxDataLine);
    if (line.status == LineInput::Status::Closed) {
      result.closed = true;
      co_return result;
    }
    if (line.status == LineInput::Status::TooLong) {
      result.line_too_long = true;
      previous_crlf = line.crlf;
      continue;
    }
    std::string_view text = line.text;
    if (text == "." && line.crlf && previous_crlf) co_return result;
    previous_crlf = line.crlf;
    if (!text.empty() && text.front() == '.') text.remove_prefix(1);
    result.octets += text.size() + 2;
    if (result.octets > limit) {
      result.too_big = true;
      continue;
    }
    if (result.out_of_memory || !reservation.cover(message.size() + text.size() + 2)) {
      result.out_of_memory = true;
      continue;
    }
    message.append(text);
    message.append("\r\n");
  }
}

std::string SmtpSession::trace_headers(std::string_view queue_id) const {
  const auto& recipients = transaction_->recipients;
  std::string protocol = esmtp_ ? (connection_.is_tls() ? "ESMTPS" : "ESMTP") : "SMTP";
  std::string headers = "Return-Path: " + format_path(transaction_->sender) + "\r\n";
  headers += "Received: from " + helo_ + " ([" + connection_.peer_address() + "])\r\n\tby " +
             server_.config.hostname + " (umstore) with " + protocol + " id " + std::string(queue_id) + "\r\n\t";
  // Naming one recipient is useful for tracing; naming all would leak Bcc.
  if (recipients.size() == 1) headers += "for <" + recipients.front().address + ">";
  headers += "; " + format_rfc5322_date(std::chrono::system_clock::now()) + "\r\n";
  return headers;
}

net::Task<SmtpReplyText> SmtpSession::deliver(std::string_view queue_id, std::string_view message,
                                              std::size_t octets) {
  std::string sender = format_path(transaction_->sender);
  DeliveryJob job{queue_id, sender, transaction_->recipients, message, octets};
  // The mailstore fsyncs: run it on the delivery pool so this I/O thread
  // keeps serving other connections meanwhile.
  co_return co_await asio::co_spawn(
      server_.delivery_pool,
      [&]() -> net::Task<SmtpReplyText> { co_return deliver_locally(server_.store, job); },
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
  reply(214, "2.0.0", "umstore SMTP: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS\n"
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
    log(LogLevel::Info, kLog, "TLS handshake with {} failed", connection_.peer());
    co_return After::Close;
  }
  // Forget everything learned before TLS; the client must EHLO again.
  helo_.clear();
  esmtp_ = false;
  transaction_.reset();
  co_return After::Continue;
}

void SmtpSession::reply(int code, std::string_view enhanced, std::string_view text) {
  pending_replies_ += format_reply(code, enhanced, text);
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
