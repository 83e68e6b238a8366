#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "net/task.hpp"

namespace umstore::net {

// "127.0.0.1:1143" or "[::1]:1143" -> endpoint; throws std::invalid_argument.
tcp::endpoint parse_endpoint(const std::string& text);

using ConnectionHandler = std::function<Task<void>(tcp::socket)>;

// Accepts on a bound acceptor until it is closed; each connection runs as its
// own coroutine on its own strand. At most `max_connections` run at once;
// beyond that new connections are closed at once (the protocol's greeting
// would be wasted on a server that cannot serve them).
class Listener {
 public:
  Listener(asio::io_context& io, const tcp::endpoint& where, std::string name, ConnectionHandler handler,
           std::size_t max_connections);
  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  std::size_t active() const noexcept { return *active_; }

 private:
  Task<void> accept_loop();

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::string name_;
  ConnectionHandler handler_;
  std::size_t max_connections_;
  std::shared_ptr<std::atomic<std::size_t>> active_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace umstore::net
