#pragma once
// Per-user quota state of one process (internal, any backend): the
// mailbox and its folders add the deltas of their totals so a quota check
// never rescans, and a Reservation holds room for what is being stored.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

// What storing some messages adds to a mailbox's usage.
struct QuotaCharge {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t seconds = 0;  // of voice
};

// Seconds of voice a message counts for: a voice message's (RFC 3458
// Message-Context) audio Content-Duration, as mime::summarise_message reads it.
std::uint64_t voice_seconds(std::string_view rfc822);

// Throws QuotaExceeded naming the first limit that `more` on top of `usage`
// passes (who: "the mailbox of +15550100"); returns when all fit.
void require_room(std::string_view who, const QuotaUsage& usage, const QuotaCharge& more);

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
