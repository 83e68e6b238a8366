#pragma once
// Connections to the database, shared by every thread of the process: a
// call leases one for its duration. Opened lazily up to a maximum (the
// message store's is [store] pool_size). A connection that broke, or that
// the server closed while it sat idle, is dropped and replaced by the next
// lease, which is how the pool follows a failover: a multi-host DSN with
// target_session_attrs=read-write reconnects to whichever server takes
// writes now. Nothing waits forever on a dead database: a lease waits for a
// free connection only until its deadline, and after a failed connect the
// pool answers at once until the next attempt is due, the pause doubling
// from 100 ms to 2 s. Each of these is a PgError (connection_lost) naming
// the host or the pool, which callers turn into their temporary failure.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgsql/connection.hpp"

namespace umstore::pgsql {

class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kDefaultLeaseTimeout = std::chrono::seconds(10);

  ConnectionPool(std::string conninfo, std::size_t max_connections,
                 Clock::duration lease_timeout = kDefaultLeaseTimeout);

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = default;
    ~Lease();
    Connection& operator*() const noexcept { return *c_; }
    Connection* operator->() const noexcept { return c_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Lease lease();
  const std::string& conninfo() const noexcept { return conninfo_; }

 private:
  std::unique_ptr<Connection> take_idle();  // under mutex_
  std::unique_ptr<Connection> connect(std::unique_lock<std::mutex>& lock);
  void give_back(std::unique_ptr<Connection> c);

  std::string conninfo_;
  std::size_t max_;
  Clock::duration lease_timeout_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
  // After a failed connect: no new attempt before next_attempt_.
  Clock::duration backoff_{};
  Clock::time_point next_attempt_{};
  std::string last_failure_;
};

}  // namespace umstore::pgsql
