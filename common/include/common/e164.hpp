#pragma once
// E.164 telephone numbers: the mailbox identity throughout umstore. Every
// library normalises numbers here (SMTP local parts, SIP user parts, gateway
// metadata, routing), so all of them accept the same written forms.
#include <optional>
#include <string>
#include <string_view>

namespace umstore {

// True for "+" followed by 2..15 digits, first digit not 0.
bool is_e164(std::string_view number) noexcept;

// The number as dialled: the digits with a leading "+" kept, without a
// "tel:" prefix, URI parameters (";phone-context=...") and the separators
// people and gateways write (space - . ( )). "tel:+1 (555) 0100;x=y" ->
// "+15550100", "030 123-456" -> "030123456"; empty when anything else is in it.
std::string dialled_digits(std::string_view written);

// Whether digits without a leading "+" count as international (SIP user
// parts and Diversion often omit it) or not (people's input, where
// "5550100" is a local number).
enum class PlusSign { required, optional };

// Accepts a number as people and gateways write it ("+1 555-0100",
// "+1.555.0100", "tel:+15550100") and returns the canonical "+15550100",
// or nullopt when it is not an international E.164 number.
std::optional<std::string> normalise_e164(std::string_view written, PlusSign plus = PlusSign::required);

// "+15550100" -> "15550100": the digits-only form RFC 3939 Caller-ID wants.
std::string e164_digits(std::string_view number);

}  // namespace umstore
