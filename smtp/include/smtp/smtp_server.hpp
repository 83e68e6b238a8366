#pragma once
// The ESMTP server (RFC 5321) that takes mail from gateways, other mail
// systems and umstore's own ingest pipeline. Local recipients are E.164
// mailboxes of the AccountStore; mail is on disk (fsync'ed) before 250.
#include <asio/ssl.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "net/task.hpp"

namespace umstore::smtp {

struct SmtpServerConfig {
  std::string hostname = "localhost";            // our name in the greeting and Received:
  std::vector<std::string> local_domains;        // domains whose E.164 local parts are our mailboxes
  std::size_t max_message_bytes = 50u << 20;     // SIZE
  std::size_t max_recipients = 100;
  std::size_t max_connections = 1000;
  std::shared_ptr<asio::ssl::context> tls;       // STARTTLS when set
};

class SmtpServer {
 public:
  SmtpServer(asio::io_context& io, const net::tcp::endpoint& where, SmtpServerConfig config,
             mailstore::MailStore& store, const mailstore::AccountStore& accounts);
  ~SmtpServer();
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::smtp
