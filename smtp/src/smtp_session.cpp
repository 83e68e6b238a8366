#include "smtp_session.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/e164.hpp"
#include "common/log.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"

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

// RFC 3461 §4.2: ORCPT is addr-type ";" xtext, at most 500 characters.
bool is_valid_orcpt(std::string_view value) {
  auto semicolon = value.find(';');
  if (value.size() > 500 || semicolon == 0 || semicolon == std::string_view::npos) return false;
  return xtext_decode(value.substr(semicolon + 1)).has_value();
}

// "a.b.c.d/len" or an address alone; true when `peer` is inside.
bool in_network(const asio::ip::address& peer, std::string_view network) {
  auto slash = network.find('/');
  std::error_code ec;
  auto base = asio::ip::make_address(std::string(network.substr(0, slash)), ec);
  if (ec) return false;
  auto bytes_of = [](const asio::ip::address& a) {
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      return std::vector<unsigned char>(b.begin(), b.end());
    }
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
      return std::vector<unsigned char>(b.begin(), b.end());
    }
    auto b = v6.to_bytes();
    return std::vector<unsigned char>(b.begin(), b.end());
  };
  const auto want = bytes_of(base), have = bytes_of(peer);
  if (want.size() != have.size()) return false;
  unsigned prefix = static_cast<unsigned>(want.size() * 8);
  if (slash != std::string_view::npos) {
    const std::string digits(network.substr(slash + 1));
    if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    prefix = std::min(prefix, static_cast<unsigned>(std::stoul(digits)));
  }
  for (unsigned bit = 0; bit < prefix; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((want[bit / 8] & mask) != (have[bit / 8] & mask)) return false;
  }
  return true;
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
    : server_(server), connection_(connection), input_(connection) {
  std::error_code ec;
  const auto peer = asio::ip::make_address(connection_.peer_address(), ec);
  if (!ec)
    for (const auto& network : server_.config.trusted_networks)
      if (in_network(peer, network)) trusted_peer_ = true;
}

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
  std::string lines = greeting + "\nPIPELINING\nSIZE " + std::to_string(config.max_message_bytes) +
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
  PathArgument path;
  try {
    path = parse_reverse_path(argument.substr(5));
  } catch (const SmtpSyntaxError& e) {
    return refuse(e.reply_code(), e.enhanced(), e.what());
  }
  Transaction transaction;
  if (!check_mail_parameters(path.parameters, transaction)) return;
  transaction.sender = std::move(path.mailbox);
  transaction_.emplace(std::move(transaction));
  reply(250, "2.1.0", "sender " + format_path(transaction_->sender) + " OK");
}

// SIZE (RFC 1870), BODY (RFC 6152), RET/ENVID (RFC 3461), SMTPUTF8 (RFC 6531), AUTH= (RFC 4954).
bool SmtpSession::check_mail_parameters(const std::vector<EsmtpParameter>& parameters, Transaction& transaction) {
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
      if (!ascii_iequals(parameter.value, "7BIT") && !ascii_iequals(parameter.value, "8BITMIME")) {
        refuse(501, "5.5.4", "BODY must be 7BIT or 8BITMIME");
        return false;
      }
      transaction.body_8bit = !ascii_iequals(parameter.value, "7BIT");
    } else if (parameter.keyword == "SMTPUTF8" && parameter.value.empty()) {
      transaction.smtputf8 = true;
    } else if (parameter.keyword == "AUTH") {
      // RFC 4954 §5: an identity from an earlier hop; we keep nothing of it.
    } else if (parameter.keyword == "RET" && server_.config.queue) {
      if (!ascii_iequals(parameter.value, "FULL") && !ascii_iequals(parameter.value, "HDRS")) {
        refuse(501, "5.5.4", "RET must be FULL or HDRS");
        return false;
      }
      transaction.ret = ascii_iequals(parameter.value, "FULL") ? "FULL" : "HDRS";
    } else if (parameter.keyword == "ENVID" && server_.config.queue) {
      if (parameter.value.size() > 100 || !xtext_decode(parameter.value)) {
        refuse(501, "5.5.4", "ENVID must be xtext of at most 100 characters");
        return false;
      }
      transaction.envid = parameter.value;
    } else {
      refuse(555, "5.5.4", "MAIL parameter " + parameter.keyword + " is not supported");
      return false;
    }
  }
  return true;
}

void SmtpSession::on_rcpt(std::string_view argument) {
  if (!transaction_) return refuse(503, "5.5.1", "send MAIL FROM first");
  if (!ascii_istarts_with(argument, "TO:")) return refuse(501, "5.5.2", "syntax: RCPT TO:<address>");
  PathArgument path;
  try {
    path = parse_forward_path(argument.substr(3));
  } catch (const SmtpSyntaxError& e) {
    return refuse(e.reply_code(), e.enhanced(), e.what());
  }
  Recipient accepted;
  if (!check_rcpt_parameters(path.parameters, accepted)) return;
  auto& recipients = transaction_->recipients;
  if (recipients.size() >= server_.config.max_recipients)
    return reply(452, "4.5.3", "too many recipients; send the rest in another transaction");
  const Mailbox& mailbox = *path.mailbox;
  std::optional<std::vector<std::string>> numbers;
  try {
    numbers = mailboxes_for(mailbox);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kLog, "recipient lookup for {} failed: {}", mailbox.address(), e.what());
    return reply(451, "4.3.0", "cannot look up the recipient now, try again later");
  }
  if (!numbers) return;  // mailboxes_for replied
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

