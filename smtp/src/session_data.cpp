// DATA and BDAT (RFC 5321 §4.1.1.4, RFC 3030): reading the message, then
// handing it to the queue or to local delivery on the delivery pool.
#include "smtp_session.hpp"

#include <algorithm>
#include <chrono>

#include "common/ascii.hpp"
#include "common/log.hpp"

namespace umstore::smtp {
namespace {

// RFC 5321 §4.5.3.1.6 says 1000 octets per text line; real mail breaks that.
constexpr std::size_t kMaxDataLine = 64 * 1024;

// A line of DATA and its CRLF. RFC 5322 allows CR only before LF: a bare CR
// is stored as a line end, as a bare LF is, never as is (readers disagree
// on what it means).
void append_line(std::string& message, std::string_view text) {
  for (auto cr = text.find('\r'); cr != std::string_view::npos; cr = text.find('\r')) {
    message.append(text.substr(0, cr)).append("\r\n");
    text.remove_prefix(cr + 1);
  }
  message.append(text).append("\r\n");
}

}  // namespace

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
  std::string message;
  BufferReservation reservation(server_);  // held until delivery is done
  DataResult data = co_await read_data(message, reservation);
  if (data.closed) co_return After::Close;
  if (data.too_big) {
    message_reply(552, "5.3.4", "message exceeds the fixed maximum size of " + std::to_string(data.limit) + " octets");
  } else if (data.out_of_memory) {
    log_(LogLevel::Warning, "buffer budget of {} octets spent, deferring a message from {}",
         server_.config.buffer_budget->limit(), connection_.peer());
    message_reply(452, "4.3.1", "insufficient system storage, try again later");
  } else if (data.line_too_long) {
    message_reply(554, "5.6.0", "message has a line longer than " + std::to_string(kMaxDataLine) +
                            " octets (RFC 5322 allows 998)");
  } else {
    co_await finish_message(queue_id, message);
  }
  transaction_.reset();
  co_return After::Continue;
}

net::Task<void> SmtpSession::finish_message(std::string_view queue_id, std::string_view message) {
  auto result = co_await deliver(queue_id, message);
  // Ties the session (conn=) to the message's id in the delivery and queue lines.
  log_(LogLevel::Info, "message id={} size={} reply={}", queue_id, message.size(), result.code);
  message_reply(result.code, result.enhanced, result.text);
  if (result.code / 100 == 2) ++messages_;
}

