#include "auth/login_throttle.hpp"

#include <algorithm>

namespace umstore::auth {
namespace {
// Bounds the tables against an attacker cycling through addresses or names.
constexpr std::size_t kMaxTracked = 50'000;

std::string pair_key(std::string_view address, std::string_view user) {
  std::string key(address);
  key += '\0';
  key += user;
  return key;
}
}  // namespace

unsigned LoginThrottle::current(Table& table, const std::string& key, Clock::time_point now) {
  const auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last > limits_.window) {
    table.erase(it);
    return 0;
  }
  return it->second.count;
}

unsigned LoginThrottle::bump(Table& table, const std::string& key, Clock::time_point now) {
  if (table.size() >= kMaxTracked) prune(table, now);
  if (table.size() >= kMaxTracked) table.clear();
  Failures& f = table[key];
  if (f.count && now - f.last > limits_.window) f.count = 0;
  ++f.count;
  f.last = now;
  return f.count;
}

void LoginThrottle::prune(Table& table, Clock::time_point now) {
  std::erase_if(table, [&](const auto& item) { return now - item.second.last > limits_.window; });
}

bool LoginThrottle::refused(std::string_view address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return current(by_address_, std::string(address), now) >= limits_.max_failures_per_address;
}

LoginThrottle::Clock::duration LoginThrottle::record_failure(std::string_view address, std::string_view user,
                                                             Clock::time_point now) {
  std::lock_guard lock(mutex_);
  unsigned worst = bump(by_address_, std::string(address), now);
  if (!user.empty())  // a bearer token names no user
    worst = std::max({worst, bump(by_address_and_user_, pair_key(address, user), now), bump(by_user_, std::string(user), now)});
  Clock::duration delay = limits_.failure_delay;
  for (unsigned i = 1; i < worst && delay < limits_.max_delay; ++i) delay *= 2;
  return std::min<Clock::duration>(delay, limits_.max_delay);
}

void LoginThrottle::record_success(std::string_view address, std::string_view user) {
  std::lock_guard lock(mutex_);
  by_address_and_user_.erase(pair_key(address, user));
}

}  // namespace umstore::auth
