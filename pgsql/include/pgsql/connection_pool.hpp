#pragma once
// Connections to the database, shared by every thread of the process: a
// call leases one for its duration. Opened lazily up to a maximum; a broken
// connection is dropped on return and replaced by the next lease. A database
// that cannot be reached is a PgError (connection_lost) naming the host.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgsql/connection.hpp"

namespace umstore::pgsql {

class ConnectionPool {
 public:
  ConnectionPool(std::string conninfo, std::size_t max_connections);

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
  void give_back(std::unique_ptr<Connection> c);

  std::string conninfo_;
  std::size_t max_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace umstore::pgsql
