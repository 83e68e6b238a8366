#include "sessions.hpp"

#include <sodium.h>

#include <stdexcept>

namespace umstore::admin {

std::string random_token() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot initialise");
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char hex[sizeof bytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

Session SessionTable::open(const AdminUser& user, bool enrolling) {
  const auto now = Clock::now();
  Session s{random_token(), random_token(), user.name, user.role, enrolling, now, now};
  std::lock_guard lock(mutex_);
  expire(now);
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> SessionTable::find(std::string_view id) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  it->second.last_used = now;
  return it->second;
}

void SessionTable::upgrade(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second.enrolling = false;
}

void SessionTable::close(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
}

bool SessionTable::claim_totp_step(const std::string& user, std::int64_t step) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = last_step_.try_emplace(user, step);
  if (inserted) return true;
  if (step <= it->second) return false;
  it->second = step;
  return true;
}

void SessionTable::expire(Clock::time_point now) {
  std::erase_if(sessions_, [&](const auto& entry) {
    return now - entry.second.last_used > idle_ || now - entry.second.created > lifetime_;
  });
}

}  // namespace umstore::admin
