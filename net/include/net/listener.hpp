#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "net/task.hpp"

namespace umstore::net {

// "127.0.0.1:1143" or "[::1]:1143" -> endpoint; throws std::invalid_argument.
tcp::endpoint parse_endpoint(const std::string& text);

using ConnectionHandler = std::function<Task<void>(tcp::socket)>;

// Accepts on a bound acceptor until it is closed; each connection runs as its
// own coroutine on its own strand. At most `max_connections` run at once,
// and at most `limit_per_address` from one IP address, so one client cannot
// lock the others out. A connection over either limit hears the protocol's
// refusal (`refuse_with`: "421 4.7.0 ...", "* BYE ...", an HTTP 503) and is
// closed; refusals are bounded too (a few seconds each, a few dozen at once).
class Listener {
 public:
  Listener(asio::io_context& io, const tcp::endpoint& where, std::string name, ConnectionHandler handler,
           std::size_t max_connections);
  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  std::size_t active() const;

  // 0: only the global limit.
  void limit_per_address(std::size_t max_per_address) noexcept { max_per_address_ = max_per_address; }
  // What a refused connection is told, with its line ends; empty: closed silently.
  void refuse_with(std::string refusal) { refusal_ = std::move(refusal); }
  // Counts this listener's connections together with `other`'s (one server
  // on two ports, as IMAP and IMAPS): both limits hold for the two at once,
  // so a second port is not a second budget. Before start().
  void share_limits_with(const Listener& other) { occupancy_ = other.occupancy_; }

 private:
  struct Occupancy {
    std::mutex mutex;
    std::size_t active = 0;
    std::size_t refusing = 0;
    std::unordered_map<std::string, std::size_t> by_address;
  };
  Task<void> accept_loop();
  // Takes a place for `address`, or says why there is none.
  std::optional<std::string> admit(const std::string& address);
  void refuse(tcp::socket socket);
  void log_refusal(const std::string& why);  // on the accept loop only

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::string name_;
  ConnectionHandler handler_;
  std::size_t max_connections_;
  std::size_t max_per_address_ = 0;
  std::string refusal_;
  std::size_t refused_unlogged_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::shared_ptr<Occupancy> occupancy_ = std::make_shared<Occupancy>();
};

}  // namespace umstore::net
