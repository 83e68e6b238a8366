#pragma once
// Password checks (Argon2id: ~90 ms of CPU and 64 MiB each) on threads of
// their own, never on a delivery pool or an I/O thread. At most `threads`
// run at once and at most `max_waiting` wait; a check beyond that is not run
// at all and the protocol answers with a temporary failure (SMTP 454 4.7.0,
// IMAP NO [UNAVAILABLE]), so guessing connections cannot take the memory or
// the CPU the mail needs.
#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "net/task.hpp"

namespace umstore::auth {

// Unavailable: the check itself failed (the account store is unreachable):
// a temporary failure, never counted against the client as a wrong password.
enum class PasswordCheck { Valid, Invalid, Busy, Unavailable };

class PasswordPool {
 public:
  PasswordPool(std::size_t threads, std::size_t max_waiting);
  ~PasswordPool();  // waits for the checks in progress
  PasswordPool(const PasswordPool&) = delete;
  PasswordPool& operator=(const PasswordPool&) = delete;

  // Runs `verify` on the pool; an exception from it is Unavailable.
  net::Task<PasswordCheck> check(std::function<bool()> verify);

 private:
  asio::thread_pool pool_;
  const std::size_t capacity_;  // running + waiting
  // Shared with the checks in flight: their frames may go after the pool.
  std::shared_ptr<std::atomic<std::size_t>> admitted_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace umstore::auth
