#pragma once
// The ingest pipeline: a gateway's recording or fax image in, a standard
// message out. Transcoding and composition are pure but for waiting on the
// recognition pool for a transcript or fax text (RecognitionSettings);
// handing the message on is a separate step (SMTP to the running server, or straight into the
// mailstore when no server runs).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "ingest/decode_worker.hpp"
#include "mime/voice_message.hpp"
#include "recognition/fax_text_reader.hpp"
#include "recognition/recognition_pool.hpp"
#include "recognition/transcriber.hpp"

namespace umstore::ingest {

enum class Kind { Voice, Fax };

struct Recording {
  Kind kind = Kind::Voice;
  std::string to_number;            // E.164 mailbox
  std::string to_name;              // display name of the mailbox owner, may be empty
  mime::Caller caller;
  std::string file_name;            // for messages and errors
  std::vector<std::uint8_t> file;   // WAV/AU/... for voice, TIFF for fax
  std::chrono::system_clock::time_point received = std::chrono::system_clock::now();
  std::string note;                 // told to the reader, e.g. why a fax ended before its last page
};

// Transcripts and fax text ([transcription], [fax_ocr]). How delivery and
// recognition meet: composing submits the recording to the pool, encodes
// it meanwhile, then waits for the text up to `wait` and composes the
// message with the text or, when the engine failed, timed out or the pool
// was full, without it (the log says why). So a voicemail is never lost
// or held for longer than `wait` by its engine, and arrives with its text
// when the engine keeps up.
struct RecognitionSettings {
  std::shared_ptr<recognition::RecognitionPool> pool;           // null: neither runs
  std::shared_ptr<const recognition::Transcriber> transcriber;  // null: no transcripts
  std::shared_ptr<const recognition::FaxTextReader> fax_reader; // null: no fax text
  std::chrono::milliseconds wait = std::chrono::seconds(20);
  std::vector<std::string> transcription_off_for;  // mailbox numbers that want no transcript
  std::vector<std::string> fax_text_off_for;       // mailbox numbers that want no fax text
};

struct IngestSettings {
  std::string domain = "localhost";  // mail domain of local mailboxes
  codecs::AudioLimits voice_limits;  // [codecs]: longer or larger recordings are refused
  codecs::FaxLimits fax_limits;      // [codecs]: more pages, larger pages or files are refused
  DecodeSandbox decode;              // [ingest] sandbox: where the file is decoded (default: in this process)
  RecognitionSettings recognition;
};

// A composed message ready for delivery.
struct ComposedMessage {
  std::string recipient_number;
  std::string recipient_address;  // "+15550100@domain"
  std::string rfc822;             // CRLF line ends
  std::string summary;            // "voice 0:23 from +15550123, transcript 12 words" for logs and the CLI
};

// Throws codecs::CodecError (names the file and what is wrong, or which
// decode limit it exceeded) or std::invalid_argument for bad numbers.
ComposedMessage compose(const Recording& recording, const IngestSettings& settings);

// One recording's result in compose_batch: the message, or why there is none.
struct ComposeOutcome {
  std::optional<ComposedMessage> message;
  std::string error;  // compose()'s exception text when message is empty
  bool interrupted = false;  // the server stopped while it was decoded: neither message nor error
};

// compose() for several recordings at once: their voice is encoded side by
// side (codecs::encode_32kadpcm_batch), which costs a core less per
// recording than one at a time. Outcome i is what compose(*recordings[i])
// gives; a recording that cannot be composed fails alone. Throws only when
// the batch as a whole cannot run (out of memory).
std::vector<ComposeOutcome> compose_batch(std::span<const Recording* const> recordings,
                                          const IngestSettings& settings);

}  // namespace umstore::ingest
