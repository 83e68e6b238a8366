#include "smtp/smtp_server.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "common/log.hpp"
#include "net/listener.hpp"
#include "smtp_session.hpp"

namespace umstore::smtp {
namespace {

// The session does its own line framing (LineInput); the connection's own
// line limit is never used.
constexpr std::size_t kConnectionLineLimit = 4096;

constexpr std::size_t kPasswordThreads = 2;  // Argon2id: ~90 ms and 64 MiB each
constexpr std::size_t kPasswordsWaiting = 8;

// What the program shares between listeners, else the server's own.
SmtpServerConfig with_own_shared_parts(SmtpServerConfig config) {
  if (!config.buffer_budget) config.buffer_budget = std::make_shared<net::MemoryBudget>(config.max_buffered_bytes);
  if (!config.login_throttle) config.login_throttle = std::make_shared<auth::LoginThrottle>();
  if (!config.password_pool) config.password_pool = std::make_shared<auth::PasswordPool>(kPasswordThreads, kPasswordsWaiting);
  return config;
}

// Sessions share the context so that one still unwinding after the server
// is gone never sees a dangling reference.
net::Task<void> serve(std::shared_ptr<ServerContext> context, net::tcp::socket socket) {
  auto connection = std::make_shared<net::Connection>(std::move(socket), kConnectionLineLimit);
  connection->set_idle_timeout(context->idle_timeout.load());
  connection->set_line_timeout(context->config.line_timeout);
  context->remember(connection);
  SmtpSession session(*context, *connection);
  co_await session.run();
}

}  // namespace

struct SmtpServer::Impl {
  Impl(asio::io_context& io, const net::tcp::endpoint& where, SmtpServerConfig config, mailstore::MailStore& store,
       const mailstore::AccountStore& accounts)
      : context(std::make_shared<ServerContext>(with_own_shared_parts(std::move(config)), store, accounts)),
        listener(io, where, "smtp",
                 [shared = context](net::tcp::socket socket) { return serve(shared, std::move(socket)); },
                 context->config.max_connections),
        endpoint(listener.local_endpoint()) {
    if (context->config.implicit_tls && !context->config.tls)
      throw std::invalid_argument("submission over implicit TLS needs a TLS certificate");
    listener.limit_per_address(context->config.max_connections_per_address);
    // Over implicit TLS the client expects a handshake, not words: closed silently.
    if (!context->config.implicit_tls)
      listener.refuse_with(fmt::format("421 4.7.0 {} too many connections, try again later\r\n", context->config.hostname));
  }

  ~Impl() {
    stop();
    // Let deliveries in progress finish: their messages are being fsync'ed.
    context->delivery_pool.join();
  }

  void stop() {
    listener.stop();
    context->close_all();
  }

  std::shared_ptr<ServerContext> context;
  net::Listener listener;
  net::tcp::endpoint endpoint;  // kept: the listener's is gone once stopped
};

SmtpServer::SmtpServer(asio::io_context& io, const net::tcp::endpoint& where, SmtpServerConfig config,
                       mailstore::MailStore& store, const mailstore::AccountStore& accounts)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), store, accounts)) {}

SmtpServer::~SmtpServer() = default;

void SmtpServer::start() {
  impl_->listener.start();
  log(LogLevel::Info, "smtp", "listening on {}:{}", impl_->endpoint.address().to_string(), impl_->endpoint.port());
}

void SmtpServer::stop() { impl_->stop(); }

void SmtpServer::set_limits(const SmtpLimits& limits) {
  auto& context = *impl_->context;
  context.max_message_bytes = limits.max_message_bytes;
  context.max_recipients = limits.max_recipients;
  context.idle_timeout = limits.idle_timeout;
}

SmtpLimits SmtpServer::limits() const {
  const auto& context = *impl_->context;
  return {context.max_message_bytes, context.max_recipients, context.idle_timeout};
}

net::tcp::endpoint SmtpServer::local_endpoint() const { return impl_->endpoint; }

}  // namespace umstore::smtp
