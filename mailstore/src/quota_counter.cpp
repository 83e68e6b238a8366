#include "quota_counter.hpp"

#include <algorithm>

#include "mailstore/mail_store.hpp"
#include "mime/message_summary.hpp"

namespace umstore::mailstore {
namespace {

std::uint64_t used(const std::atomic<std::int64_t>& counter) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter.load()));
}

thread_local int exemptions = 0;

}  // namespace

std::uint32_t MailStore::deliver_notice(std::string_view number, std::string_view rfc822) {
  const detail::QuotaExemption exempt;
  return deliver(number, rfc822, "INBOX");
}

QuotaCharge quota_charge(std::string_view rfc822) {
  return {rfc822.size(), 1, mime::summarise_message(rfc822).seconds.value_or(0)};
}

std::string_view unit_name(QuotaResource resource) {
  switch (resource) {
    case QuotaResource::Bytes: return "bytes";
    case QuotaResource::Messages: return "messages";
    case QuotaResource::Seconds: return "seconds of voice";
  }
  return "";
}

std::string minutes_text(std::uint64_t seconds) {
  return std::to_string(seconds / 60) + "." + std::to_string(seconds % 60 / 6);
}

std::array<QuotaLevel, 3> levels(const QuotaUsage& u) {
  return {QuotaLevel{QuotaResource::Bytes, u.bytes, u.limit_bytes},
          QuotaLevel{QuotaResource::Messages, u.messages, u.limit_messages},
          QuotaLevel{QuotaResource::Seconds, u.seconds, u.limit_seconds}};
}

std::optional<QuotaLevel> first_exceeded(const QuotaUsage& usage, const QuotaCharge& more) {
  const std::uint64_t adds[] = {more.bytes, more.messages, more.seconds};
  const auto all = levels(usage);
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].limit != 0 && adds[i] != 0 && all[i].used + adds[i] > all[i].limit) return all[i];
  return std::nullopt;
}

std::optional<QuotaLevel> first_full(const QuotaUsage& usage, bool voice) {
  for (const auto& level : levels(usage))
    if (level.limit != 0 && level.used >= level.limit && (voice || level.resource != QuotaResource::Seconds))
      return level;
  return std::nullopt;
}

namespace detail {

void require_room(std::string_view who, const QuotaUsage& usage, const QuotaCharge& more) {
  if (QuotaExemption::active()) return;
  const auto full = first_exceeded(usage, more);
  if (!full) return;
  const std::uint64_t adds[] = {more.bytes, more.messages, more.seconds};
  throw QuotaExceeded(std::string(who) + " is full (" + std::to_string(full->used) + " of " +
                      std::to_string(full->limit) + " " + std::string(unit_name(full->resource)) + " used, " +
                      std::to_string(adds[static_cast<int>(full->resource)]) +
                      " more needed); delete messages or ask the administrator to raise the quota");
}

QuotaExemption::QuotaExemption() { ++exemptions; }
QuotaExemption::~QuotaExemption() { --exemptions; }
bool QuotaExemption::active() noexcept { return exemptions > 0; }

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

}  // namespace detail
}  // namespace umstore::mailstore
