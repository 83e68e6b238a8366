#pragma once
// Failed-login accounting shared by all sessions of a server: every failure
// from an address or for a user name makes the next answer slower, and past
// a limit attempts are refused before the (expensive) password check.
// Failures are forgotten after `window` without one; a success clears the
// user's record.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "imap/imap_server.hpp"

namespace umstore::imap {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(const LoginLimits& limits) : limits_(limits) {}

  // True when this address or user has failed too often to be let try.
  bool refused(std::string_view address, std::string_view user, Clock::time_point now = Clock::now());
  // Records a failure and returns how long to wait before answering it.
  Clock::duration record_failure(std::string_view address, std::string_view user,
                                 Clock::time_point now = Clock::now());
  void record_success(std::string_view user);

 private:
  struct Failures {
    unsigned count = 0;
    Clock::time_point last{};
  };
  using Table = std::unordered_map<std::string, Failures>;
  unsigned current(Table& table, std::string_view key, Clock::time_point now);
  unsigned bump(Table& table, std::string_view key, Clock::time_point now);
  void prune(Table& table, Clock::time_point now);

  const LoginLimits limits_;
  std::mutex mutex_;
  Table by_address_;
  Table by_user_;
};

}  // namespace umstore::imap
