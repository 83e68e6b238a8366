#pragma once
// A recording written as it arrives, so a crash mid-call keeps what was said:
// <dir>/<id>.json (who called whom, written durably first) and <id>.pcm
// (16-bit little-endian 8 kHz samples, appended and fsync'ed periodically).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/durable_file.hpp"
#include "ingest/pipeline.hpp"

namespace umstore::sip {

struct RecordingMeta {
  std::string to_number;
  std::string to_name;
  mime::Caller caller;
  std::chrono::system_clock::time_point received;
};

class RecordingFile {
 public:
  RecordingFile(const std::filesystem::path& dir, const std::string& id, const RecordingMeta& meta);

  void append(std::span<const std::int16_t> samples);
  void sync();  // safe to call from another thread than append()
  std::uint64_t samples() const { return samples_; }
  const RecordingMeta& meta() const { return meta_; }
  std::string id() const { return id_; }

  // Closes the file and turns it into a Voice recording with a WAV.
  ingest::Recording to_recording();
  void remove();

 private:
  std::filesystem::path pcm_, json_;
  std::string id_;
  RecordingMeta meta_;
  UniqueFd fd_;
  std::mutex fd_mutex_;
  std::uint64_t samples_ = 0;
};

// Recordings a crash left behind in `dir`, as (recording, id) ready to deliver.
struct LeftoverRecording {
  ingest::Recording recording;
  std::filesystem::path pcm, json;
};
std::vector<LeftoverRecording> find_leftover_recordings(const std::filesystem::path& dir);

ingest::Recording make_voice_recording(const RecordingMeta& meta, std::vector<std::int16_t> pcm,
                                       const std::string& file_name);

}  // namespace umstore::sip
