#include "http/server.hpp"

#include <fmt/format.h>

#include <variant>

#include "common/ascii.hpp"
#include "common/log.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "request_head.hpp"

namespace umstore::http {
namespace {

constexpr std::size_t kBodyBudget = 512u << 20;

// Refused connections, and requests over a server-wide budget.
Response busy() { return retry_later(503, "the server is busy; retry later"); }

}  // namespace

struct Server::Impl {
  ServerConfig config;
  Handler handler;
  Screen screen;
  std::shared_ptr<net::MemoryBudget> body_budget;
  net::Listener listener;

  Impl(asio::io_context& io, const net::tcp::endpoint& where, ServerConfig c, Handler h, Screen s)
      : config(std::move(c)),
        handler(std::move(h)),
        screen(std::move(s)),
        body_budget(config.body_budget ? config.body_budget : std::make_shared<net::MemoryBudget>(kBodyBudget)),
        listener(io, where, config.name, [this](net::tcp::socket sock) { return serve(std::move(sock)); },
                 config.max_connections) {
    listener.limit_per_address(config.max_connections_per_address);
    // Over TLS the plain refusal would be noise to the client: closed silently.
    if (!config.tls) listener.refuse_with(serialise(busy(), false));
  }

  // Reads one request, its body held against `held`; nullopt when the
  // connection ended, or a response to send (and then close) when the
  // request is unacceptable.
  net::Task<std::variant<std::monostate, Request, Response>> read_request(net::Connection& conn,
                                                                          net::MemoryReservation& held) {
    auto first = co_await conn.read_line();
    if (first.status == net::LineResult::Status::Closed) co_return std::monostate{};
    if (first.status == net::LineResult::Status::TooLong) co_return json_error(431, "request line too long");
    Request req;
    req.peer_address = conn.peer_address();
    req.secure = conn.is_tls();
    const std::string_view line = first.line;
    if (!parse_request_line(line, req)) co_return json_error(400, "malformed request line");
    // The header fields as a whole, not each line, so a trickle cannot hold the connection.
    conn.set_deadline(net::Connection::Clock::now() + config.header_timeout);
    std::size_t header_bytes = line.size();
    for (;;) {
      auto h = co_await conn.read_line();
      if (h.status == net::LineResult::Status::Closed) co_return std::monostate{};
      header_bytes += h.line.size();
      if (h.status == net::LineResult::Status::TooLong || header_bytes > config.max_header_bytes || req.headers.size() > 100)
        co_return json_error(431, "request headers too large");
      if (h.line.empty()) break;
      if (!add_header_field(h.line, req)) co_return json_error(400, "malformed header field");
    }
    if (req.header("transfer-encoding")) co_return json_error(501, "chunked request bodies are not supported; send Content-Length");
    if (screen) {
      if (auto refusal = co_await screen(req)) co_return std::move(*refusal);
    }
    if (auto len = req.header("content-length")) {
      const auto length = parse_content_length(*len);
      if (!length) co_return json_error(400, "bad Content-Length");
      const std::size_t n = *length;
      if (n > config.max_body_bytes)
        co_return json_error(413, fmt::format("body of {} bytes exceeds the limit of {} bytes", n, config.max_body_bytes));
      if (!held.cover(n)) co_return busy();
      req.body.reserve(n);  // recordings are megabytes: no regrowing copies
      conn.clear_deadline();  // the body has its own budget: read_exact's minimum rate
      const bool complete = co_await conn.read_exact(n, req.body);
      if (!complete) co_return std::monostate{};
    }
    co_return req;
  }

  net::Task<void> serve(net::tcp::socket socket) {
    net::Connection conn(std::move(socket), 8192);
    conn.set_idle_timeout(std::chrono::seconds(60));
    conn.set_line_timeout(config.header_timeout);  // the request line
    if (config.tls) {
      conn.set_deadline(net::Connection::Clock::now() + config.header_timeout);
      if (!co_await conn.start_tls(*config.tls)) co_return;
      conn.clear_deadline();
    }
    for (;;) {
      net::MemoryReservation held(body_budget);
      auto got = co_await read_request(conn, held);
      conn.clear_deadline();
      if (std::holds_alternative<std::monostate>(got)) co_return;
      if (auto* refusal = std::get_if<Response>(&got)) {
        co_await conn.write(serialise(*refusal, false));
        co_await conn.close_after_reply();
        co_return;
      }
      const auto& req = std::get<Request>(got);
      const ConnectionLog request_log(config.name, 'h');
      Response resp = co_await handler(req);
      bool keep_alive = ascii_lower(req.header("connection").value_or("")) != "close";
      request_log(LogLevel::Info, "peer={} {} {} -> {}", conn.peer(), req.method, req.target, resp.status);
      if (req.method == "HEAD") resp.body.clear();
      co_await conn.write(serialise(resp, keep_alive));
      if (!keep_alive) co_return;
    }
  }
};

Server::Server(asio::io_context& io, const net::tcp::endpoint& where, ServerConfig config, Handler handler, Screen screen)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), std::move(handler), std::move(screen))) {}
Server::~Server() = default;
void Server::start() { impl_->listener.start(); }
void Server::stop() { impl_->listener.stop(); }
net::tcp::endpoint Server::local_endpoint() const { return impl_->listener.local_endpoint(); }

}  // namespace umstore::http
