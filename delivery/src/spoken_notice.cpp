#include "spoken_notice.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "codecs/audio.hpp"
#include "common/child_process.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"

namespace umstore::delivery {
namespace {

constexpr std::string_view kLog = "delivery";

}  // namespace

std::optional<std::vector<std::uint8_t>> spoken_notice(std::string_view text) try {
  std::string path = (std::filesystem::temp_directory_path() / "umstore-notice-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("cannot make a temporary file");
  ::close(fd);
  const auto status = run_program({"espeak-ng", "-v", "en-us", "-s", "150", "-w", path, std::string(text)});
  const std::string bytes = status == 0 ? read_file(path) : std::string();
  std::filesystem::remove(path);
  if (!status) {
    static std::atomic<bool> told{false};
    if (!told.exchange(true))
      log(LogLevel::Warning, kLog, "espeak-ng is not installed: quota warnings to voice users are text only");
    return std::nullopt;
  }
  if (*status != 0) throw std::runtime_error("espeak-ng exited with " + std::to_string(*status));
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  auto audio = codecs::decode_audio(std::span(data, bytes.size()), "notice.wav");
  if (audio.sample_rate != 8000) audio = codecs::resample(audio, 8000);
  return codecs::encode_wav_pcm16(audio);
} catch (const std::exception& e) {
  log(LogLevel::Warning, kLog, "spoken notice not rendered, text only: {}", e.what());
  return std::nullopt;
}

}  // namespace umstore::delivery
