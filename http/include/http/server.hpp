#pragma once
// The HTTP/1.1 server both the gateway API (ingest/) and the admin listener
// (admin/) run on: keep-alive, Content-Length or chunked bodies, every size
// and every wait bounded. Boost.Beast's parser reads the requests; the
// connection loop is ours, on standalone Asio, because Beast's sockets are
// Boost.Asio's and do not mix with ours (README, "Dependencies").
#include <asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"
#include "net/memory_budget.hpp"
#include "net/task.hpp"

namespace umstore::http {

struct ServerConfig {
  std::string name = "http";  // in log lines and the listener's refusals
  std::size_t max_connections = 1000;
  // From one IP address; over either limit a client gets 503 with Retry-After.
  std::size_t max_connections_per_address = 50;
  std::size_t max_header_bytes = 16 * 1024;
  // The request line and header fields together, from their first octet;
  // the body must then average 4 KiB/s (net::Connection's literal rate).
  std::chrono::seconds header_timeout{30};
  std::size_t max_body_bytes = 64u << 20;
  // Request bodies held in memory over all connections (shared with the
  // other listeners); past it a request gets 503. Unset: 512 MiB of its own.
  std::shared_ptr<net::MemoryBudget> body_budget;
  // Set: every connection starts with a TLS handshake (https).
  std::shared_ptr<asio::ssl::context> tls;
};

// Looks at a request's line and headers before its body is read: a
// response refuses it unread (a stranger's upload is never buffered).
using Screen = std::function<net::Task<std::optional<Response>>(const Request&)>;
// Answers a whole request. Runs on the I/O thread: hand blocking work to a pool.
using Handler = std::function<net::Task<Response>(const Request&)>;

class Server {
 public:
  Server(asio::io_context& io, const net::tcp::endpoint& where, ServerConfig config, Handler handler,
         Screen screen = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::http
