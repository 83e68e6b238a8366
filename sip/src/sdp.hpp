#pragma once
// SDP offer/answer (RFC 4566, RFC 3264) for the cases we serve: one audio
// stream, PCMU or PCMA, optionally telephone-event (RFC 4733); and T.38 fax
// over UDPTL offered in a re-INVITE.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::sip {

enum class G711 : std::uint8_t { Pcmu = 0, Pcma = 8 };

// An SDES key (RFC 4568): a=crypto:TAG SUITE inline:KEY...
struct SdesCrypto {
  unsigned tag = 1;
  std::string suite;       // AES_CM_128_HMAC_SHA1_80 ...
  std::string key_params;  // after "inline:": the base64 key and salt, |lifetime, |MKI
};

struct AudioOffer {
  std::string address;          // where to send our RTP
  std::uint16_t port = 0;       // 0: the stream was declined
  std::optional<G711> codec;    // first of PCMU/PCMA in the offer's order
  std::optional<std::uint8_t> telephone_event_pt;
  bool savp = false;                // m=audio ... RTP/SAVP: SRTP or nothing
  std::vector<SdesCrypto> crypto;   // in the offer's order of preference
};

// nullopt when the text is not SDP with an audio stream; codec empty when no
// codec we speak is offered (the caller answers 488).
std::optional<AudioOffer> parse_audio_offer(std::string_view sdp);

struct AudioAnswer {
  std::string address;
  std::uint16_t port = 0;
  G711 codec = G711::Pcmu;
  std::optional<std::uint8_t> telephone_event_pt;
  std::uint64_t session_id = 0;
  std::optional<SdesCrypto> crypto;  // set: our key for the suite chosen
  bool savp = false;                 // RTP/SAVP (as offered), else RTP/AVP
};

std::string make_audio_answer(const AudioAnswer& answer);

// T.38 fax over UDPTL (ITU-T T.38 Annex D, RFC 3362): m=image PORT udptl t38.
enum class T38ErrorCorrection : std::uint8_t { None, Redundancy, Fec };

struct T38Offer {
  std::string address;
  std::uint16_t port = 0;
  unsigned version = 0;
  unsigned max_bit_rate = 14400;
  bool transferred_tcf = true;  // T38FaxRateManagement: transferredTCF (UDP) or localTCF
  unsigned max_datagram = 0;    // 0: not given
  T38ErrorCorrection error_correction = T38ErrorCorrection::Redundancy;
  bool fill_bit_removal = false;
  // Every m= line of the offer in order ("image" for ours, else the line to
  // answer with port 0, since an answer keeps the offer's m= lines).
  std::vector<std::string> media;
};

// nullopt when the SDP has no usable m=image ... udptl t38 stream.
std::optional<T38Offer> parse_t38_offer(std::string_view sdp);

struct T38Answer {
  std::string address;
  std::uint16_t port = 0;
  unsigned version = 0;
  unsigned max_bit_rate = 14400;
  bool transferred_tcf = true;
  unsigned max_datagram = 400;       // ours: the largest datagram we accept
  unsigned peer_max_datagram = 400;  // theirs, from the offer (not in the answer)
  T38ErrorCorrection error_correction = T38ErrorCorrection::Redundancy;
  std::vector<std::string> media;  // as in the offer
  std::uint64_t session_id = 0;
  std::uint64_t session_version = 0;
};

std::string make_t38_answer(const T38Answer& answer);

}  // namespace umstore::sip
