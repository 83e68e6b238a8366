#include "imap/imap_server.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>
#include <unordered_map>

#include "net/listener.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {
constexpr std::size_t kPasswordThreads = 2;  // Argon2id: ~90 ms and 64 MiB each
constexpr std::size_t kPasswordsWaiting = 8;
constexpr std::size_t kLiteralBudget = 512u << 20;
constexpr std::size_t kFetchCacheBytes = 32u << 20;  // see fetch_cache.hpp
// A second look after a burst of folder events (FolderWatcher::settle); a
// little over the folder's one-second cur/ rescan interval.
constexpr auto kSettleDelay = std::chrono::milliseconds(1100);

// Feeds the folder watcher's inotify descriptor into the event loop, on a
// strand of its own. Shared with its pending handlers so it outlives the
// server if they are still queued.
class FolderEvents : public std::enable_shared_from_this<FolderEvents> {
 public:
  // nullptr when inotify is unavailable (sessions then poll in IDLE).
  static std::shared_ptr<FolderEvents> start(asio::io_context& io) {
    try {
      auto events = std::make_shared<FolderEvents>(io);
      events->wait();
      return events;
    } catch (const std::system_error&) {
      return nullptr;
    }
  }

  explicit FolderEvents(asio::io_context& io) : strand_(asio::make_strand(io)), descriptor_(strand_), settle_(strand_) {
    const int fd = ::dup(watcher_.fd());
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup");
    descriptor_.assign(fd);
  }

  mailstore::FolderWatcher& watcher() noexcept { return watcher_; }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      std::error_code ignored;
      self->descriptor_.close(ignored);
      self->settle_.cancel();
    });
  }

 private:
  void wait() {
    descriptor_.async_wait(asio::posix::descriptor_base::wait_read, [self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      if (self->watcher_.process_events() && !self->settle_armed_) self->arm_settle();
      self->wait();
    });
  }

  void arm_settle() {
    settle_armed_ = true;
    settle_.expires_after(kSettleDelay);
    settle_.async_wait([self = shared_from_this()](std::error_code ec) {
      self->settle_armed_ = false;
      if (!ec) self->watcher_.settle();
    });
  }

  mailstore::FolderWatcher watcher_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::posix::stream_descriptor descriptor_;
  asio::steady_timer settle_;
  bool settle_armed_ = false;
};

}  // namespace

struct ImapServer::Impl {
  Impl(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config, mailstore::MailStore& store,
       const mailstore::AccountStore& accounts)
      : throttle(config.login_throttle ? config.login_throttle : std::make_shared<auth::LoginThrottle>()),
        pool(config.password_pool ? config.password_pool
                                  : std::make_shared<auth::PasswordPool>(kPasswordThreads, kPasswordsWaiting)),
        literal_budget(config.literal_budget ? config.literal_budget : std::make_shared<net::MemoryBudget>(kLiteralBudget)),
        folder_events(FolderEvents::start(io)),
        context{std::move(config), store, accounts, *pool, *throttle, literal_budget,
                folder_events ? &folder_events->watcher() : nullptr, &fetch_cache},
        listener(io, where, "imap", [this](net::tcp::socket s) { return serve(std::move(s)); },
                 context.config.max_connections) {
    listener.limit_per_address(context.config.max_connections_per_address);
    listener.refuse_with("* BYE [UNAVAILABLE] too many connections, try again later\r\n");
  }

  net::Task<void> serve(net::tcp::socket socket) {
    auto session = std::make_shared<Session>(context, std::move(socket));
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
  std::shared_ptr<FolderEvents> folder_events;  // before context, which points into it
  FetchCache fetch_cache{kFetchCacheBytes};
  ServerContext context;
  net::Listener listener;
  std::mutex mutex;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> live;
};

ImapServer::ImapServer(asio::io_context& io, const net::tcp::endpoint& where, ImapServerConfig config,
                       mailstore::MailStore& store, const mailstore::AccountStore& accounts)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), store, accounts)) {}

ImapServer::~ImapServer() { stop(); }

void ImapServer::start() { impl_->listener.start(); }

void ImapServer::stop() {
  impl_->listener.stop();
  impl_->close_all();
  if (impl_->folder_events) impl_->folder_events->stop();
}

net::tcp::endpoint ImapServer::local_endpoint() const { return impl_->listener.local_endpoint(); }

}  // namespace umstore::imap
