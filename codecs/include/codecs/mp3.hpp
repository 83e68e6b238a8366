#pragma once
// MP3 for people's mail clients: every desktop and phone plays it, and at
// 32 kbit/s a minute of speech is 240 kB. Pure: bytes in, bytes out.
#include <cstdint>
#include <vector>

#include "codecs/audio.hpp"

namespace umstore::codecs {

// MPEG audio (LAME), mono, constant bit rate `kbps` (8..160), at the input's
// sample rate when MPEG has it (8 kHz speech stays MPEG-2.5 at 8 kHz), no
// ID3 or Xing tags. Throws CodecError for empty audio or an impossible rate.
std::vector<std::uint8_t> encode_mp3(const PcmAudio& audio, unsigned kbps = 32);

}  // namespace umstore::codecs
