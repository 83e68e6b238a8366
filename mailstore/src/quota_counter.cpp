#include "quota_counter.hpp"

#include <algorithm>

#include "mime/message_summary.hpp"

namespace umstore::mailstore::detail {
namespace {

std::uint64_t used(const std::atomic<std::int64_t>& counter) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter.load()));
}

void check(std::string_view who, const char* unit, std::uint64_t limit, std::uint64_t used, std::uint64_t more) {
  if (limit == 0 || more == 0 || used + more <= limit) return;
  throw QuotaExceeded(std::string(who) + " is full (" + std::to_string(used) + " of " + std::to_string(limit) + " " +
                      unit + " used, " + std::to_string(more) +
                      " more needed); delete messages or ask the administrator to raise the quota");
}

}  // namespace

std::uint64_t voice_seconds(std::string_view rfc822) {
  return mime::summarise_message(rfc822).seconds.value_or(0);
}

void require_room(std::string_view who, const QuotaUsage& usage, const QuotaCharge& more) {
  check(who, "bytes", usage.limit_bytes, usage.bytes, more.bytes);
  check(who, "messages", usage.limit_messages, usage.messages, more.messages);
  check(who, "seconds of voice", usage.limit_seconds, usage.seconds, more.seconds);
}

QuotaCounter::Reservation::Reservation(QuotaCounter& quota, QuotaCharge charge) : quota_(quota), charge_(charge) {
  std::lock_guard lock(quota.mutex_);
  const QuotaUsage with_reserved{used(quota.bytes) + quota.reserved_.bytes,
                                 used(quota.messages) + quota.reserved_.messages,
                                 quota.limit_bytes,
                                 used(quota.seconds) + quota.reserved_.seconds,
                                 quota.limit_messages,
                                 quota.limit_seconds};
  require_room("the mailbox of " + quota.number, with_reserved, charge);
  quota.reserved_.bytes += charge.bytes;
  quota.reserved_.messages += charge.messages;
  quota.reserved_.seconds += charge.seconds;
}

QuotaCounter::Reservation::~Reservation() {
  std::lock_guard lock(quota_.mutex_);
  quota_.reserved_.bytes -= charge_.bytes;
  quota_.reserved_.messages -= charge_.messages;
  quota_.reserved_.seconds -= charge_.seconds;
}

}  // namespace umstore::mailstore::detail
