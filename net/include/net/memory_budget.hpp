#pragma once
// Bytes of client input held in memory (SMTP messages from DATA to
// delivery, IMAP literals, HTTP bodies), counted against one budget shared
// by every session, so many clients together cannot exhaust memory: past
// the budget a client gets a temporary refusal (SMTP 452 4.3.1, IMAP
// NO [LIMIT], HTTP 503) instead of the server growing.
#include <atomic>
#include <cstddef>
#include <memory>

namespace umstore::net {

class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t bytes) noexcept : limit_(bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `n` bytes; false (taking nothing) when that would pass the limit.
  bool take(std::size_t n) noexcept;
  void give_back(std::size_t n) noexcept { used_ -= n; }
  std::size_t used() const noexcept { return used_; }
  std::size_t limit() const noexcept { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// One client's share of a MemoryBudget, given back on destruction. It keeps
// the budget alive: a session's frame may be destroyed after its server.
class MemoryReservation {
 public:
  explicit MemoryReservation(std::shared_ptr<MemoryBudget> budget) noexcept : budget_(std::move(budget)) {}
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation() { release(); }
  // Makes sure `total` bytes are held; false when the budget is spent.
  bool cover(std::size_t total) noexcept;
  void release() noexcept;

 private:
  std::shared_ptr<MemoryBudget> budget_;
  std::size_t held_ = 0;
};

}  // namespace umstore::net
