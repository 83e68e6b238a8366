// Message rewriting building blocks: see message_rewriting.hpp.
#include "message_rewriting.hpp"

#include <algorithm>
#include <functional>

#include "codecs/fax.hpp"
#include "codecs/mp3.hpp"
#include "mime/conformance.hpp"
#include "mime/people_text.hpp"
#include "mime/voice_message.hpp"

namespace umstore::delivery::rewriting {
namespace {

using mime::Part;

constexpr std::string_view kCrlf = "\r\n";
constexpr unsigned kPlayableMp3Kbps = 32;

// The header fields for which `keep(lower-case name)` is true, CRLF, without the empty line.
std::string filtered_header(std::string_view header_block, const std::function<bool(const std::string&)>& keep) {
  std::string out;
  bool keeping = true;
  std::size_t pos = 0;
  while (pos < header_block.size()) {
    std::size_t end = header_block.find('\n', pos);
    end = end == std::string_view::npos ? header_block.size() : end + 1;
    const std::string_view line = header_block.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n" || line == "\n") break;  // the empty line ending the header
    const bool continuation = line.front() == ' ' || line.front() == '\t';
    if (!continuation) keeping = keep(lower(trimmed(line.substr(0, line.find(':')))));
    if (keeping) {
      out += line;
      if (!out.ends_with(kCrlf)) {
        if (out.ends_with('\n')) out.pop_back();
        out += kCrlf;
      }
    }
  }
  return out;
}

std::string content_fields(std::string_view header_block) {
  return filtered_header(header_block, [](const std::string& name) { return name.starts_with("content-"); });
}

std::string message_fields(std::string_view header_block) {
  return filtered_header(header_block, [](const std::string& name) {
    return !name.starts_with("content-") && name != "mime-version";
  });
}

std::string base64_part(std::string_view content_type, std::string_view disposition,
                        std::span<const std::uint8_t> data, std::optional<long long> seconds) {
  std::string part = "Content-Type: " + std::string(content_type) + "\r\nContent-Transfer-Encoding: base64\r\n" +
                     "Content-Disposition: " + std::string(disposition) + "\r\n";
  if (seconds) part += "Content-Duration: " + std::to_string(*seconds) + "\r\n";
  return part + "\r\n" + mime::base64_encode(as_text(data));
}

void append_part(std::string& body, std::string_view boundary, std::string_view part) {
  body += "--" + std::string(boundary) + std::string(kCrlf) + std::string(part);
  if (!body.ends_with(kCrlf)) body += kCrlf;
}

std::string mixed_header(std::string_view boundary) {
  return "Content-Type: multipart/mixed;\r\n boundary=\"" + std::string(boundary) +
         "\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n";
}

// ITU-T G.711 mu-law (the classic biased-segment encoder).
std::uint8_t mulaw_of(std::int16_t sample) {
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int value = sample;
  const int sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  value = std::min(value, kClip) + kBias;
  int exponent = 7;
  for (int mask = 0x4000; (value & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  const int mantissa = (value >> (exponent + 3)) & 0x0F;
  return static_cast<std::uint8_t>(~(sign | (exponent << 4) | mantissa));
}

// A multipart/mixed message of `parts` (whole entities) under the fields of
// `root`'s header but its Content-*, and `more_fields` (whole, CRLF).
std::string mixed_message(const Part& root, std::string_view raw, std::span<const std::string> parts,
                          std::string_view default_mime_version, std::string_view more_fields = {}) {
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  for (const std::string& part : parts) append_part(body, boundary, part);
  body += "--" + boundary + "--\r\n";
  std::string headers = message_fields(root.header_text(raw)) + std::string(more_fields);
  headers += "MIME-Version: " + trimmed(mime::unfold(root.header("MIME-Version").value_or(default_mime_version))) + "\r\n";
  return headers + mixed_header(boundary) + body;
}

std::size_t forwarded_messages(const Part& voice_message) {
  return static_cast<std::size_t>(
      std::count_if(voice_message.children.begin(), voice_message.children.end(), [](const Part& p) { return p.is_message(); }));
}

bool is_tiff(const Part& part) {
  return part.content_type.is("image", "tiff") || part.content_type.is("image", "tiff-fx");
}

bool is_message_audio(const Part& part) {
  if (!part.content_type.is("audio", "32kadpcm")) return false;
  const auto voice = part.disposition.params.get("voice");
  return !voice || lower(*voice) == "voice-message";
}

}  // namespace

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return std::string(text);
}

std::string header_text(const Part& part, std::string_view name) {
  const auto raw = part.header(name);
  return raw ? trimmed(mime::decode_encoded_words(mime::unfold(*raw))) : std::string();
}

std::string address_in(std::string_view value) {
  const std::size_t open = value.rfind('<');
  const std::size_t close = value.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open)
    return lower(trimmed(value.substr(open + 1, close - open - 1)));
  return lower(trimmed(value));
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string fresh_boundary(std::string_view content) {
  const std::size_t seed = std::hash<std::string_view>{}(content.substr(0, 4096)) ^ content.size();
  for (std::size_t attempt = 0;; ++attempt) {
    std::string boundary = "=_umstore_" + std::to_string(seed + attempt);
    if (content.find(boundary) == std::string_view::npos) return boundary;
  }
}

std::string header_without(std::string_view header_block, std::initializer_list<std::string_view> dropped) {
  return filtered_header(header_block, [&](const std::string& name) {
    return std::none_of(dropped.begin(), dropped.end(), [&](std::string_view d) { return name == lower(d); });
  });
}

std::string_view whole_part(const Part& part, std::string_view raw) {
  return raw.substr(part.header_begin, part.body_end - part.header_begin);
}

std::optional<codecs::PcmAudio> voice_audio(const Part& voice_message, std::string_view raw, double max_seconds) {
  codecs::PcmAudio audio{8000, {}};
  for (const Part& child : voice_message.children) {
    if (!is_message_audio(child)) continue;
    const std::string adpcm = mime::decode_body(child, raw);
    if (static_cast<double>(adpcm.size()) / 4000.0 + audio.duration_seconds() > max_seconds) return std::nullopt;
    const auto samples = codecs::decode_32kadpcm(as_bytes(adpcm));
    audio.samples.insert(audio.samples.end(), samples.begin(), samples.end());  // RFC 3801 §4.4: concatenate, never drop
  }
  if (audio.samples.empty()) return std::nullopt;
  return audio;
}

TranscriptParts transcript_parts(const Part& root, std::string_view raw) {
  TranscriptParts out;
  const std::string field_name = lower(mime::kTranscriptField);
  out.field = filtered_header(root.header_text(raw), [&](const std::string& name) { return name == field_name; });
  if (out.field.empty() || !root.content_type.is("multipart", "mixed")) return out;
  for (const Part& child : root.children) {
    if (child.content_type.is("text", "plain") && mime::decode_body(child, raw).starts_with("Transcript (automatic")) {
      out.part = std::string(whole_part(child, raw));
      break;
    }
  }
  return out;
}

std::string with_playable_audio(const Part& root, std::string_view raw, const codecs::PcmAudio& audio,
                                mailstore::PlayableAudio playable, const TranscriptParts& transcript) {
  const long long seconds = mime::content_duration_seconds(audio.duration_seconds());
  const bool mp3 = playable == mailstore::PlayableAudio::mp3;
  const std::vector<std::uint8_t> file = mp3 ? codecs::encode_mp3(audio, kPlayableMp3Kbps) : codecs::encode_wav_pcm16(audio);
  const mime::MessageOrigin origin = mime::origin_of(root);
  const std::string name = mime::attachment_name(origin, "voicemail", mp3 ? ".mp3" : ".wav");
  const std::string text = mime::voice_text(origin, static_cast<double>(seconds), forwarded_messages(root), {&name, 1});
  std::vector<std::string> parts;
  if (!transcript.part.empty()) parts.push_back(transcript.part);
  parts.push_back(mime::text_entity(text));
  parts.push_back(content_fields(root.header_text(raw)) + "\r\n" + std::string(root.body(raw)));
  parts.push_back(
      base64_part(mp3 ? "audio/mpeg" : "audio/wav", mime::content_disposition("attachment", name), file, seconds));
  return mixed_message(root, raw, parts, "1.0 (Voice 2.0)", transcript.part.empty() ? "" : transcript.field);
}

std::optional<std::string> as_people_fax(const Part& root, std::string_view raw, bool add_pdf) {
  const Part* tiff = is_tiff(root) ? &root : nullptr;
  bool has_pdf = false;
  if (!tiff && root.content_type.is("multipart", "mixed")) {
    for (const Part& child : root.children) {
      has_pdf = has_pdf || child.content_type.is("application", "pdf");
      if (!tiff && is_tiff(child)) tiff = &child;
    }
  }
  if (!tiff) return std::nullopt;
  const std::string image = mime::decode_body(*tiff, raw);
  const mime::MessageOrigin origin = mime::origin_of(root);
  std::vector<std::string> names{mime::attachment_name(origin, "fax", ".tif")};
  if (add_pdf && !has_pdf) names.push_back(mime::attachment_name(origin, "fax", ".pdf"));
  const auto pdf_part = [&] {
    return base64_part("application/pdf", mime::content_disposition("attachment", names.back()),
                       codecs::to_fax_pdf(as_bytes(image), names.front()), std::nullopt);
  };
  if (tiff != &root && tiff->disposition.type == "attachment") {  // people's form already
    if (names.size() == 1) return std::nullopt;
    // Insert before the close delimiter: every original octet stays where it was.
    const std::string boundary = root.content_type.params.get("boundary").value_or("");
    const std::string close = "\r\n--" + boundary + "--";
    const std::size_t at = raw.rfind(close, root.body_end);
    if (boundary.empty() || at == std::string_view::npos || at < root.body_begin) return std::nullopt;
    return std::string(raw.substr(0, at)) + "\r\n--" + boundary + "\r\n" + pdf_part() + std::string(raw.substr(at));
  }
  const auto pages = static_cast<unsigned>(codecs::inspect_tiff(as_bytes(image), names.front()).pages.size());
  std::vector<std::string> parts{mime::text_entity(mime::fax_text(origin, pages, names))};
  for (const Part& child : root.children)  // a cover text or note the sender wrote, as it came
    if (&child != tiff) parts.emplace_back(whole_part(child, raw));
  // The image as it came, but offered as an attachment with a name that says from whom and when.
  const std::string type_and_encoding = filtered_header(
      tiff->header_text(raw), [](const std::string& name) { return name.starts_with("content-") && name != "content-disposition"; });
  parts.push_back(type_and_encoding + "Content-Disposition: " + mime::content_disposition("attachment", names.front()) +
                  "\r\n\r\n" + std::string(tiff->body(raw)));
  if (names.size() == 2) parts.push_back(pdf_part());
  return mixed_message(root, raw, parts, "1.0");
}

std::string as_pure_vpim(const Part& root, const Part& voice_message, std::string_view raw) {
  const std::string transcript = lower(mime::kTranscriptField);
  std::string out = filtered_header(root.header_text(raw), [&](const std::string& name) {
                      return !name.starts_with("content-") && name != "mime-version" && name != transcript;
                    }) +
                    "MIME-Version: 1.0 (Voice 2.0)\r\n";
  out += whole_part(voice_message, raw);
  if (!out.ends_with(kCrlf)) out += kCrlf;
  return out;
}

std::string as_ivm(const Part& root, std::string_view raw, const codecs::PcmAudio& audio) {
  std::vector<std::uint8_t> ulaw(audio.samples.size());
  std::transform(audio.samples.begin(), audio.samples.end(), ulaw.begin(), mulaw_of);
  const long long seconds = mime::content_duration_seconds(audio.duration_seconds());
  const mime::MessageOrigin origin = mime::origin_of(root);
  const std::string file_name = mime::attachment_name(origin, "voicemail", ".au");
  const Part* voice_message = mime::find_voice_message(root);
  const std::string text = mime::voice_text(origin, static_cast<double>(seconds),
                                            voice_message ? forwarded_messages(*voice_message) : 0, {&file_name, 1});
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  append_part(body, boundary, mime::text_entity(text, "inline; handling=optional"));
  append_part(body, boundary,
              base64_part("audio/basic",
                          mime::content_disposition("attachment", file_name) + ";\r\n voice=Voice-Message; handling=required",
                          ulaw, seconds));
  body += "--" + boundary + "--\r\n";
  const std::string headers =
      filtered_header(root.header_text(raw), [](const std::string& name) {
        return !name.starts_with("content-") && name != "mime-version" && name != "message-context";
      }) +
      "MIME-Version: 1.0\r\nMessage-Context: voice-message\r\n";
  return headers + mixed_header(boundary) + body;
}

}  // namespace umstore::delivery::rewriting
