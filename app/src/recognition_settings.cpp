// [transcription] and [fax_ocr]: see recognition_settings.hpp.
#include "recognition_settings.hpp"

#include <Poco/StringTokenizer.h>

#include "command_line.hpp"
#include "common/e164.hpp"

namespace umstore::app {
namespace {

std::vector<std::string> mailbox_list(const Poco::Util::AbstractConfiguration& ini, const std::string& key) {
  Poco::StringTokenizer items(ini.getString(key, ""), ",",
                              Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  for (const std::string& number : items)
    if (!is_e164(number)) throw UsageError("[" + key.substr(0, key.find('.')) + "] off_for: '" + number +
                                           "' is not a mailbox number (+ and 2 to 15 digits)");
  return {items.begin(), items.end()};
}

}  // namespace

void apply_recognition_config(const Poco::Util::AbstractConfiguration& ini, RecognitionConfig& c) {
  c.transcription = ini.getBool("transcription.enabled", c.transcription);
  c.transcription_command = ini.getString("transcription.command", c.transcription_command);
  c.command_timeout_seconds = std::max(1u, ini.getUInt("transcription.timeout", c.command_timeout_seconds));
  c.wait_seconds = ini.getUInt("transcription.wait_seconds", c.wait_seconds);
  c.threads = std::max(1u, ini.getUInt("transcription.threads", c.threads));
  c.queue = std::max(1u, ini.getUInt("transcription.queue", c.queue));
  c.transcription_off_for = mailbox_list(ini, "transcription.off_for");
  c.fax_ocr = ini.getBool("fax_ocr.enabled", c.fax_ocr);
  c.fax_language = ini.getString("fax_ocr.language", c.fax_language);
  c.fax_first_lines = std::max(1u, ini.getUInt("fax_ocr.first_lines", c.fax_first_lines));
  c.fax_ocr_off_for = mailbox_list(ini, "fax_ocr.off_for");
}

ingest::RecognitionSettings start_recognition(const RecognitionConfig& c) {
  ingest::RecognitionSettings out;
  if (!c.transcription && !c.fax_ocr) return out;
  if (c.transcription) {
    recognition::TranscriberConfig transcriber;
    transcriber.command = c.transcription_command;
    transcriber.command_timeout = std::chrono::seconds(c.command_timeout_seconds);
    out.transcriber = std::make_shared<recognition::Transcriber>(transcriber);
  }
  if (c.fax_ocr) {
    recognition::FaxTextConfig fax;
    fax.language = c.fax_language;
    fax.first_lines = c.fax_first_lines;
    out.fax_reader = std::make_shared<recognition::FaxTextReader>(fax);
  }
  out.pool = std::make_shared<recognition::RecognitionPool>(recognition::RecognitionPoolConfig{c.threads, c.queue});
  out.wait = std::chrono::seconds(c.wait_seconds);
  out.transcription_off_for = c.transcription_off_for;
  out.fax_text_off_for = c.fax_ocr_off_for;
  return out;
}

}  // namespace umstore::app
