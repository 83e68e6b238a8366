#include "quota_counter.hpp"

#include <algorithm>

#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

QuotaCounter::Reservation::Reservation(QuotaCounter& quota, std::uint64_t bytes) : quota_(quota), bytes_(bytes) {
  std::lock_guard lock(quota.mutex_);
  const std::uint64_t limit = quota.limit_bytes.load();
  const auto used = static_cast<std::uint64_t>(std::max<std::int64_t>(0, quota.bytes.load()));
  if (limit != 0 && used + quota.reserved_ + bytes > limit)
    throw QuotaExceeded("the mailbox of " + quota.number + " is full (" + std::to_string(used) + " of " +
                        std::to_string(limit) + " bytes used, " + std::to_string(bytes) +
                        " more needed); delete messages or ask the administrator to raise the quota");
  quota.reserved_ += bytes;
}

QuotaCounter::Reservation::~Reservation() {
  std::lock_guard lock(quota_.mutex_);
  quota_.reserved_ -= bytes_;
}

}  // namespace umstore::mailstore::detail
