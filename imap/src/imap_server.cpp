#include "imap/imap_server.hpp"

#include <asio/thread_pool.hpp>

#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "net/listener.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {
constexpr std::size_t kPasswordThreads = 2;  // Argon2id: ~90 ms and 64 MiB each
// Store calls wait on the disk (fsync) or the database; more threads than
// cores keep one slow call from holding up the rest.
constexpr std::size_t kStoreThreads = 4;
constexpr std::size_t kPasswordsWaiting = 8;
constexpr std::size_t kLiteralBudget = 512u << 20;
constexpr std::size_t kFetchCacheBytes = 32u << 20;  // see fetch_cache.hpp
constexpr std::size_t kSortKeyCacheBytes = 64u << 20;  // see sort_key_cache.hpp
}  // namespace

struct ImapServer::Impl {
  Impl(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config, mailstore::MailStore& store,
       const mailstore::AccountStore& accounts)
      : throttle(config.login_throttle ? config.login_throttle : std::make_shared<auth::LoginThrottle>()),
        pool(config.password_pool ? config.password_pool
                                  : std::make_shared<auth::PasswordPool>(kPasswordThreads, kPasswordsWaiting)),
        literal_budget(config.literal_budget ? config.literal_budget : std::make_shared<net::MemoryBudget>(kLiteralBudget)),
        context{std::move(config), store, accounts, *pool, store_pool, *throttle, literal_budget, &fetch_cache, metrics,
                &sort_key_cache},
        listener(io, where, "imap", [this](net::tcp::socket s) { return serve(std::move(s)); },
                 context.config.max_connections) {
    listener.limit_per_address(context.config.max_connections_per_address);
    listener.refuse_with("* BYE [UNAVAILABLE] too many connections, try again later\r\n");
    if (const auto& where_tls = context.config.implicit_tls_listen) {
      if (!context.config.tls) throw std::invalid_argument("IMAPS needs a TLS certificate");
      tls_listener = std::make_unique<net::Listener>(
          io, *where_tls, "imaps", [this](net::tcp::socket s) { return serve(std::move(s), Session::Tls::Implicit); },
          context.config.max_connections);
      tls_listener->limit_per_address(context.config.max_connections_per_address);
      tls_listener->share_limits_with(listener);
      // No refusal text: the client expects a TLS handshake, not words.
    }
  }

  net::Task<void> serve(net::tcp::socket socket, Session::Tls tls = Session::Tls::OnRequest) {
    auto session = std::make_shared<Session>(context, std::move(socket), tls);
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex);
      id = ++next_id;
      live.emplace(id, session);
    }
    try {
      co_await session->run();
    } catch (...) {
      forget(id);
      throw;
    }
    forget(id);
  }

  void forget(std::uint64_t id) {
    std::lock_guard lock(mutex);
    live.erase(id);
  }

  void close_all() {
    std::lock_guard lock(mutex);
    for (auto& [id, weak] : live)
      if (auto s = weak.lock()) asio::post(s->executor(), [s] { s->shutdown(); });
  }

  // Before context: built from the config it moves.
  std::shared_ptr<auth::LoginThrottle> throttle;
  std::shared_ptr<auth::PasswordPool> pool;
  std::shared_ptr<net::MemoryBudget> literal_budget;
  asio::thread_pool store_pool{kStoreThreads};
  FetchCache fetch_cache{kFetchCacheBytes};
  SortKeyCache sort_key_cache{kSortKeyCacheBytes};
  ImapMetrics metrics{Session::command_names()};  // before context, which points to it
  ServerContext context;
  net::Listener listener;
  std::unique_ptr<net::Listener> tls_listener;  // IMAPS, when configured
  std::mutex mutex;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> live;
};

ImapServer::ImapServer(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config,
                       mailstore::MailStore& store, const mailstore::AccountStore& accounts)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), store, accounts)) {}

ImapServer::~ImapServer() {
  stop();
  impl_->store_pool.join();
}

void ImapServer::start() {
  impl_->listener.start();
  if (impl_->tls_listener) impl_->tls_listener->start();
}

void ImapServer::stop() {
  impl_->listener.stop();
  if (impl_->tls_listener) impl_->tls_listener->stop();
  impl_->close_all();
}

net::tcp::endpoint ImapServer::local_endpoint() const { return impl_->listener.local_endpoint(); }

std::optional<net::tcp::endpoint> ImapServer::implicit_tls_endpoint() const {
  if (!impl_->tls_listener) return std::nullopt;
  return impl_->tls_listener->local_endpoint();
}

const ImapMetrics& ImapServer::metrics() const { return impl_->metrics; }

}  // namespace umstore::imap
