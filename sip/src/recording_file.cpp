#include "recording_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/log.hpp"

namespace umstore::sip {
namespace {

std::string meta_json(const RecordingMeta& m) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(m.received.time_since_epoch()).count();
  return nlohmann::json{{"to_number", m.to_number},
                        {"to_name", m.to_name},
                        {"caller_number", m.caller.number},
                        {"caller_name", m.caller.name},
                        {"received", seconds}}
             .dump();
}

RecordingMeta parse_meta(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  RecordingMeta m;
  m.to_number = j.at("to_number").get<std::string>();
  m.to_name = j.value("to_name", "");
  m.caller.number = j.value("caller_number", "");
  m.caller.name = j.value("caller_name", "");
  m.received = std::chrono::system_clock::time_point(std::chrono::seconds(j.value("received", std::int64_t{0})));
  return m;
}

std::vector<std::int16_t> samples_of(const std::string& bytes) {
  std::vector<std::int16_t> pcm(bytes.size() / 2);
  for (std::size_t i = 0; i < pcm.size(); ++i)
    pcm[i] = static_cast<std::int16_t>(static_cast<std::uint8_t>(bytes[2 * i]) |
                                       (static_cast<std::uint8_t>(bytes[2 * i + 1]) << 8));
  return pcm;
}

}  // namespace

ingest::Recording make_voice_recording(const RecordingMeta& meta, std::vector<std::int16_t> pcm,
                                       const std::string& file_name) {
  codecs::PcmAudio audio;
  audio.sample_rate = 8000;
  audio.samples = std::move(pcm);
  ingest::Recording r;
  r.kind = ingest::Kind::Voice;
  r.to_number = meta.to_number;
  r.to_name = meta.to_name;
  r.caller = meta.caller;
  r.file_name = file_name;
  r.file = codecs::encode_wav_pcm16(audio);
  r.received = meta.received;
  return r;
}

RecordingFile::RecordingFile(const std::filesystem::path& dir, const std::string& id, const RecordingMeta& meta)
    : pcm_(dir / (id + ".pcm")), json_(dir / (id + ".json")), id_(id), meta_(meta) {
  create_directories_durably(dir);
  fd_ = UniqueFd(::open(pcm_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) throw IoError("cannot create recording", pcm_, errno);
  // The metadata goes last and durably: a .json names a .pcm that exists.
  replace_file_durably(json_, meta_json(meta));
}

void RecordingFile::append(std::span<const std::int16_t> samples) {
  std::vector<std::byte> bytes(samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto s = static_cast<std::uint16_t>(samples[i]);
    bytes[2 * i] = static_cast<std::byte>(s & 0xff);
    bytes[2 * i + 1] = static_cast<std::byte>(s >> 8);
  }
  std::lock_guard lock(fd_mutex_);
  if (!fd_) return;
  write_all(fd_.get(), bytes, pcm_);
  samples_ += samples.size();
}

void RecordingFile::sync() {
  std::lock_guard lock(fd_mutex_);
  if (fd_) fsync_fd(fd_.get(), pcm_);
}

ingest::Recording RecordingFile::to_recording() {
  {
    std::lock_guard lock(fd_mutex_);
    if (fd_) fsync_fd(fd_.get(), pcm_);
    fd_ = UniqueFd();
  }
  return make_voice_recording(meta_, samples_of(read_file(pcm_)), id_ + ".wav");
}

void RecordingFile::remove() {
  std::error_code ec;
  std::filesystem::remove(json_, ec);
  std::filesystem::remove(pcm_, ec);
}

void write_fax_meta(const std::filesystem::path& dir, const std::string& id, const RecordingMeta& meta) {
  replace_file_durably(dir / (id + ".fax.json"), meta_json(meta));
}

void sync_fax_pages(const std::filesystem::path& tiff) {
  const UniqueFd fd(::open(tiff.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return;  // not created yet: no page to keep
  fsync_fd(fd.get(), tiff);
  fsync_directory(tiff.parent_path());
}

void remove_fax_files(const std::filesystem::path& tiff) {
  std::error_code ignored;
  std::filesystem::remove(tiff, ignored);
  std::filesystem::remove(std::filesystem::path(tiff).replace_extension(".fax.json"), ignored);
}

namespace {

// The pages of a fax cut short by a crash: spandsp writes each page's
// directory when the page is complete, so the TIFF holds the pages that
// arrived; none at all means nothing to deliver.
LeftoverRecording leftover_fax(const std::filesystem::path& json) {
  const auto id = json.stem().stem().string();  // <id>.fax.json
  const auto tiff = json.parent_path() / (id + ".tif");
  LeftoverRecording out{ingest::Recording{}, tiff, json};
  const auto meta = parse_meta(read_file(json));
  if (!std::filesystem::exists(tiff)) return out;
  std::string bytes = read_file(tiff);
  try {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    if (codecs::inspect_tiff(std::span(data, bytes.size()), tiff.filename().string()).pages.empty()) return out;
  } catch (const std::exception&) {
    return out;  // the first page never completed
  }
  auto& r = out.recording;
  r.kind = ingest::Kind::Fax;
  r.to_number = meta.to_number;
  r.to_name = meta.to_name;
  r.caller = meta.caller;
  r.received = meta.received;
  r.note = "The fax reception was interrupted by a restart of the server; the pages that arrived are attached.";
  r.file_name = tiff.filename().string();
  r.file.assign(bytes.begin(), bytes.end());
  return out;
}

}  // namespace

std::vector<LeftoverRecording> find_leftover_recordings(const std::filesystem::path& dir) {
  std::vector<LeftoverRecording> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    if (entry.path().stem().extension() == ".fax") {
      try {
        out.push_back(leftover_fax(entry.path()));
      } catch (const std::exception& e) {
        log(LogLevel::Warning, "sip", "leftover fax {} unreadable, left in place: {}", entry.path().string(), e.what());
      }
      continue;
    }
    auto pcm = entry.path();
    pcm.replace_extension(".pcm");
    try {
      const auto meta = parse_meta(read_file(entry.path()));
      auto samples = std::filesystem::exists(pcm) ? samples_of(read_file(pcm)) : std::vector<std::int16_t>{};
      if (samples.empty()) {
        out.push_back({ingest::Recording{}, pcm, entry.path()});  // nothing was said: just clean up
        continue;
      }
      out.push_back({make_voice_recording(meta, std::move(samples), entry.path().stem().string() + ".wav"), pcm,
                     entry.path()});
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "leftover recording {} unreadable, left in place: {}", entry.path().string(),
          e.what());
    }
  }
  return out;
}

}  // namespace umstore::sip
