#include "srtp_session.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include <mutex>
#include <stdexcept>

namespace umstore::sip {
namespace {

constexpr std::size_t kKeyAndSalt = 30;  // 128-bit key, 112-bit salt

void initialize_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (srtp_init() != srtp_err_status_ok) throw std::runtime_error("cannot initialise libsrtp2");
  });
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace

struct SrtpSession::Context {
  srtp_t session = nullptr;
  std::string key;
  ~Context() {
    if (session) srtp_dealloc(session);
  }
};

bool srtp_suite_supported(std::string_view suite) { return suite == kSrtpSuite80 || suite == kSrtpSuite32; }

std::string new_srtp_key() {
  unsigned char key[kKeyAndSalt];
  if (RAND_bytes(key, sizeof key) != 1) throw std::runtime_error("no randomness for an SRTP key");
  return base64(key, sizeof key);
}

std::unique_ptr<SrtpSession> SrtpSession::create(std::string_view suite, std::string_view inline_key,
                                                 Direction direction) {
  initialize_once();
  if (!srtp_suite_supported(suite)) return nullptr;
  // "inline:KEY|lifetime|MKI:length": the key is before the first '|' (RFC 4568 §6.1).
  auto key = unbase64(inline_key.substr(0, inline_key.find('|')));
  if (!key || key->size() != kKeyAndSalt) return nullptr;
  std::unique_ptr<SrtpSession> out(new SrtpSession);
  out->context_ = std::make_unique<Context>();
  out->context_->key = std::move(*key);
  srtp_policy_t policy{};
  if (suite == kSrtpSuite80)
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
  else
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  policy.ssrc.type = direction == Direction::Inbound ? ssrc_any_inbound : ssrc_any_outbound;
  policy.key = reinterpret_cast<unsigned char*>(out->context_->key.data());
  policy.window_size = 128;
  policy.allow_repeat_tx = 0;
  if (srtp_create(&out->context_->session, &policy) != srtp_err_status_ok) return nullptr;
  return out;
}

SrtpSession::~SrtpSession() = default;

bool SrtpSession::protect(std::vector<std::uint8_t>& packet) {
  const auto length = packet.size();
  packet.resize(length + SRTP_MAX_TRAILER_LEN);
  int n = static_cast<int>(length);
  if (srtp_protect(context_->session, packet.data(), &n) != srtp_err_status_ok) {
    packet.resize(length);
    return false;
  }
  packet.resize(static_cast<std::size_t>(n));
  return true;
}

bool SrtpSession::unprotect(std::uint8_t* packet, std::size_t& length) {
  int n = static_cast<int>(length);
  if (srtp_unprotect(context_->session, packet, &n) != srtp_err_status_ok) return false;
  length = static_cast<std::size_t>(n);
  return true;
}

}  // namespace umstore::sip
