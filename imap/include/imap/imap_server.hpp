#pragma once
// The IMAP4rev1 server (RFC 3501, with RFC 9051 where clients need it) over
// the mailstore API. Event-driven: each connection is a coroutine.
#include <asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "auth/login_throttle.hpp"
#include "auth/password_pool.hpp"
#include "imap/imap_metrics.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "net/memory_budget.hpp"
#include "net/task.hpp"

namespace umstore::imap {

struct ImapServerConfig {
  std::string hostname = "localhost";
  std::size_t max_connections = 20000;
  // From one IP address (clients behind one NAT share it); over either
  // limit a client hears * BYE [UNAVAILABLE] and is closed.
  std::size_t max_connections_per_address = 100;
  std::size_t max_line_bytes = 64 * 1024;
  std::size_t max_literal_bytes = 64u << 20;
  // Literals held in memory over all sessions (shared with the other
  // listeners); past it a command gets NO [LIMIT]. Unset: 512 MiB of its own.
  std::shared_ptr<net::MemoryBudget> literal_budget;
  std::chrono::seconds idle_timeout{30 * 60};     // RFC 3501 minimum autologout
  std::chrono::seconds line_timeout{60};          // a command line, once begun; literals then at 4 KiB/s
  std::chrono::seconds login_timeout{120};        // from connecting to a successful login, as a whole
  std::shared_ptr<asio::ssl::context> tls;        // STARTTLS when set
  // IMAPS (RFC 8314 implicit TLS, port 993) on this endpoint as well: the
  // handshake comes before the greeting, within the line budget; needs `tls`.
  std::optional<net::tcp::endpoint> implicit_tls_listen;
  bool login_requires_tls = false;                // LOGINDISABLED before STARTTLS
  // Failed LOGIN/AUTHENTICATE handling and the password checks, shared with
  // the other listeners; unset: the server's own (default limits; 2 threads,
  // 8 waiting).
  std::shared_ptr<auth::LoginThrottle> login_throttle;
  std::shared_ptr<auth::PasswordPool> password_pool;
};

class ImapServer {
 public:
  ImapServer(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config,
             mailstore::MailStore& store, const mailstore::AccountStore& accounts);
  ~ImapServer();
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;
  std::optional<net::tcp::endpoint> implicit_tls_endpoint() const;
  const ImapMetrics& metrics() const;  // for /metrics

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::imap
