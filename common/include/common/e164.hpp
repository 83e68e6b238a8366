#pragma once
// E.164 telephone numbers: the mailbox identity throughout umstore.
#include <optional>
#include <string>
#include <string_view>

namespace umstore {

// True for "+" followed by 2..15 digits, first digit not 0.
bool is_e164(std::string_view number) noexcept;

// Accepts a number as people and gateways write it ("+1 555-0100",
// "+1.555.0100", "tel:+15550100") and returns the canonical "+15550100",
// or nullopt when it is not an international E.164 number.
std::optional<std::string> normalise_e164(std::string_view written);

// "+15550100" -> "15550100": the digits-only form RFC 3939 Caller-ID wants.
std::string e164_digits(std::string_view number);

}  // namespace umstore
