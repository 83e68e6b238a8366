#pragma once
// Per-user quota state of one process (internal, any backend): the
// mailbox and its folders add the deltas of their totals so a quota check
// never rescans, and a Reservation holds room for what is being stored.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "mailstore/quota.hpp"

namespace umstore::mailstore::detail {

// Throws QuotaExceeded naming the first limit that `more` on top of `usage`
// passes (who: "the mailbox of +15550100"); returns when all fit, or while
// a QuotaExemption is alive on this thread.
void require_room(std::string_view who, const QuotaUsage& usage, const QuotaCharge& more);

// While alive, appends on this thread are counted but never refused for
// quota: notices from the system (quota warnings) about a full mailbox.
class QuotaExemption {
 public:
  QuotaExemption();
  ~QuotaExemption();
  QuotaExemption(const QuotaExemption&) = delete;
  QuotaExemption& operator=(const QuotaExemption&) = delete;
  static bool active() noexcept;
};

struct QuotaCounter {
  std::string number;
  std::atomic<std::uint64_t> limit_bytes{0};
  std::atomic<std::uint64_t> limit_messages{0};
  std::atomic<std::uint64_t> limit_seconds{0};
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::int64_t> messages{0};
  std::atomic<std::int64_t> seconds{0};

  void adjust(std::int64_t delta_bytes, std::int64_t delta_messages, std::int64_t delta_seconds) {
    bytes += delta_bytes;
    messages += delta_messages;
    seconds += delta_seconds;
  }

  // Concurrent appends to different folders of one user cannot all pass
  // the check (within this process).
  class Reservation {
   public:
    Reservation(QuotaCounter& quota, QuotaCharge charge);  // throws QuotaExceeded
    ~Reservation();
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

   private:
    QuotaCounter& quota_;
    QuotaCharge charge_;
  };

 private:
  std::mutex mutex_;
  QuotaCharge reserved_;
};

}  // namespace umstore::mailstore::detail
