#pragma once
// A recording's transcript or fax text on its way: submitted to the
// recognition pool before the message is encoded, awaited (up to
// RecognitionSettings::wait from submission) before it is composed.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ingest/pipeline.hpp"

namespace umstore::ingest {

class TextUnderway {
 public:
  static TextUnderway for_voice(const RecognitionSettings& settings, const Recording& recording,
                                const codecs::PcmAudio& audio);
  static TextUnderway for_fax(const RecognitionSettings& settings, const Recording& recording,
                              std::span<const std::uint8_t> tiff);

  // The text, empty when there is none; logs why there is none when
  // recognition was asked for. note() then says what the message got.
  recognition::RecognisedText await();
  const std::string& note() const { return note_; }

 private:
  TextUnderway(std::string what, std::string recording_name);
  void submitted(std::shared_ptr<recognition::PendingText> pending, std::chrono::milliseconds wait);

  std::string what_;            // "transcript", "fax text"
  std::string recording_name_;  // for the log: whose recording for which mailbox
  std::shared_ptr<recognition::PendingText> pending_;
  std::chrono::steady_clock::time_point deadline_;
  bool asked_ = false;
  std::string note_;
};

}  // namespace umstore::ingest
