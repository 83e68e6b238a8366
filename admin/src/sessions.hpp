#pragma once
// Console sessions, in memory: a restart logs everyone out, which is the
// safe direction. A session is found by its cookie (256 random bits), ends
// after `idle` without a request or `lifetime` in all, and carries the
// CSRF token every state-changing request must echo in X-CSRF-Token.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "admin/admin_store.hpp"

namespace umstore::admin {

struct Session {
  std::string id;
  std::string csrf;
  std::string user;
  Role role = Role::Helpdesk;
  bool enrolling = false;  // password right, TOTP not yet confirmed: only enrolment is open
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point last_used;
};

class SessionTable {
 public:
  using Clock = std::chrono::steady_clock;
  SessionTable(Clock::duration idle, Clock::duration lifetime) : idle_(idle), lifetime_(lifetime) {}

  Session open(const AdminUser& user, bool enrolling);
  // The live session of this id (touching it), or nullopt.
  std::optional<Session> find(std::string_view id);
  void upgrade(std::string_view id);  // enrolment done: a full session
  void close(std::string_view id);
  Clock::duration lifetime() const { return lifetime_; }

  // RFC 6238 §5.2: a code is accepted once. False when this user already
  // used this time step (or a later one).
  bool claim_totp_step(const std::string& user, std::int64_t step);

 private:
  void expire(Clock::time_point now);
  const Clock::duration idle_;
  const Clock::duration lifetime_;
  std::mutex mutex_;
  std::map<std::string, Session, std::less<>> sessions_;
  std::map<std::string, std::int64_t> last_step_;
};

std::string random_token();  // 32 random bytes, hex

}  // namespace umstore::admin
