#pragma once
// Quota warnings (Dovecot's quota_warning): a mailbox gets one message each
// time one of its limits (bytes, messages, minutes of voice) is crossed
// upwards at 80% or 95% by a delivery; it gets another only after usage
// fell below that level and rose past it again. Stored with
// MailStore::deliver_notice, so the warning itself is never refused.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/quota.hpp"

namespace umstore::delivery {

struct QuotaWarning {
  mailstore::QuotaLevel level;  // usage after the delivery
  unsigned threshold = 0;       // 80 or 95
};

// The highest threshold of the fullest resource that `charge` took the
// usage past (after = the usage with it); nullopt when none was crossed.
std::optional<QuotaWarning> crossed_threshold(const mailstore::QuotaUsage& after, const mailstore::QuotaCharge& charge);

// What a voice user hears: how full, what to do.
std::string spoken_warning(const QuotaWarning& warning);

// The warning as a message (RFC 5322, CRLF, Auto-Submitted): which limit,
// how full, what to do; with `spoken` (a WAV) also as audio.
std::string quota_warning_message(std::string_view number, const QuotaWarning& warning, std::string_view host,
                                  const std::optional<std::vector<std::uint8_t>>& spoken = std::nullopt);

}  // namespace umstore::delivery
