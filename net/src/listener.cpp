#include "net/listener.hpp"

#include <atomic>
#include <stdexcept>

#include "common/log.hpp"

namespace umstore::net {

tcp::endpoint parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("address '" + text + "' needs a port: HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::invalid_argument("address '" + text + "' has a bad port");
  std::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::invalid_argument("address '" + text + "' is not an IP address");
  return {addr, static_cast<unsigned short>(port)};
}

Listener::Listener(asio::io_context& io, const tcp::endpoint& where, std::string name, ConnectionHandler handler,
                   std::size_t max_connections)
    : io_(io), acceptor_(io), name_(std::move(name)), handler_(std::move(handler)),
      max_connections_(max_connections) {
  acceptor_.open(where.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(where);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void Listener::start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

void Listener::stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

Task<void> Listener::accept_loop() {
  for (;;) {
    auto strand = asio::make_strand(io_);
    auto [ec, socket] = co_await acceptor_.async_accept(strand, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      log(LogLevel::Warning, name_, "accept failed: {}", ec.message());
      continue;
    }
    if (*active_ >= max_connections_) {
      log(LogLevel::Warning, name_, "connection limit {} reached, refusing a connection", max_connections_);
      continue;  // socket closes on destruction
    }
    ++*active_;
    asio::co_spawn(strand, handler_(std::move(socket)),
                   [active = active_, name = name_](std::exception_ptr e) {
                     --*active;
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log(LogLevel::Error, name, "connection ended by error: {}", ex.what());
                     }
                   });
  }
}

}  // namespace umstore::net
