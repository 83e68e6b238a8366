#pragma once
// Failed-authentication accounting shared by every listener (IMAP LOGIN and
// AUTHENTICATE, SMTP AUTH, the HTTP API's bearer tokens), keyed by client
// address and user name. A failure makes the next failure's answer slower
// (failures of this address with this user, of this address, of this user
// from anywhere: the worst counts), and an address that keeps failing is
// refused before the (expensive) check until it has been quiet for a while.
// A user is never refused: an attacker guessing one account's password
// slows its owner's mistakes down but cannot lock the owner out from
// another address (Dovecot's auth penalty; fail2ban-like blocking of the
// guessing address).
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace umstore::auth {

struct ThrottleLimits {
  std::chrono::milliseconds failure_delay{1000};  // doubles per failure, up to max_delay
  std::chrono::milliseconds max_delay{16000};
  unsigned max_failures_per_address = 20;         // then the address is refused ...
  std::chrono::seconds window{15 * 60};           // ... until this passes without a failure
};

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(const ThrottleLimits& limits = {}) : limits_(limits) {}

  // True when this address has failed too often to be let try.
  bool refused(std::string_view address, Clock::time_point now = Clock::now());
  // Records a failure and returns how long to wait before answering it.
  Clock::duration record_failure(std::string_view address, std::string_view user, Clock::time_point now = Clock::now());
  // Forgets the failures of this user from this address only: one account's
  // owner must not reset the count of an address guessing other accounts.
  void record_success(std::string_view address, std::string_view user);

 private:
  struct Failures {
    unsigned count = 0;
    Clock::time_point last{};
  };
  using Table = std::unordered_map<std::string, Failures>;
  unsigned current(Table& table, const std::string& key, Clock::time_point now);
  unsigned bump(Table& table, const std::string& key, Clock::time_point now);
  void prune(Table& table, Clock::time_point now);

  const ThrottleLimits limits_;
  std::mutex mutex_;
  Table by_address_;
  Table by_address_and_user_;
  Table by_user_;
};

}  // namespace umstore::auth
