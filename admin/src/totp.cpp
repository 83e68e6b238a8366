#include "admin/totp.hpp"

#include <liboath/oath.h>
#include <qrencode.h>
#include <sodium.h>

#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace umstore::admin {
namespace {

constexpr unsigned kStepSeconds = 30;
constexpr unsigned kDigits = 6;

struct OathLibrary {
  OathLibrary() { oath_init(); }
  ~OathLibrary() { oath_done(); }
};

void init_oath() { static OathLibrary library; }

}  // namespace

std::string new_totp_secret() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot initialise");
  std::string secret(kTotpSecretBytes, '\0');
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

std::string base32(std::string_view bytes) {
  init_oath();
  char* out = nullptr;
  std::size_t length = 0;
  if (oath_base32_encode(bytes.data(), bytes.size(), &out, &length) != OATH_OK) throw std::runtime_error("base32 failed");
  std::string text(out, length);
  free(out);
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::string otpauth_uri(std::string_view name, std::string_view secret) {
  // Names are letters, digits, '.', '_' and '-': nothing to escape.
  return fmt::format("otpauth://totp/umstore:{}?secret={}&issuer=umstore&digits={}&period={}", name, base32(secret),
                     kDigits, kStepSeconds);
}

std::optional<std::int64_t> totp_step(std::string_view secret, std::string_view code, std::int64_t unix_now) {
  if (code.size() != kDigits || code.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  init_oath();
  const std::string otp(code);
  int offset = 0;
  const int rc = oath_totp_validate2(secret.data(), secret.size(), static_cast<time_t>(unix_now), kStepSeconds, 0, 1,
                                     &offset, otp.c_str());
  if (rc < 0) return std::nullopt;
  return unix_now / kStepSeconds + offset;
}

std::string qr_svg(std::string_view text) {
  const std::string input(text);
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                  QRcode_free);
  if (!code) throw std::runtime_error("cannot encode the QR code");
  const int quiet = 4;  // modules of white border scanners need
  const int size = code->width + 2 * quiet;
  std::string path;
  for (int y = 0; y < code->width; ++y)
    for (int x = 0; x < code->width; ++x)
      if (code->data[y * code->width + x] & 1) path += fmt::format("M{},{}h1v1h-1z", x + quiet, y + quiet);
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {0}" width="{1}" height="{1}" role="img" aria-label="QR code for the authenticator app" shape-rendering="crispEdges"><rect width="{0}" height="{0}" fill="#fff"/><path d="{2}" fill="#000"/></svg>)",
      size, size * 6, path);
}

}  // namespace umstore::admin
