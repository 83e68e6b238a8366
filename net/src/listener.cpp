#include "net/listener.hpp"

#include <stdexcept>

#include <fmt/format.h>

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

namespace {
constexpr std::size_t kMaxRefusing = 64;
constexpr auto kRefusalTime = std::chrono::seconds(5);
}  // namespace

std::size_t Listener::active() const {
  std::lock_guard lock(occupancy_->mutex);
  return occupancy_->active;
}

std::optional<std::string> Listener::admit(const std::string& address) {
  std::lock_guard lock(occupancy_->mutex);
  if (occupancy_->active >= max_connections_) return fmt::format("connection limit {} reached", max_connections_);
  auto& from_address = occupancy_->by_address[address];
  if (max_per_address_ != 0 && from_address >= max_per_address_)
    return fmt::format("{} already has {} connections (the limit per address)", address, from_address);
  ++from_address;
  ++occupancy_->active;
  return std::nullopt;
}

// A flood of refusals is logged once every few seconds, with its count.
void Listener::log_refusal(const std::string& why) {
  ++refused_unlogged_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ < std::chrono::seconds(10)) return;
  log(LogLevel::Warning, name_, "refused {} connection(s), the last because {}", refused_unlogged_, why);
  refused_unlogged_ = 0;
  last_refusal_log_ = now;
}

// Tells the client why, within a few seconds, then closes.
void Listener::refuse(tcp::socket socket) {
  {
    std::lock_guard lock(occupancy_->mutex);
    if (refusal_.empty() || occupancy_->refusing >= kMaxRefusing) return;  // closed on destruction
    ++occupancy_->refusing;
  }
  auto said = [](tcp::socket s, std::string text) -> Task<void> {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(s.get_executor(), kRefusalTime);
    co_await (asio::async_write(s, asio::buffer(text), use_nothrow) || timer.async_wait(use_nothrow));
  };
  auto executor = socket.get_executor();
  asio::co_spawn(executor, said(std::move(socket), refusal_), [occupancy = occupancy_](std::exception_ptr) {
    std::lock_guard lock(occupancy->mutex);
    --occupancy->refusing;
  });
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
    std::error_code peer_ec;
    const std::string address = socket.remote_endpoint(peer_ec).address().to_string();
    if (auto why = admit(address)) {
      log_refusal(*why);
      refuse(std::move(socket));
      continue;
    }
    asio::co_spawn(strand, handler_(std::move(socket)),
                   [occupancy = occupancy_, address, name = name_](std::exception_ptr e) {
                     {
                       std::lock_guard lock(occupancy->mutex);
                       --occupancy->active;
                       if (--occupancy->by_address[address] == 0) occupancy->by_address.erase(address);
                     }
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
