#pragma once
// SRTP (RFC 3711) for a call's G.711 audio, keyed by SDES (RFC 4568: the
// a=crypto lines of the SDP offer and answer), through libsrtp2. One
// session protects what we send with our key, one unprotects what the
// gateway sends with its key.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::sip {

// The crypto suites offered to and accepted from gateways.
inline constexpr std::string_view kSrtpSuite80 = "AES_CM_128_HMAC_SHA1_80";
inline constexpr std::string_view kSrtpSuite32 = "AES_CM_128_HMAC_SHA1_32";
bool srtp_suite_supported(std::string_view suite);

// A fresh master key and salt (30 octets), base64 as in "inline:" (RFC 4568 §6.1).
std::string new_srtp_key();

class SrtpSession {
 public:
  enum class Direction { Inbound, Outbound };
  // nullptr when the suite is not one we speak or the key is not 30 octets of base64.
  static std::unique_ptr<SrtpSession> create(std::string_view suite, std::string_view inline_key, Direction direction);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // In place: `packet` grows by the authentication tag.
  bool protect(std::vector<std::uint8_t>& packet);
  // In place: `length` shrinks to the RTP packet; false when it does not
  // authenticate (forged, replayed or damaged: dropped).
  bool unprotect(std::uint8_t* packet, std::size_t& length);

 private:
  SrtpSession() = default;
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace umstore::sip
