#include "net/memory_budget.hpp"

#include <algorithm>

namespace umstore::net {

bool MemoryBudget::take(std::size_t n) noexcept {
  if (used_.fetch_add(n) + n > limit_) {
    used_ -= n;
    return false;
  }
  return true;
}

bool MemoryReservation::cover(std::size_t total) noexcept {
  // Growing input (an SMTP message line by line) takes steps of this, so a
  // large message costs few atomic operations; a small one holds no more
  // than it needs.
  constexpr std::size_t kStep = 256 * 1024;
  if (total <= held_) return true;
  const std::size_t more = total <= kStep ? total - held_ : std::max(kStep, total - held_);
  if (!budget_->take(more)) return false;
  held_ += more;
  return true;
}

void MemoryReservation::release() noexcept {
  budget_->give_back(held_);
  held_ = 0;
}

}  // namespace umstore::net
