#pragma once
// Short notices spoken for voice users (quota warnings), rendered with a
// Debian TTS program found at run time: espeak-ng.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace umstore::delivery {

// `text` spoken, as a 16-bit 8 kHz WAV (the playable form of a voicemail,
// through codecs/); nullopt when espeak-ng is not installed (logged once)
// or fails (logged). Blocking: runs a process.
std::optional<std::vector<std::uint8_t>> spoken_notice(std::string_view text);

}  // namespace umstore::delivery
