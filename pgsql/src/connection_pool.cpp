#include "pgsql/connection_pool.hpp"

namespace umstore::pgsql {

ConnectionPool::ConnectionPool(std::string conninfo, std::size_t max_connections)
    : conninfo_(std::move(conninfo)), max_(std::max<std::size_t>(1, max_connections)) {}

ConnectionPool::Lease::~Lease() {
  if (pool_ && c_) pool_->give_back(std::move(c_));
}

ConnectionPool::Lease ConnectionPool::lease() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(c));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(conninfo_));
  } catch (...) {
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
