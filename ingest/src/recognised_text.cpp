// Transcripts and fax text for composed messages: see recognised_text.hpp.
#include "recognised_text.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace umstore::ingest {
namespace {

bool is_off_for(const std::vector<std::string>& numbers, const std::string& number) {
  return std::find(numbers.begin(), numbers.end(), number) != numbers.end();
}

std::size_t word_count(std::string_view text) {
  std::size_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool blank = c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f';
    if (!blank && !in_word) ++words;
    in_word = !blank;
  }
  return words;
}

}  // namespace

TextUnderway::TextUnderway(std::string what, std::string recording_name)
    : what_(std::move(what)), recording_name_(std::move(recording_name)) {}

void TextUnderway::submitted(std::shared_ptr<recognition::PendingText> pending, std::chrono::milliseconds wait) {
  asked_ = true;
  pending_ = std::move(pending);
  deadline_ = std::chrono::steady_clock::now() + wait;
}

TextUnderway TextUnderway::for_voice(const RecognitionSettings& settings, const Recording& recording,
                                     const codecs::PcmAudio& audio) {
  TextUnderway underway("transcript", "voicemail " + recording.file_name + " for " + recording.to_number);
  if (!settings.pool || !settings.transcriber || is_off_for(settings.transcription_off_for, recording.to_number))
    return underway;
  auto transcriber = settings.transcriber;
  underway.submitted(settings.pool->submit("voice",
                                           [transcriber, audio] {
                                             return recognition::RecognisedText{transcriber->transcribe(audio).text, {}};
                                           }),
                     settings.wait);
  return underway;
}

TextUnderway TextUnderway::for_fax(const RecognitionSettings& settings, const Recording& recording,
                                   std::span<const std::uint8_t> tiff) {
  TextUnderway underway("fax text", "fax " + recording.file_name + " for " + recording.to_number);
  if (!settings.pool || !settings.fax_reader || is_off_for(settings.fax_text_off_for, recording.to_number))
    return underway;
  auto reader = settings.fax_reader;
  underway.submitted(settings.pool->submit("fax",
                                           [reader, image = std::vector<std::uint8_t>(tiff.begin(), tiff.end())] {
                                             recognition::FaxText text = reader->read(image);
                                             return recognition::RecognisedText{std::move(text.full_text),
                                                                                std::move(text.first_lines)};
                                           }),
                     settings.wait);
  return underway;
}

recognition::RecognisedText TextUnderway::await() {
  if (!asked_) return {};
  if (!pending_) {
    note_ = "no " + what_ + " (the recognition queue is full)";
    log(LogLevel::Warning, "ingest", "{} goes without {}: the recognition queue is full", recording_name_, what_);
    return {};
  }
  std::optional<recognition::RecognisedText> text = pending_->wait_until(deadline_);
  if (!text) {
    note_ = "no " + what_ + " (" + pending_->why() + ")";
    log(LogLevel::Warning, "ingest", "{} goes without {}: {}", recording_name_, what_, pending_->why());
    return {};
  }
  const std::size_t words = word_count(text->text);
  note_ = words == 0 ? (what_ == "transcript" ? "no speech heard" : "no text on the pages")
                     : what_ + " " + std::to_string(words) + " words";
  return std::move(*text);
}

}  // namespace umstore::ingest
