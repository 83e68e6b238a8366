#pragma once
// Per-user quota state of one process (internal, any backend): the
// mailbox and its folders add the deltas of their totals so a quota check
// never rescans, and a Reservation holds room for bytes being stored.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace umstore::mailstore::detail {

struct QuotaCounter {
  std::string number;
  std::atomic<std::uint64_t> limit_bytes{0};
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::int64_t> messages{0};

  void adjust(std::int64_t delta_bytes, std::int64_t delta_messages) {
    bytes += delta_bytes;
    messages += delta_messages;
  }

  // Concurrent appends to different folders of one user cannot all pass
  // the check (within this process).
  class Reservation {
   public:
    Reservation(QuotaCounter& quota, std::uint64_t bytes);  // throws QuotaExceeded
    ~Reservation();
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

   private:
    QuotaCounter& quota_;
    std::uint64_t bytes_;
  };

 private:
  std::mutex mutex_;
  std::uint64_t reserved_ = 0;
};

}  // namespace umstore::mailstore::detail
