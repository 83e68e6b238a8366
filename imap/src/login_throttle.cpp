#include "login_throttle.hpp"

#include <algorithm>

namespace umstore::imap {
namespace {
// Bounds the tables against an attacker cycling through addresses or names.
constexpr std::size_t kMaxTracked = 50'000;
constexpr unsigned kMaxDelayDoublings = 4;  // 1, 2, 4, 8, 16 x failure_delay
}  // namespace

unsigned LoginThrottle::current(Table& table, std::string_view key, Clock::time_point now) {
  const auto it = table.find(std::string(key));
  if (it == table.end()) return 0;
  if (now - it->second.last > limits_.window) {
    table.erase(it);
    return 0;
  }
  return it->second.count;
}

unsigned LoginThrottle::bump(Table& table, std::string_view key, Clock::time_point now) {
  if (table.size() >= kMaxTracked) prune(table, now);
  if (table.size() >= kMaxTracked) table.clear();
  Failures& f = table[std::string(key)];
  if (f.count && now - f.last > limits_.window) f.count = 0;
  ++f.count;
  f.last = now;
  return f.count;
}

void LoginThrottle::prune(Table& table, Clock::time_point now) {
  std::erase_if(table, [&](const auto& item) { return now - item.second.last > limits_.window; });
}

bool LoginThrottle::refused(std::string_view address, std::string_view user, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return current(by_address_, address, now) >= limits_.max_failures_per_address ||
         current(by_user_, user, now) >= limits_.max_failures_per_user;
}

LoginThrottle::Clock::duration LoginThrottle::record_failure(std::string_view address, std::string_view user,
                                                             Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const unsigned worst = std::max(bump(by_address_, address, now), bump(by_user_, user, now));
  return limits_.failure_delay * (1u << std::min(worst - 1, kMaxDelayDoublings));
}

void LoginThrottle::record_success(std::string_view user) {
  // Only the user's record: one account's owner must not be able to reset
  // the count of an address guessing other users' passwords.
  std::lock_guard lock(mutex_);
  by_user_.erase(std::string(user));
}

}  // namespace umstore::imap