// BDAT <size> [LAST] (RFC 3030): the chunk is read whatever we answer, so
// the conversation stays in step.
net::Task<SmtpSession::After> SmtpSession::on_bdat(std::string_view argument) {
  const auto space = argument.find(' ');
  const auto size = parse_octet_count(argument.substr(0, space));
  std::string_view rest = space == std::string_view::npos ? std::string_view{} : argument.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const bool last = ascii_iequals(rest, "LAST");
  if (!size || (!rest.empty() && !last)) {
    // Without a size we cannot tell where the chunk ends: give up on the connection.
    reply(501, "5.5.4", "syntax: BDAT <octets> [LAST]; closing the connection");
    co_return After::Close;
  }
  const bool usable = transaction_ && !transaction_->recipients.empty() && esmtp_;
  bool keep = usable;
  if (usable) {
    auto& t = *transaction_;
    if (!t.chunking) {
      t.chunking = true;
      t.size_limit = server_.max_message_bytes;
      t.queue_id = server_.next_queue_id();
      t.reservation = std::make_unique<BufferReservation>(server_);
    }
    t.chunk_octets += *size;
    keep = t.chunk_octets <= t.size_limit && t.reservation->cover(t.chunks.size() + *size);
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
  if (t.chunk_octets > t.size_limit) {
    message_reply(552, "5.3.4", "message exceeds the fixed maximum size of " + std::to_string(t.size_limit) + " octets");
  } else if (t.chunks.size() < t.chunk_octets) {
    message_reply(452, "4.3.1", "insufficient system storage, try again later");
  } else {
    co_await finish_message(t.queue_id, t.chunks);
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
  const std::size_t limit = result.limit = server_.max_message_bytes;
  const auto started = net::Connection::Clock::now();
  for (;;) {
    auto line = co_await input_.read_line(kMaxDataLine);
    // The message as a whole must keep the minimum rate, not just each line.
    if (line.status != LineInput::Status::Closed &&
        net::Connection::Clock::now() > connection_.rate_deadline(started, result.octets)) {
      log_(LogLevel::Warning, "DATA from {} too slow: {} octets in {} s", connection_.peer(), result.octets,
           std::chrono::duration_cast<std::chrono::seconds>(net::Connection::Clock::now() - started).count());
      connection_.close();
    }
    if (line.status == LineInput::Status::Closed || !connection_.is_open()) {
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
    const auto bare_crs = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\r'));
    result.octets += text.size() + bare_crs + 2;
    if (result.octets > limit) {
      result.too_big = true;
      continue;
    }
    if (result.out_of_memory || !reservation.cover(message.size() + text.size() + bare_crs + 2)) {
      result.out_of_memory = true;
      continue;
    }
    append_line(message, text);
  }
}

// This hop, for the Received header local delivery or the queue adds.
delivery::Trace SmtpSession::trace() const {
  const std::string protocol = esmtp_ ? (connection_.is_tls() ? "ESMTPS" : "ESMTP") : "SMTP";
  return {helo_ + " ([" + connection_.peer_address() + "])", server_.config.hostname, "umstore", protocol};
}

std::vector<delivery::LocalRecipient> SmtpSession::local_recipients() const {
  std::vector<delivery::LocalRecipient> recipients;
  for (const auto& r : transaction_->recipients) recipients.push_back({r.address, r.number});
  return recipients;
}

// Mail for other domains, and mail whose sender asked to hear of its
// delivery, goes through the queue; the rest straight into the mailstore.
// A quarantined message goes straight into Junk: its success DSN would go
// to a sender DMARC says is forged (backscatter), and the queue would file
// it as planned.
bool SmtpSession::needs_queue(bool quarantined) const {
  if (!server_.config.queue) return false;
  return std::any_of(transaction_->recipients.begin(), transaction_->recipients.end(), [&](const auto& r) {
    return r.number.empty() || (!quarantined && r.notify.wants_success());
  });
}

// The sender checks wait on DNS: on their own pool, off this I/O thread.
net::Task<SenderVerdict> SmtpSession::check_sender(std::string_view queue_id, std::string_view message) {
  const SenderChecks& checks = *server_.config.sender_checks;
  if (trusted_peer_ || !authenticated_.empty()) co_return exempt_sender(checks.authserv_id, authenticated_, message);
  const mailauth::SmtpEnvelope envelope{connection_.peer_address(), helo_,
                                        transaction_->sender ? transaction_->sender->address() : ""};
  SenderVerdict verdict = co_await asio::co_spawn(
      *server_.sender_check_pool,
      [&]() -> net::Task<SenderVerdict> {
        try {
          co_return judge_sender(mailauth::authenticate_sender(*checks.resolver, checks.authserv_id, envelope, message),
                                 checks.authserv_id, message);
        } catch (const std::exception& e) {
          log_(LogLevel::Error, "sender check id={} failed: {}", queue_id, e.what());
          SenderVerdict failed;
          failed.refusal = SmtpReply{451, "4.7.0", "local error while checking the sender, try again later"};
          failed.summary = "check failed";
          co_return failed;
        }
      },
      asio::use_awaitable);
  log_(LogLevel::Info, "sender check id={} from=<{}> {}{}", queue_id, envelope.mail_from, verdict.summary,
       verdict.refusal ? ": refused " + std::to_string(verdict.refusal->code) : verdict.quarantine ? ": quarantined" : "");
  co_return verdict;
}

net::Task<SmtpReply> SmtpSession::deliver(std::string_view queue_id, std::string_view received) {
  if (is_fax_transaction()) {
    // Rendering pages and the outbox's fsyncs: on the delivery pool.
    co_return co_await asio::co_spawn(
        server_.delivery_pool, [&]() -> net::Task<SmtpReply> { co_return submit_fax(queue_id, received); },
        asio::use_awaitable);
  }
  SenderVerdict sender;
  std::string_view message = received;
  if (server_.config.sender_checks) {
    sender = co_await check_sender(queue_id, received);
    if (sender.refusal) co_return *sender.refusal;
    message = sender.message;
  }
  if (needs_queue(sender.quarantine)) {
    // The queue fsyncs: on the delivery pool, so this I/O thread keeps
    // serving other connections meanwhile.
    co_return co_await asio::co_spawn(
        server_.delivery_pool, [&]() -> net::Task<SmtpReply> { co_return enqueue(queue_id, message); },
        asio::use_awaitable);
  }
  const std::string sender_address = transaction_->sender ? transaction_->sender->address() : "";
  const auto recipients = local_recipients();
  const delivery::DeliveryRequest request{.key = queue_id,
                                          .origin = delivery::MessageOrigin::Smtp,
                                          .sender = sender_address,
                                          .recipients = recipients,
                                          .message = message,
                                          .trace = trace(),
                                          .filing = sender.quarantine ? delivery::Filing::Quarantine
                                                                      : delivery::Filing::AsPlanned};
  // The mailstore fsyncs too.
  const auto result = co_await asio::co_spawn(
      server_.delivery_pool,
      [&]() -> net::Task<delivery::DeliveryResult> { co_return server_.local_delivery.deliver(request); },
      asio::use_awaitable);
  co_return local_delivery_reply(result, recipients, queue_id);
}

// Runs on the delivery pool. The queued message starts with this hop's
// Received; Return-Path is added at final delivery, never sent to a next hop.
SmtpReply SmtpSession::enqueue(std::string_view queue_id, std::string_view message) {
  const auto& t = *transaction_;
  const delivery::Trace hop = trace();
  QueuedEnvelope envelope;
  envelope.id = std::string(queue_id);
  envelope.sender = t.sender ? t.sender->address() : "";
  envelope.ret = t.ret;
  envelope.envid = t.envid;
  envelope.smtputf8 = t.smtputf8;
  envelope.body_8bit = t.body_8bit;
  envelope.received_from = hop.from;
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
  const std::string traced =
      delivery::received_header(hop, queue_id, local_recipients(), std::chrono::system_clock::now()) +
      std::string(message);
  try {
    server_.config.queue->enqueue(envelope, traced);
  } catch (const std::exception& e) {
    log_(LogLevel::Error, "queue id={} from={} failed: {}", queue_id, envelope.sender, e.what());
    return {451, "4.3.0", "local error while queueing the message, try again later"};
  }
  log_(LogLevel::Info, "queued id={} from=<{}> recipients={} size={}", queue_id, envelope.sender,
      envelope.recipients.size(), traced.size());
  if (server_.config.queued) server_.config.queued();
  return {250, "2.0.0", "OK: queued as " + std::string(queue_id)};
}

}  // namespace umstore::smtp
