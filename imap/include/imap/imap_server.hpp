#pragma once
// The IMAP4rev1 server (RFC 3501, with RFC 9051 where clients need it) over
// the mailstore API. Event-driven: each connection is a coroutine.
#include <asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "imap/imap_metrics.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "net/task.hpp"

namespace umstore::imap {

// Failed LOGIN/AUTHENTICATE handling, per client address and per user name.
struct LoginLimits {
  std::chrono::milliseconds failure_delay{1000};  // doubles per failure, up to 16x
  unsigned max_failures_per_address = 20;         // then refused until `window` passes quietly
  unsigned max_failures_per_user = 10;
  std::chrono::seconds window{15 * 60};
};

struct ImapServerConfig {
  std::string hostname = "localhost";
  std::size_t max_connections = 20000;
  std::size_t max_line_bytes = 64 * 1024;
  std::size_t max_literal_bytes = 64u << 20;
  std::chrono::seconds idle_timeout{30 * 60};     // RFC 3501 minimum autologout
  std::shared_ptr<asio::ssl::context> tls;        // STARTTLS when set
  bool login_requires_tls = false;                // LOGINDISABLED before STARTTLS
  LoginLimits login_limits;
};

class ImapServer {
 public:
  ImapServer(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config,
             mailstore::MailStore& store, const mailstore::AccountStore& accounts);
  ~ImapServer();
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;
  const ImapMetrics& metrics() const;  // for /metrics

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::imap
