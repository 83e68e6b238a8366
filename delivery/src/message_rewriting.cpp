// Message rewriting building blocks: see message_rewriting.hpp.
#include "message_rewriting.hpp"

#include <algorithm>
#include <functional>

#include "codecs/fax.hpp"
#include "codecs/mp3.hpp"
#include "common/rfc5322_date.hpp"
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

std::string text_part(const std::string& utf8, std::string_view disposition = "inline") {
  const bool ascii = std::all_of(utf8.begin(), utf8.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
  return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " +
         std::string(ascii ? "7bit" : "quoted-printable") + "\r\nContent-Disposition: " + std::string(disposition) +
         "\r\n\r\n" + (ascii ? utf8 : mime::quoted_printable_encode(utf8));
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

std::string sender_phrase(const Part& root) {
  const std::string from = header_text(root, "From");
  return from.empty() ? std::string("an unknown sender") : from;
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

std::string with_playable_audio(const Part& root, std::string_view raw, const codecs::PcmAudio& audio,
                                mailstore::PlayableAudio playable, int utc_offset_minutes) {
  const long long seconds = mime::content_duration_seconds(audio.duration_seconds());
  const bool mp3 = playable == mailstore::PlayableAudio::mp3;
  const std::vector<std::uint8_t> file = mp3 ? codecs::encode_mp3(audio, kPlayableMp3Kbps) : codecs::encode_wav_pcm16(audio);
  const std::string name = mp3 ? "voicemail.mp3" : "voicemail.wav";
  std::string when;
  if (const auto date = parse_rfc5322_date(header_text(root, "Date")))
    when = ", sent " + format_rfc5322_date(*date, utc_offset_minutes);
  const std::string text = "Voice message from " + sender_phrase(root) + ", " +
                           mime::format_duration(static_cast<double>(seconds)) + when +
                           ".\r\n\r\nThe recording is attached as " + name +
                           "; the original VPIM message (audio/32KADPCM) is kept as it was sent.\r\n";
  const std::string original = content_fields(root.header_text(raw)) + "\r\n" + std::string(root.body(raw));
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  append_part(body, boundary, text_part(text));
  append_part(body, boundary, original);
  append_part(body, boundary,
              base64_part(mp3 ? "audio/mpeg" : "audio/wav", "attachment; filename=\"" + name + "\"", file, seconds));
  body += "--" + boundary + "--\r\n";
  std::string headers = message_fields(root.header_text(raw));
  headers += "MIME-Version: " + trimmed(mime::unfold(root.header("MIME-Version").value_or("1.0 (Voice 2.0)"))) + "\r\n";
  return headers + mixed_header(boundary) + body;
}

std::optional<std::string> with_fax_pdf(const Part& root, std::string_view raw) {
  const Part* tiff = is_tiff(root) ? &root : nullptr;
  if (!tiff && root.content_type.is("multipart", "mixed")) {
    for (const Part& child : root.children) {
      if (child.content_type.is("application", "pdf")) return std::nullopt;
      if (!tiff && is_tiff(child)) tiff = &child;
    }
  }
  if (!tiff) return std::nullopt;
  const std::string image = mime::decode_body(*tiff, raw);
  const std::vector<std::uint8_t> pdf = codecs::to_fax_pdf(as_bytes(image), "fax.tif");
  const std::string pdf_part = base64_part("application/pdf", "attachment; filename=\"fax.pdf\"", pdf, std::nullopt);
  if (tiff != &root) {
    // Insert before the close delimiter: every original octet stays where it was.
    const std::string boundary = root.content_type.params.get("boundary").value_or("");
    const std::string close = "\r\n--" + boundary + "--";
    const std::size_t at = raw.rfind(close, root.body_end);
    if (boundary.empty() || at == std::string_view::npos || at < root.body_begin) return std::nullopt;
    return std::string(raw.substr(0, at)) + "\r\n--" + boundary + "\r\n" + pdf_part + std::string(raw.substr(at));
  }
  const std::string text = "Fax from " + sender_phrase(root) +
                           ".\r\n\r\nThe fax is attached as fax.pdf (PDF); the original TIFF image follows it "
                           "unchanged.\r\n";
  const std::string original = content_fields(root.header_text(raw)) + "\r\n" + std::string(root.body(raw));
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  append_part(body, boundary, text_part(text));
  append_part(body, boundary, original);
  append_part(body, boundary, pdf_part);
  body += "--" + boundary + "--\r\n";
  std::string headers = message_fields(root.header_text(raw));
  headers += "MIME-Version: " + trimmed(mime::unfold(root.header("MIME-Version").value_or("1.0"))) + "\r\n";
  return headers + mixed_header(boundary) + body;
}

std::string as_pure_vpim(const Part& root, const Part& voice_message, std::string_view raw) {
  std::string out = message_fields(root.header_text(raw)) + "MIME-Version: 1.0 (Voice 2.0)\r\n";
  out += whole_part(voice_message, raw);
  if (!out.ends_with(kCrlf)) out += kCrlf;
  return out;
}

std::string as_ivm(const Part& root, std::string_view raw, const codecs::PcmAudio& audio) {
  std::vector<std::uint8_t> ulaw(audio.samples.size());
  std::transform(audio.samples.begin(), audio.samples.end(), ulaw.begin(), mulaw_of);
  const long long seconds = mime::content_duration_seconds(audio.duration_seconds());
  const std::string text = "Voice message from " + sender_phrase(root) + ", " +
                           mime::format_duration(static_cast<double>(seconds)) +
                           ".\r\n\r\nThe recording is attached as voicemail.au (G.711 mu-law).\r\n";
  const std::string boundary = fresh_boundary(raw);
  std::string body;
  append_part(body, boundary, text_part(text, "inline; handling=optional"));
  append_part(body, boundary,
              base64_part("audio/basic", "attachment; filename=\"voicemail.au\";\r\n voice=Voice-Message; handling=required",
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
