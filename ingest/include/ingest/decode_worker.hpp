#pragma once
// Decoding what a gateway sent: the untrusted part of ingest. libsndfile,
// libtiff, poppler, libpng and libjpeg parse files from gateways, uploads
// and the spool; a crafted file can make them run for minutes, take
// gigabytes or worse. So ingest decodes in a worker process,
// `umstore-decode` (beside `umstore`), one per recording, as Postfix
// isolates its risky parsing (forked by an `umstore-decode fork-server`
// per thread, which costs far less than starting the program for every
// job): the worker confines itself before it reads
// its input (common/child_process.hpp: CPU seconds, address space, no
// network, no new processes or threads, no files opened but for reading a
// PDF's fonts), reads the input from its standard input and writes the
// decoded result to its standard output; the parent kills it at a wall
// clock deadline and names the limit it hit. What the worker returns is
// plain (8 kHz PCM, or a TIFF-F it wrote); the trusted rest (32KADPCM in
// SIMD lanes, WAV, MIME, recognition) stays in the server.
//
// This library holds both ends: the decoding itself (also run in-process
// when the sandbox is off, `[ingest] sandbox = false`), the worker's main
// and the parent's side. It depends on codecs/ and common/ only, so the
// worker is small and starts fast.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "common/child_process.hpp"

namespace umstore::ingest {

// A recording at the rate audio/32KADPCM is defined at, 8 kHz.
codecs::PcmAudio decode_voice_input(std::span<const std::uint8_t> file, std::string_view name,
                                    const codecs::AudioLimits& limits);

struct DecodedFax {
  std::vector<std::uint8_t> tiff;  // TIFF-F profile S
  unsigned pages = 0;
};
// Any fax input codecs::to_profile_s takes, as TIFF-F profile S.
DecodedFax decode_fax_input(std::span<const std::uint8_t> file, std::string_view name, const codecs::FaxLimits& limits);

// [ingest] sandbox, decode_cpu_seconds, decode_memory_mb, decode_wall_seconds.
struct DecodeSandbox {
  bool enabled = false;            // false: decode in the calling process
  std::filesystem::path worker;    // the umstore-decode program
  // About 4 times what the longest recording the [codecs] limits allow
  // costs (an hour of 48 kHz FLAC: about 2.5 s of CPU).
  std::chrono::seconds cpu{30};
  std::size_t memory_mb = 2048;    // address space
  std::chrono::seconds wall{120};
  // Raised when the server stops: a decode in progress is killed at once
  // and throws DecodeInterrupted (the compose workers set it).
  std::shared_ptr<const Interruption> interruption;
};

// A confined decode given up because the server is stopping: not the
// input's fault, so its job stays queued and runs after the restart.
class DecodeInterrupted : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// decode_voice_input and decode_fax_input in a confined worker (blocking
// the calling thread until it ends). Throws codecs::CodecError: what the
// decoder found wrong with the input, or which limit it exceeded, e.g.
// "fax.tif: decoding exceeded the CPU limit of 30 s ([ingest] decode_cpu_seconds)";
// DecodeInterrupted once sandbox.interruption is raised.
codecs::PcmAudio decode_voice_confined(std::span<const std::uint8_t> file, std::string_view name,
                                       const codecs::AudioLimits& limits, const DecodeSandbox& sandbox);
DecodedFax decode_fax_confined(std::span<const std::uint8_t> file, std::string_view name,
                               const codecs::FaxLimits& limits, const DecodeSandbox& sandbox);

// The two above in a confined worker when sandbox.enabled, else in this
// process: what every decoder of untrusted input calls (ingest, greetings).
codecs::PcmAudio decode_voice(std::span<const std::uint8_t> file, std::string_view name,
                              const codecs::AudioLimits& limits, const DecodeSandbox& sandbox);
DecodedFax decode_fax(std::span<const std::uint8_t> file, std::string_view name, const codecs::FaxLimits& limits,
                      const DecodeSandbox& sandbox);

// umstore-decode's main. `umstore-decode selftest FILE` confines itself as
// for a decode, then tries what the confinement forbids (a socket, opening
// FILE, creating a file, a process, a thread, a signal to its parent) and
// prints one line for each; exit 0 when every one was refused.
int decode_worker_main(int argc, char** argv);

}  // namespace umstore::ingest
