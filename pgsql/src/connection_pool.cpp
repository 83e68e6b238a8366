#include "pgsql/connection_pool.hpp"

#include <algorithm>

namespace umstore::pgsql {
namespace {

constexpr ConnectionPool::Clock::duration kFirstBackoff = std::chrono::milliseconds(100);
constexpr ConnectionPool::Clock::duration kMaxBackoff = std::chrono::seconds(2);

long long whole_seconds(ConnectionPool::Clock::duration d) {
  return std::chrono::ceil<std::chrono::seconds>(d).count();
}

}  // namespace

ConnectionPool::ConnectionPool(std::string conninfo, std::size_t max_connections, Clock::duration lease_timeout)
    : conninfo_(std::move(conninfo)), max_(std::max<std::size_t>(1, max_connections)), lease_timeout_(lease_timeout) {}

ConnectionPool::Lease::~Lease() {
  if (pool_ && c_) pool_->give_back(std::move(c_));
}

ConnectionPool::Lease ConnectionPool::lease() {
  const auto deadline = Clock::now() + lease_timeout_;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (auto c = take_idle()) return Lease(*this, std::move(c));
    if (open_ < max_) return Lease(*this, connect(lock));
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_)
      throw PgError("no database connection came free within " + std::to_string(whole_seconds(lease_timeout_)) +
                        " s (all " + std::to_string(max_) + " of the pool in use)",
                    "", true);
  }
}

std::unique_ptr<Connection> ConnectionPool::take_idle() {
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->still_open()) return c;
    --open_;  // the server closed it while it was idle; its neighbours are probed in turn
  }
  return nullptr;
}

std::unique_ptr<Connection> ConnectionPool::connect(std::unique_lock<std::mutex>& lock) {
  if (Clock::now() < next_attempt_)
    throw PgError(last_failure_ + " (next attempt within " + std::to_string(whole_seconds(backoff_)) + " s)", "", true);
  ++open_;
  lock.unlock();
  try {
    auto c = std::make_unique<Connection>(conninfo_);
    lock.lock();
    backoff_ = {};
    next_attempt_ = {};
    return c;
  } catch (const PgError& e) {
    lock.lock();
    --open_;
    if (e.connection_lost()) {
      backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
      next_attempt_ = Clock::now() + backoff_;
      last_failure_ = e.what();
    }
    returned_.notify_one();
    throw;
  } catch (...) {  // out of memory
    lock.lock();
    --open_;
    returned_.notify_one();
    throw;
  }
}

void ConnectionPool::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mutex_);
  if (c->healthy())
    idle_.push_back(std::move(c));
  else
    --open_;  // a broken connection is closed; the next lease opens a fresh one
  returned_.notify_one();
}

}  // namespace umstore::pgsql
