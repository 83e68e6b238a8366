#pragma once
// SDP offer/answer (RFC 4566, RFC 3264) for the one case we serve: one audio
// stream, PCMU or PCMA, optionally telephone-event (RFC 4733).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::sip {

enum class G711 : std::uint8_t { Pcmu = 0, Pcma = 8 };

struct AudioOffer {
  std::string address;          // where to send our RTP
  std::uint16_t port = 0;       // 0: the stream was declined
  std::optional<G711> codec;    // first of PCMU/PCMA in the offer's order
  std::optional<std::uint8_t> telephone_event_pt;
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
};

std::string make_audio_answer(const AudioAnswer& answer);

}  // namespace umstore::sip
