#pragma once
// Building blocks for rewriting a message into another form while keeping
// its original parts byte for byte: header surgery, new parts, playable
// audio and fax copies, the pure VPIM and the IVM forms. Internal to delivery/.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "codecs/audio.hpp"
#include "mailstore/account_store.hpp"
#include "mime/message_parser.hpp"

namespace umstore::delivery::rewriting {

std::string lower(std::string_view text);
std::string trimmed(std::string_view text);
std::string header_text(const mime::Part& part, std::string_view name);  // unfolded, RFC 2047 decoded
std::string address_in(std::string_view value);                         // the addr-spec of a From-style field

std::span<const std::uint8_t> as_bytes(std::string_view text);
std::string_view as_text(std::span<const std::uint8_t> bytes);

// A boundary that occurs nowhere in `content`.
std::string fresh_boundary(std::string_view content);
// The header fields of `header_block` (CRLF), without the `dropped` ones and without the empty line.
std::string header_without(std::string_view header_block, std::initializer_list<std::string_view> dropped);
// A part's header and body exactly as they are in `raw`.
std::string_view whole_part(const mime::Part& part, std::string_view raw);

// The audio of the voice=Voice-Message parts of a multipart/voice-message,
// concatenated (RFC 3801 §4.4); nullopt when none or longer than max_seconds.
std::optional<codecs::PcmAudio> voice_audio(const mime::Part& voice_message, std::string_view raw,
                                            double max_seconds);

// A voice message's automatic transcript as composed: its header field and
// its text part, each whole (CRLF); empty when it has none.
struct TranscriptParts {
  std::string field;
  std::string part;
};
TranscriptParts transcript_parts(const mime::Part& root, std::string_view raw);

// A multipart/mixed around `root`'s content (kept byte for byte) with
// people's text first (mime/people_text.hpp), after `transcript` when
// given, and the recording as WAV or MP3 last. `root` must be a
// multipart/voice-message message.
std::string with_playable_audio(const mime::Part& root, std::string_view raw, const codecs::PcmAudio& audio,
                                mailstore::PlayableAudio playable, const TranscriptParts& transcript = {});

// People's form of an Internet fax: a multipart/mixed of people's text (from
// whom, how many pages, when, the file names), the other parts of a
// multipart/mixed fax as they came (a cover text, a note), the TIFF as an
// attachment named for caller and time (its Content-Type, encoding and body
// byte for byte) and, with `add_pdf`, a PDF copy. A fax already in that form
// only gains the PDF, inserted before its close delimiter. nullopt when there
// is no TIFF or nothing to do. Throws codecs::CodecError when the TIFF cannot be read.
std::optional<std::string> as_people_fax(const mime::Part& root, std::string_view raw, bool add_pdf);

// The multipart/voice-message inside a multipart/mixed lifted to the top
// level, byte for byte, with the original message header but the transcript
// field (RFC 3801: what a VPIM system expects). `voice_message` is a child of `root`.
std::string as_pure_vpim(const mime::Part& root, const mime::Part& voice_message, std::string_view raw);

// RFC 4239 IVM: multipart/mixed with a text part (handling=optional) and the
// recording as audio/basic (8 kHz mu-law, handling=required); no audio/32KADPCM.
std::string as_ivm(const mime::Part& root, std::string_view raw, const codecs::PcmAudio& audio);

}  // namespace umstore::delivery::rewriting
