#pragma once
// A mailbox's quota (any backend): bytes, messages and seconds of voice
// (each stored voice message's audio Content-Duration); every limit 0 =
// unlimited. The byte limit is the account's; the message and voice limits
// are kept by the store beside the usage they limit.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::mailstore {

struct QuotaUsage {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t limit_bytes = 0;
  std::uint64_t seconds = 0;
  std::uint64_t limit_messages = 0;
  std::uint64_t limit_seconds = 0;
};

// What storing some messages adds to a mailbox's usage.
struct QuotaCharge {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t seconds = 0;  // of voice
};

// What storing `rfc822` adds: its size, one message, and a voice message's
// (RFC 3458 Message-Context) audio Content-Duration.
QuotaCharge quota_charge(std::string_view rfc822);

enum class QuotaResource { Bytes, Messages, Seconds };
std::string_view unit_name(QuotaResource resource);  // "bytes", "messages", "seconds of voice"
// Seconds of voice as people read them: minutes with one decimal, "12.5".
std::string minutes_text(std::uint64_t seconds);

struct QuotaLevel {
  QuotaResource resource = QuotaResource::Bytes;
  std::uint64_t used = 0;
  std::uint64_t limit = 0;  // 0: unlimited
};
// Each resource's usage and limit, in the order of QuotaResource.
std::array<QuotaLevel, 3> levels(const QuotaUsage& usage);

// The first limit that `more` on top of `usage` passes; nullopt when all fit.
std::optional<QuotaLevel> first_exceeded(const QuotaUsage& usage, const QuotaCharge& more);

// The limit already reached, so that no message (voice: no voice message)
// fits any more whatever its size; nullopt when there is room. What a
// protocol refuses before the message arrives (SMTP RCPT, a gateway's POST,
// a call).
std::optional<QuotaLevel> first_full(const QuotaUsage& usage, bool voice);

}  // namespace umstore::mailstore
