#include "http/server.hpp"

#include <unistd.h>

#include <algorithm>
#include <variant>

#include "common/log.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "request_parser.hpp"

namespace umstore::http {
namespace {

constexpr std::size_t kBodyBudget = 512u << 20;

// Refused connections, and requests over a server-wide budget.
Response busy() { return retry_later(503, "the server is busy; retry later"); }

// A file body in 64 KiB pieces. The reads run on the I/O thread: the file
// is one the handler has just written, so they come from the page cache.
// False when the file cannot be read: the length promised cannot be kept,
// so the connection must close.
net::Task<bool> send_file(net::Connection& conn, const FileBody& file) {
  std::string piece(64 * 1024, '\0');
  for (std::uint64_t offset = 0; offset < file.size;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), file.size - offset));
    const ssize_t got = ::pread(file.fd.get(), piece.data(), want, static_cast<off_t>(offset));
    if (got <= 0) {
      log(LogLevel::Error, "http", "a response body file ended after {} of {} bytes", offset, file.size);
      co_return false;
    }
    co_await conn.write(std::string_view(piece.data(), static_cast<std::size_t>(got)));
    if (!conn.is_open()) co_return false;  // the client went away
    offset += static_cast<std::uint64_t>(got);
  }
  co_return true;
}

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
  // request is unacceptable. Beast parses; the budgets are kept here.
  net::Task<std::variant<std::monostate, Request, Response>> read_request(net::Connection& conn,
                                                                          net::MemoryReservation& held,
                                                                          bool& keep_alive) {
    RequestParser parser(config.max_header_bytes, config.max_body_bytes);
    // Waiting for a request is the idle timeout's business; once it has
    // begun, the head as a whole has a deadline, so a trickle cannot hold
    // the connection (slowloris).
    std::string_view input = co_await conn.peek(false);
    if (input.empty()) co_return std::monostate{};
    conn.set_deadline(net::Connection::Clock::now() + config.header_timeout);
    for (;;) {
      conn.consume(parser.parse(input));
      if (parser.refusal()) co_return *parser.refusal();
      if (parser.head_done()) break;
      input = co_await conn.peek(true);
      if (input.empty()) co_return std::monostate{};
    }
    conn.clear_deadline();  // the body has its own budget: a minimum rate
    Request req = parser.head();
    req.peer_address = conn.peer_address();
    req.secure = conn.is_tls();
    keep_alive = parser.keep_alive();
    if (screen) {
      if (auto refusal = co_await screen(req)) co_return std::move(*refusal);
    }
    parser.read_body();
    if (parser.refusal()) co_return *parser.refusal();  // over the size limit
    // A Content-Length is held whole before any of it is read (recordings
    // are megabytes: Beast reserves it, no regrowing copies); a chunked body
    // as it arrives, at most what is buffered ahead of it.
    const auto length = parser.content_length();
    if (length && !held.cover(*length)) co_return busy();
    const auto started = net::Connection::Clock::now();
    bool more = false;
    while (!parser.done()) {
      // The body must average net::Connection's literal rate: the whole
      // announced length, or what a chunked body has brought so far.
      const auto by = conn.rate_deadline(started, std::max<std::size_t>(length.value_or(0), parser.body_size()));
      input = co_await conn.peek(more, by);
      if (input.empty()) co_return std::monostate{};
      if (!length && !held.cover(parser.body_size() + input.size())) co_return busy();
      conn.consume(parser.parse(input));
      if (parser.refusal()) co_return *parser.refusal();
      more = true;
    }
    req.body = parser.take_body();
    co_return req;
  }

  net::Task<void> serve(net::tcp::socket socket) {
    net::Connection conn(std::move(socket), 8192);
    conn.set_idle_timeout(std::chrono::seconds(60));
    conn.set_line_timeout(config.header_timeout);  // a TLS handshake; a body's first bytes
    if (config.tls) {
      conn.set_deadline(net::Connection::Clock::now() + config.header_timeout);
      if (!co_await conn.start_tls(*config.tls)) co_return;
      conn.clear_deadline();
    }
    for (;;) {
      net::MemoryReservation held(body_budget);
      bool keep_alive = true;
      auto got = co_await read_request(conn, held, keep_alive);
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
      request_log(LogLevel::Info, "peer={} {} {} -> {}", conn.peer(), req.method, req.target, resp.status);
      if (req.method == "HEAD") resp.body.clear();
      co_await conn.write(serialise(resp, keep_alive));
      if (resp.file && req.method != "HEAD") {
        const bool sent = co_await send_file(conn, *resp.file);  // not in the if: g++ 12
        if (!sent) co_return;
      }
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
