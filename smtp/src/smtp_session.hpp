#pragma once
// One SMTP conversation (RFC 5321 §4.1, §3.3) on one connection: one
// member function per command, replies queued and flushed as RFC 2920
// PIPELINING allows. The members are defined by concern, as Postfix splits
// smtpd: smtp_session.cpp (state machine), session_data.cpp (DATA, BDAT,
// handing over), session_auth.cpp (AUTH), recipient_checks.cpp (networks,
// relay, aliases, drop addresses), envelope_parameters.cpp (ESMTP parameters).
#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "line_input.hpp"
#include "delivery/local_delivery.hpp"
#include "local_delivery_reply.hpp"
#include "sender_verdict.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/smtp_protocol.hpp"
#include "smtp/smtp_server.hpp"

namespace umstore::smtp {

// What every session of one server shares.
struct ServerContext {
  ServerContext(SmtpServerConfig config_in, mailstore::MailStore& store_in,
                const mailstore::AccountStore& accounts_in);

  SmtpServerConfig config;
  const mailstore::AccountStore& accounts;
  mailstore::MailStore& store;  // for quota checks at RCPT, on the delivery pool
  const delivery::LocalDelivery local_delivery;  // after config: built from its delivery_policy
  asio::thread_pool delivery_pool;
  std::optional<asio::thread_pool> sender_check_pool;  // when config.sender_checks is set

  // Unique within the process and across restarts: time plus a counter.
  std::string next_queue_id();

  // config's limits as SIGHUP last set them (SmtpServer::set_limits).
  std::atomic<std::size_t> max_message_bytes;
  std::atomic<std::size_t> max_recipients;
  std::atomic<std::chrono::seconds> idle_timeout;
  SmtpMetrics& metrics;

  // Open connections, so that stopping the server can close them.
  void remember(const std::shared_ptr<net::Connection>& connection);
  void close_all();

 private:
  std::atomic<std::uint32_t> id_counter_{0};
  std::mutex mutex_;
  std::vector<std::weak_ptr<net::Connection>> connections_;
};

// A share of config.buffer_budget, given back on destruction.
struct BufferReservation : net::MemoryReservation {
  explicit BufferReservation(ServerContext& server) : net::MemoryReservation(server.config.buffer_budget) {}
};

class SmtpSession {
 public:
  SmtpSession(ServerContext& server, net::Connection& connection);
  net::Task<void> run();

 private:
  enum class After { Continue, Close };

  static constexpr std::string_view kLog = "smtp";
  // RFC 5321 §4.5.3.1.4 says 512 octets; clients with long ESMTP parameter
  // lists (DSN ORCPT, RFC 3461 §5) exceed it, so we tolerate more.
  static constexpr std::size_t kMaxCommandLine = 4096;

  struct Recipient {
    std::string address;  // as accepted, case preserved
    std::string number;   // local E.164 mailbox; empty for other domains (relay)
    NotifyRequest notify;
    std::string orcpt;    // RFC 3461 ORCPT as received
    // A fax recipient (config.fax_outbox): the number dialled, never a mailbox.
    std::string fax_number;
    std::string fax_sub_address;
  };

  struct Transaction {
    std::optional<Mailbox> sender;  // nullopt: the null sender <>
    std::vector<Recipient> recipients;
    std::string ret;     // RFC 3461 RET
    std::string envid;   // RFC 3461 ENVID (xtext)
    bool smtputf8 = false;
    bool body_8bit = false;
    // BDAT (RFC 3030): the chunks so far, and why the message already failed.
    bool chunking = false;
    std::string chunks;
    std::size_t chunk_octets = 0;
    std::size_t size_limit = 0;  // max_message_bytes when the first chunk came
    std::unique_ptr<BufferReservation> reservation;
    std::string queue_id;
  };

  struct DataResult {
    bool closed = false;
    bool too_big = false;
    bool line_too_long = false;
    bool out_of_memory = false;  // the server-wide budget, not this message's size
    std::size_t octets = 0;  // after dot-unstuffing
    std::size_t limit = 0;   // the size limit it was read under
  };

  net::Task<After> dispatch(const Command& command);
  void on_ehlo(std::string_view argument, bool extended);
  void on_mail(std::string_view argument);
  net::Task<void> on_rcpt(std::string_view argument);
  // The first of `numbers` whose mailbox is full already, asked on the delivery pool.
  net::Task<std::optional<std::string>> full_mailbox(const std::vector<std::string>& numbers);
  std::optional<PathArgument> parsed_path(PathArgument (*parse)(std::string_view), std::string_view text);
  net::Task<After> on_data(std::string_view argument);
  net::Task<After> on_starttls(std::string_view argument);
  net::Task<After> on_auth(std::string_view argument);
  net::Task<After> on_bdat(std::string_view argument);
  net::Task<std::optional<std::string>> read_auth_response(std::string_view challenge);
  net::Task<auth::PasswordCheck> verify(std::string number, std::string password);
  bool auth_offered() const;
  bool peer_in_trusted_networks() const;
  bool may_relay() const;
  net::Task<void> finish_message(std::string_view queue_id, std::string_view message);
  void on_rset(std::string_view argument);
  void on_noop();
  void on_vrfy(std::string_view argument);
  void on_help();

  bool check_mail_parameters(const std::vector<EsmtpParameter>& parameters, Transaction& transaction);
  bool check_rcpt_parameters(const std::vector<EsmtpParameter>& parameters, Recipient& recipient);
  bool refuse_parameter(int code, std::string_view text);
  // The local mailbox, "" for a permitted relay recipient, nullopt after refusing.
  std::optional<std::vector<std::string>> mailboxes_for(const Mailbox& recipient);
  std::optional<std::string> postmaster_mailbox() const;
  net::Task<DataResult> read_data(std::string& message, BufferReservation& reservation);
  delivery::Trace trace() const;
  std::vector<delivery::LocalRecipient> local_recipients() const;
  net::Task<SmtpReply> deliver(std::string_view queue_id, std::string_view message);
  net::Task<SenderVerdict> check_sender(std::string_view queue_id, std::string_view message);
  SmtpReply enqueue(std::string_view queue_id, std::string_view message);
  bool needs_queue(bool quarantined) const;
  // A fax address's verdict replied to; false when it is not one.
  net::Task<bool> took_fax_recipient(const Mailbox& mailbox, Recipient& accepted);
  bool is_fax_transaction() const;
  SmtpReply submit_fax(std::string_view queue_id, std::string_view message);

  void reply(int code, std::string_view enhanced, std::string_view text);
  void message_reply(int code, std::string_view enhanced, std::string_view text);  // the end of DATA or BDAT LAST
  void refuse(int code, std::string_view enhanced, std::string_view text);  // counts towards the error limit
  net::Task<void> flush();

  ServerContext& server_;
  net::Connection& connection_;
  ConnectionLog log_{kLog, 's'};
  LineInput input_;
  std::string helo_;  // empty until EHLO/HELO
  std::string authenticated_;  // the mailbox number after AUTH
  bool trusted_peer_ = false;  // in config.trusted_networks
  bool esmtp_ = false;
  std::optional<Transaction> transaction_;  // set by MAIL, cleared by RSET/EHLO/end of DATA
  std::string pending_replies_;
  unsigned errors_ = 0;
  unsigned messages_ = 0;
};

}  // namespace umstore::smtp
