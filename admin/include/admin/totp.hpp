#pragma once
// The second factor: TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits, as
// every authenticator app does) by liboath, and the enrolment QR code
// (an otpauth:// URI) as inline SVG by libqrencode.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::admin {

constexpr std::size_t kTotpSecretBytes = 20;

std::string new_totp_secret();                  // random raw bytes (libsodium)
std::string base32(std::string_view bytes);     // RFC 4648, no padding: what apps take
// otpauth://totp/umstore:NAME?secret=...&issuer=umstore
std::string otpauth_uri(std::string_view name, std::string_view secret);
// The time step a code belongs to when it is valid now or one step either
// side (clock drift); nullopt when it is not.
std::optional<std::int64_t> totp_step(std::string_view secret, std::string_view code, std::int64_t unix_now);
// A black-on-white QR code of `text` as an SVG document.
std::string qr_svg(std::string_view text);

}  // namespace umstore::admin
