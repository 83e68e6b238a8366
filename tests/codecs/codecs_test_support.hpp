#pragma once
// Shared helpers for the codecs tests: files, external tools, signal measures.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace codecs_test {

inline std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::filesystem::path sample(const char* file) { return std::filesystem::path(UMSTORE_SAMPLES) / file; }

// A scratch directory removed with everything in it at scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    static int serial = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("umstore-codecs-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs a shell command, returns its stdout; throws if it exits non-zero.
inline std::string run(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("command failed: " + command);
  return output;
}

inline std::vector<std::int16_t> sine(double frequency, unsigned rate, std::size_t count, double amplitude) {
  std::vector<std::int16_t> samples(count);
  for (std::size_t i = 0; i < count; ++i)
    samples[i] = static_cast<std::int16_t>(
        std::lround(amplitude * std::sin(2 * std::numbers::pi * frequency * static_cast<double>(i) / rate)));
  return samples;
}

// Amplitude of one frequency component (Goertzel over the middle of the signal,
// skipping the edges where any filter has its start-up transient).
inline double tone_amplitude(std::span<const std::int16_t> samples, double frequency, unsigned rate) {
  const std::size_t skip = samples.size() / 8;
  const auto middle = samples.subspan(skip, samples.size() - 2 * skip);
  double re = 0, im = 0;
  for (std::size_t i = 0; i < middle.size(); ++i) {
    const double phase = 2 * std::numbers::pi * frequency * static_cast<double>(i) / rate;
    re += middle[i] * std::cos(phase);
    im += middle[i] * std::sin(phase);
  }
  return 2 * std::hypot(re, im) / static_cast<double>(middle.size());
}

inline double rms(std::span<const std::int16_t> samples) {
  double sum = 0;
  for (const auto s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

// Signal-to-noise ratio of `test` against `reference` over their common length, in dB.
inline double snr_db(std::span<const std::int16_t> reference, std::span<const std::int16_t> test) {
  const std::size_t n = std::min(reference.size(), test.size());
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < n; ++i) {
    signal += static_cast<double>(reference[i]) * reference[i];
    const double error = static_cast<double>(reference[i]) - test[i];
    noise += error * error;
  }
  return noise == 0 ? 200.0 : 10 * std::log10(signal / noise);
}

}  // namespace codecs_test
