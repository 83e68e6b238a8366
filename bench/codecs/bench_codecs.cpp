// Throughput of umstore's codecs against the command-line tools people would
// otherwise script, measured in the same run on the same inputs. Both sides
// use both cores: umstore with two threads in one process, the peers as two
// concurrent processes (one per file, as a gateway script would run them).
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
constexpr unsigned workers = 2;

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs job(i) for i in [0, count) on `workers` threads; returns seconds.
double run_parallel_once(unsigned count, const std::function<void(unsigned)>& job) {
  std::atomic<unsigned> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (unsigned i; (i = next++) < count;) job(i);
    });
  for (auto& thread : threads) thread.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The machine is shared (other builds and tests come and go), so each side
// runs `rounds` times in turn, and each side's fastest run counts: load only
// ever slows a run down, and alternating exposes every side to the same
// conditions. Returns the seconds of each side, in order.
constexpr int rounds = 3;

struct Side {
  unsigned count;  // jobs
  std::function<void(unsigned)> job;
};

std::vector<double> best_of_rounds(const std::vector<Side>& sides) {
  std::vector<double> best(sides.size(), std::numeric_limits<double>::infinity());
  for (int round = 0; round < rounds; ++round)
    for (std::size_t i = 0; i < sides.size(); ++i)
      best[i] = std::min(best[i], run_parallel_once(sides[i].count, sides[i].job));
  return best;
}

void shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status != 0) throw std::runtime_error("failed: " + command);
}

volatile std::size_t sink = 0;  // keeps the outputs from being optimised away

void report(const char* what, const char* unit, double ours, double peer, const char* peer_name) {
  std::printf("%-34s umstore %9.1f %s   %-22s %8.1f %s   ratio %6.1fx\n", what, ours, unit, peer_name, peer, unit,
              ours / peer);
}

// CPU time of the calling thread, so the per-stage split is not skewed by other load.
double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// umstore converts each file alone (what one message at a time gets), and in
// batches whose G.726 streams run side by side in SIMD lanes (what a busy
// ingest queue or `umstore import` gets).
constexpr unsigned batch_files = 16;

// Where one file's time goes, on one thread: decode, resample, G.726, WAV.
void voice_stages(std::span<const std::uint8_t> input, const char* file) {
  using namespace umstore::codecs;
  constexpr int files = 10;
  double stage[4] = {};
  for (int file_index = 0; file_index < files; ++file_index) {
    double start = thread_seconds();
    const auto lap = [&](int index) {
      const double now = thread_seconds();
      stage[index] += now - start;
      start = now;
    };
    PcmAudio audio = decode_audio(input, file);
    lap(0);
    if (audio.sample_rate != 8000) audio = resample(audio, 8000);
    lap(1);
    sink = sink + encode_32kadpcm(audio.samples).size();
    lap(2);
    sink = sink + encode_wav_pcm16(audio).size();
    lap(3);
  }
  std::printf("  per file, one thread (CPU ms): decode %.2f  resample %.2f  G.726 %.2f  WAV %.2f  total %.2f\n",
              stage[0] * 1e3 / files, stage[1] * 1e3 / files, stage[2] * 1e3 / files, stage[3] * 1e3 / files,
              (stage[0] + stage[1] + stage[2] + stage[3]) * 1e3 / files);
  PcmAudio audio = decode_audio(input, file);
  if (audio.sample_rate != 8000) audio = resample(audio, 8000);
  const std::vector<std::span<const std::int16_t>> streams(batch_files, audio.samples);
  const double start = thread_seconds();
  for (int round = 0; round < files; ++round) sink = sink + encode_32kadpcm_batch(streams).size();
  std::printf("  G.726 per file in batches of %u (CPU ms): %.2f\n", batch_files,
              (thread_seconds() - start) * 1e3 / (files * batch_files));
}

void convert_batch(std::span<const std::uint8_t> input, const char* file, unsigned files) {
  using namespace umstore::codecs;
  std::vector<PcmAudio> audio;
  for (unsigned i = 0; i < files; ++i) {
    audio.push_back(decode_audio(input, file));
    if (audio.back().sample_rate != 8000) audio.back() = resample(audio.back(), 8000);
  }
  std::vector<std::span<const std::int16_t>> streams;
  for (const PcmAudio& a : audio) streams.emplace_back(a.samples);
  for (const auto& adpcm : encode_32kadpcm_batch(streams)) sink = sink + adpcm.size();
  for (const PcmAudio& a : audio) sink = sink + encode_wav_pcm16(a).size();
}

void bench_voice(const fs::path& dir, const char* file, unsigned count) {
  using namespace umstore::codecs;
  const auto input = read_bytes(dir / file);
  const unsigned peer_count = std::max(4u, count / 4);
  const unsigned batches = std::max(2u, count / batch_files);
  const auto seconds = best_of_rounds({
      {count, [&](unsigned) { convert_batch(input, file, 1); }},
      {batches, [&](unsigned) { convert_batch(input, file, batch_files); }},
      {peer_count,
       [&](unsigned i) {
         const std::string out = (dir / ("ff-" + std::to_string(i))).string();
         shell("ffmpeg -nostdin -v error -y -i " + (dir / file).string() +
               " -ac 1 -ar 8000 -c:a adpcm_g726le -b:a 32k -f g726le " + out + ".726 -ac 1 -ar 8000 -c:a pcm_s16le " +
               out + ".wav");
       }},
  });
  const double peer_rate = peer_count / seconds[2];
  report((std::string("60 s voicemail ") + file + " -> 726+WAV").c_str(), "files/s", count / seconds[0], peer_rate,
         "ffmpeg");
  const std::string batched = "  the same, batches of " + std::to_string(batch_files) + " files";
  report(batched.c_str(), "files/s", batches * batch_files / seconds[1], peer_rate, "ffmpeg");
  voice_stages(input, file);
}

void bench_fax(const fs::path& dir, unsigned count) {
  using namespace umstore::codecs;
  const auto input = read_bytes(dir / "fax-10.tif");
  const unsigned pages = static_cast<unsigned>(inspect_tiff(input, "fax-10.tif").pages.size());
  const unsigned peer_count = std::max(4u, count / 4);
  const auto seconds = best_of_rounds({
      {count,
       [&](unsigned) {
         const FaxConversion result = convert_fax(input, "fax-10.tif", {.want_pdf = true});
         sink = sink + result.tiff.size() + result.pdf.size();
       }},
      // tiff2pdf embeds G4 without recoding only when the TIFF is G4, so the peer makes one first.
      {peer_count,
       [&](unsigned i) {
         const std::string out = (dir / ("tc-" + std::to_string(i))).string();
         const std::string in = (dir / "fax-10.tif").string();
         shell("tiffcp -c g3:1d:fill -f lsb2msb " + in + " " + out + "-s.tif && tiffcp -c g4 " + in + " " + out +
               "-g4.tif && tiff2pdf -o " + out + ".pdf " + out + "-g4.tif");
       }},
  });
  const double ours = seconds[0], peer = seconds[1];
  std::printf("(fax: %u pages per document)\n", pages);
  report("10-page fax -> TIFF-F S + PDF", "pages/s", count * pages / ours, peer_count * pages / peer,
         "tiffcp + tiff2pdf");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_codecs DIR [FILES]\n");
    return 2;
  }
  const fs::path dir = argv[1];
  const unsigned count = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 40;
  std::printf("umstore codecs benchmark: %u worker threads vs %u concurrent peer processes\n", workers, workers);
  bench_voice(dir, "voice-8k.wav", count);
  bench_voice(dir, "voice-16k.wav", count);
  bench_fax(dir, count);
  return 0;
}