bool SmtpSession::check_rcpt_parameters(const std::vector<EsmtpParameter>& parameters, Recipient& recipient) {
  for (const auto& parameter : parameters) {
    if (parameter.keyword == "NOTIFY" && server_.config.queue) {
      auto notify = parse_notify(parameter.value);
      if (!notify || parameter.value.empty()) {
        refuse(501, "5.5.4", "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
        return false;
      }
      recipient.notify = *notify;
    } else if (parameter.keyword == "ORCPT" && server_.config.queue) {
      if (!is_valid_orcpt(parameter.value)) {
        refuse(501, "5.5.4", "ORCPT must be addr-type;xtext of at most 500 characters");
        return false;
      }
      recipient.orcpt = parameter.value;
    } else {
      refuse(555, "5.5.4", "RCPT parameter " + parameter.keyword + " is not supported");
      return false;
    }
  }
  return true;
}

bool SmtpSession::may_relay() const {
  return server_.config.queue && (trusted_peer_ || !authenticated_.empty());
}

// The E.164 mailboxes a recipient maps to (one empty string: relayed
// elsewhere; several: an alias naming a list), or nullopt after refusing it.
std::optional<std::vector<std::string>> SmtpSession::mailboxes_for(const Mailbox& recipient) {
  auto route = route_recipient(recipient, server_.config.local_domains);
  using Numbers = std::vector<std::string>;
  switch (route.kind) {
    case RecipientKind::Foreign:
      if (may_relay()) return Numbers{std::string()};
      refuse(554, "5.7.1", "relaying denied: " + recipient.address() + " is not in a domain this server serves");
      return std::nullopt;
    case RecipientKind::NonMailUser:
      refuse(550, "5.1.1", recipient.address() + " does not accept mail (RFC 3801)");
      return std::nullopt;
    case RecipientKind::NotANumber: {
      std::string alias = recipient.local_part;
      alias = ascii_lower(alias);
      if (const auto found = server_.config.aliases.find(alias); found != server_.config.aliases.end()) {
        Numbers members;
        for (const auto& number : found->second) {
          if (server_.accounts.find(number)) members.push_back(number);
          else log(LogLevel::Warning, kLog, "alias {} names {}, which has no mailbox", alias, number);
        }
        if (!members.empty()) return members;
      }
      const auto& policy = server_.config.delivery_policy;
      if (policy && delivery::is_gateway_drop_address(*policy, recipient.address()))
        return Numbers{std::string(kMailboxFromSubject)};
      // DSNs for copies the ingest queue forwarded: queued, and the runner hands them back.
      const auto& reports = server_.config.report_address;
      if (server_.config.queue && !reports.empty() && ascii_iequals(recipient.address(), reports))
        return Numbers{std::string()};
      refuse(550, "5.1.1", "no mailbox " + recipient.local_part +
                               " here: local parts are E.164 numbers such as +15550100");
      return std::nullopt;
    }
    case RecipientKind::Postmaster:
      if (auto number = postmaster_mailbox()) return Numbers{*number};
      refuse(550, "5.1.1", "postmaster has no mailbox here yet; contact the administrator another way");
      return std::nullopt;
    case RecipientKind::Number:
      if (server_.accounts.find(route.number)) return Numbers{route.number};
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
  if (transaction_->chunking) {
    refuse(503, "5.5.1", "DATA cannot follow BDAT in one transaction");
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
    co_await finish_message(queue_id, message, data.octets);
  }
  transaction_.reset();
  co_return After::Continue;
}

net::Task<void> SmtpSession::finish_message(std::string_view queue_id, std::string_view message, std::size_t octets) {
  auto result = co_await deliver(queue_id, message, octets);
  reply(result.code, result.enhanced, result.text);
  if (result.code / 100 == 2) ++messages_;
}

// BDAT <size> [LAST] (RFC 3030): the chunk is read whatever we answer, so
// the conversation stays in step.
net::Task<SmtpSession::After> SmtpSession::on_bdat(std::string_view argument) {
  const auto space = argument.find(' ');
  const auto size = parse_size(argument.substr(0, space));
  std::string_view rest = space == std::string_view::npos ? std::string_view{} : argument.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const bool last = ascii_iequals(rest, "LAST");
  if (!size || (!rest.empty() && !last)) {
    // Without a size we cannot tell where the chunk ends: give up on the connection.
    reply(501, "5.5.4", "syntax: BDAT <octets> [LAST]; closing the connection");
    co_return After::Close;
  }
  const bool usable = transaction_ && !transaction_->recipients.empty() && esmtp_;
  const std::size_t limit = server_.config.max_message_bytes;
  bool keep = usable;
  if (usable) {
    auto& t = *transaction_;
    if (!t.chunking) {
      t.chunking = true;
      t.queue_id = server_.next_queue_id();
      t.chunks = trace_headers(t.queue_id);
      t.reservation = std::make_unique<BufferReservation>(server_);
    }
    t.chunk_octets += *size;
    keep = t.chunk_octets <= limit && t.reservation->cover(t.chunks.size() + *size);
  }
  std::string discard;
  const bool complete = co_await input_.read_exact(*size, usable ? transaction_->chunks : discard, keep);
  if (!complete) co_return After::Close;
  if (!usable) {
    refuse(503, "5.5.1", transaction_ ? "no valid recipients" : "send MAIL FROM first");
    co_return After::Continue;
  }
  auto& t = *transaction_;
  if (!last) {
    reply(250, "2.0.0", std::to_string(*size) + " octets received");
    co_return After::Continue;
  }
  if (t.chunk_octets > limit) {
    reply(552, "5.3.4", "message exceeds the fixed maximum size of " + std::to_string(limit) + " octets");
  } else if (t.chunks.size() < t.chunk_octets) {
    reply(452, "4.3.1", "insufficient system storage, try again later");
  } else {
    co_await finish_message(t.queue_id, t.chunks, t.chunk_octets);
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

// Mail for other domains, and mail whose sender asked to hear of its
// delivery, goes through the queue; the rest straight into the mailstore.
bool SmtpSession::needs_queue() const {
  if (!server_.config.queue) return false;
  return std::any_of(transaction_->recipients.begin(), transaction_->recipients.end(),
                     [](const auto& r) { return r.number.empty() || r.notify.wants_success(); });
}

net::Task<SmtpReplyText> SmtpSession::deliver(std::string_view queue_id, std::string_view message,
                                              std::size_t octets) {
  std::string sender = format_path(transaction_->sender);
  const bool queued = needs_queue();
  std::vector<LocalRecipient> locals;
  for (const auto& r : transaction_->recipients) locals.push_back({r.address, r.number});
  DeliveryJob job{queue_id, sender, locals, message, octets,
                  server_.config.delivery_policy ? &*server_.config.delivery_policy : nullptr};
  // The mailstore and the queue fsync: run them on the delivery pool so
  // this I/O thread keeps serving other connections meanwhile.
  co_return co_await asio::co_spawn(
      server_.delivery_pool,
      [&]() -> net::Task<SmtpReplyText> {
        co_return queued ? enqueue(queue_id, message) : deliver_locally(server_.store, job);
      },
      asio::use_awaitable);
}

// Runs on the delivery pool. The queue keeps the message without our
// Return-Path: that is added at final delivery, never sent to a next hop.
SmtpReplyText SmtpSession::enqueue(std::string_view queue_id, std::string_view message) {
  const auto& t = *transaction_;
  QueuedEnvelope envelope;
  envelope.id = std::string(queue_id);
  envelope.sender = t.sender ? t.sender->address() : "";
  envelope.ret = t.ret;
  envelope.envid = t.envid;
  envelope.smtputf8 = t.smtputf8;
  envelope.body_8bit = t.body_8bit;
  envelope.received_from = helo_ + " ([" + connection_.peer_address() + "])";
  envelope.arrival = Clock::now();
  envelope.next_attempt = envelope.arrival;
  for (const auto& r : t.recipients) {
    QueuedRecipient queued;
    queued.address = r.address;
    queued.mailbox = r.number;
    queued.notify = r.notify;
    queued.orcpt = r.orcpt;
    envelope.recipients.push_back(std::move(queued));
  }
  if (message.starts_with("Return-Path:")) message.remove_prefix(std::min(message.size(), message.find('\n') + 1));
  try {
    server_.config.queue->enqueue(envelope, message);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kLog, "queue id={} from={} failed: {}", queue_id, envelope.sender, e.what());
    return {451, "4.3.0", "local error while queueing the message, try again later"};
  }
  log(LogLevel::Info, kLog, "queued id={} from=<{}> recipients={} size={}", queue_id, envelope.sender,
      envelope.recipients.size(), message.size());
  if (server_.config.queued) server_.config.queued();
  return {250, "2.0.0", "OK: queued as " + std::string(queue_id)};
}

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
  const auto number = normalise_e164(user);
  const bool valid = number ? co_await verify(*number, password) : false;
  if (!valid) {
    log(LogLevel::Warning, kLog, "AUTH failed peer={} user={}", connection_.peer(), user.substr(0, 64));
    refuse(535, "5.7.8", "authentication credentials invalid");
    co_return After::Continue;
  }
  authenticated_ = *number;
  log(LogLevel::Info, kLog, "AUTH peer={} user={}", connection_.peer(), authenticated_);
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

// Argon2id takes ~90 ms of CPU: never on an I/O thread.
net::Task<bool> SmtpSession::verify(std::string number, std::string password) {
  co_return co_await asio::co_spawn(
      server_.delivery_pool,
      [&]() -> net::Task<bool> { co_return server_.accounts.verify_password(number, password); },
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
    log(LogLevel::Info, kLog, "TLS handshake with {} failed", connection_.peer());
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
