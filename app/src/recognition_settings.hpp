#pragma once
// [transcription] and [fax_ocr]: what the config file says, and the engines
// and worker pool started from it (README "Voicemail transcripts and fax text").
#include <string>
#include <vector>

#include <Poco/Util/AbstractConfiguration.h>

#include "ingest/pipeline.hpp"

namespace umstore::app {

struct RecognitionConfig {
  bool transcription = true;                   // [transcription] enabled
  std::string transcription_command;           // empty: the built-in engine (pocketsphinx)
  unsigned command_timeout_seconds = 60;
  unsigned wait_seconds = 20;                  // how long a voicemail or fax waits for its text
  unsigned threads = 2;                        // the pool, for transcripts and fax text
  unsigned queue = 32;
  std::vector<std::string> transcription_off_for;
  bool fax_ocr = true;                         // [fax_ocr] enabled
  std::string fax_language = "eng";
  unsigned fax_first_lines = 5;
  std::vector<std::string> fax_ocr_off_for;
};

// Throws UsageError naming the key.
void apply_recognition_config(const Poco::Util::AbstractConfiguration& ini, RecognitionConfig& config);

// The engines and their pool (threads start here); empty when both are off.
ingest::RecognitionSettings start_recognition(const RecognitionConfig& config);

}  // namespace umstore::app
