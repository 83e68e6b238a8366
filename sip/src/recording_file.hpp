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

// A fax being received is <dir>/<id>.tif (written by spandsp page by page)
// with <dir>/<id>.fax.json next to it, written durably before the first page.
void write_fax_meta(const std::filesystem::path& dir, const std::string& id, const RecordingMeta& meta);
// fsync of the TIFF after a page, so a crash keeps the pages that arrived.
void sync_fax_pages(const std::filesystem::path& tiff);
// Removes the TIFF and its .fax.json, as far as they exist.
void remove_fax_files(const std::filesystem::path& tiff);

// Recordings and faxes a crash left behind in `dir`, ready to deliver (an
// empty file: nothing to deliver, just clean up).
struct LeftoverRecording {
  ingest::Recording recording;
  std::filesystem::path pcm, json;  // pcm: the .tif of a fax
};
std::vector<LeftoverRecording> find_leftover_recordings(const std::filesystem::path& dir);

ingest::Recording make_voice_recording(const RecordingMeta& meta, std::vector<std::int16_t> pcm,
                                       const std::string& file_name);

}  // namespace umstore::sip
