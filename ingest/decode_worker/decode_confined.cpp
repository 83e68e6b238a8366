// The server's side of umstore-decode: see ingest/decode_worker.hpp.
#include <fmt/format.h>
#include <signal.h>

#include <cstring>
#include <map>
#include <string>

#include "common/child_process.hpp"
#include "decode_protocol.hpp"
#include "ingest/decode_worker.hpp"

namespace umstore::ingest {
namespace {

std::string argument(std::string_view key, const auto& value) { return fmt::format("{}={}", key, value); }

std::vector<std::string> worker_command(std::string_view verb, std::string_view name, const DecodeSandbox& sandbox) {
  return {std::string(verb), argument(kArgName, name), argument(kArgCpu, sandbox.cpu.count()),
          argument(kArgMemory, sandbox.memory_mb << 20)};
}

// The calling thread's umstore-decode fork server: started once, it forks
// a decoder per job, which costs about a millisecond where starting the
// program and loading its codec libraries for every job costs about 25.
ForkServer& fork_server(const std::filesystem::path& worker) {
  thread_local std::map<std::filesystem::path, ForkServer> servers;
  auto it = servers.find(worker);
  if (it == servers.end())
    it = servers.try_emplace(worker, std::vector<std::string>{worker.string(), std::string(kVerbForkServer)}).first;
  return it->second;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const std::size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// Why a worker that did not finish its work failed, naming the input and
// the limit it hit with its key.
std::string failure_of(const ChildRun& run, std::string_view name, const DecodeSandbox& sandbox) {
  using End = ChildRun::End;
  switch (run.end) {
    case End::deadline_passed:
      return fmt::format("{}: decoding did not finish within {} s ([ingest] decode_wall_seconds)", name,
                         sandbox.wall.count());
    case End::output_too_large:
      return fmt::format("{}: the decoder's output exceeded {} MiB ([ingest] decode_memory_mb)", name, sandbox.memory_mb);
    case End::killed_by_signal:
      // RLIMIT_CPU sends SIGXCPU at the soft limit, SIGKILL at the hard one a second later.
      if (run.signal == SIGXCPU || run.signal == SIGKILL)
        return fmt::format("{}: decoding exceeded the CPU limit of {} s ([ingest] decode_cpu_seconds)", name,
                           sandbox.cpu.count());
      return fmt::format("{}: the decoder crashed (signal {}, {})", name, run.signal, ::strsignal(run.signal));
    case End::exited:
    case End::interrupted:  // run_worker's
      break;
  }
  if (run.exit_code == kExitOutOfMemory)
    return fmt::format("{}: decoding exceeded the memory limit of {} MiB ([ingest] decode_memory_mb)", name,
                       sandbox.memory_mb);
  const std::string said = last_line(run.errors);
  if (run.exit_code == kExitRefused && !said.empty()) return said;  // the codec's own words, naming the file
  return fmt::format("{}: the decoder {} exited with status {}{}", name, sandbox.worker.string(), run.exit_code,
                     said.empty() ? std::string() : " (" + said + ")");
}

// The worker's output once it succeeded; throws codecs::CodecError otherwise.
std::string run_worker(std::vector<std::string> command, std::span<const std::uint8_t> file, std::string_view name,
                       const DecodeSandbox& sandbox) {
  ChildRun run;
  try {
    run = fork_server(sandbox.worker)
              .run(command, file, sandbox.wall, sandbox.memory_mb << 20, sandbox.interruption.get());
  } catch (const std::exception& e) {
    throw codecs::CodecError(fmt::format("{}: cannot run the decoder: {}", name, e.what()));
  }
  if (run.end == ChildRun::End::interrupted)
    throw DecodeInterrupted(fmt::format("{}: decoding interrupted: the server is stopping", name));
  if (run.end != ChildRun::End::exited || run.exit_code != 0) throw codecs::CodecError(failure_of(run, name, sandbox));
  return std::move(run.output);
}

}  // namespace

codecs::PcmAudio decode_voice_confined(std::span<const std::uint8_t> file, std::string_view name,
                                       const codecs::AudioLimits& limits, const DecodeSandbox& sandbox) {
  auto command = worker_command(kVerbVoice, name, sandbox);
  command.push_back(argument(kArgMaxSeconds, limits.max_seconds));
  command.push_back(argument(kArgMaxInput, limits.max_input_bytes));
  const std::string output = run_worker(std::move(command), file, name, sandbox);
  codecs::PcmAudio audio;
  audio.sample_rate = kDecodedVoiceRate;
  audio.samples.resize(output.size() / sizeof(std::int16_t));
  std::memcpy(audio.samples.data(), output.data(), audio.samples.size() * sizeof(std::int16_t));
  return audio;
}

DecodedFax decode_fax_confined(std::span<const std::uint8_t> file, std::string_view name,
                               const codecs::FaxLimits& limits, const DecodeSandbox& sandbox) {
  auto command = worker_command(kVerbFax, name, sandbox);
  command.push_back(argument(kArgMaxPages, limits.max_pages));
  command.push_back(argument(kArgMaxWidth, limits.max_width));
  command.push_back(argument(kArgMaxLength, limits.max_length));
  command.push_back(argument(kArgMaxPixels, limits.max_pixels));
  command.push_back(argument(kArgMaxInput, limits.max_input_bytes));
  // poppler finds the fonts a PDF names but does not embed through
  // fontconfig, which opens its configuration and font files as it goes.
  if (codecs::detect_fax_input(file, name) == codecs::FaxInputFormat::pdf) command.push_back(argument(kArgReadFiles, "yes"));
  const std::string output = run_worker(std::move(command), file, name, sandbox);
  std::uint32_t pages = 0;
  if (output.size() < sizeof pages) throw codecs::CodecError(fmt::format("{}: the decoder returned no pages", name));
  std::memcpy(&pages, output.data(), sizeof pages);
  return {std::vector<std::uint8_t>(output.begin() + sizeof pages, output.end()), pages};
}

codecs::PcmAudio decode_voice(std::span<const std::uint8_t> file, std::string_view name,
                              const codecs::AudioLimits& limits, const DecodeSandbox& sandbox) {
  return sandbox.enabled ? decode_voice_confined(file, name, limits, sandbox) : decode_voice_input(file, name, limits);
}

DecodedFax decode_fax(std::span<const std::uint8_t> file, std::string_view name, const codecs::FaxLimits& limits,
                      const DecodeSandbox& sandbox) {
  return sandbox.enabled ? decode_fax_confined(file, name, limits, sandbox) : decode_fax_input(file, name, limits);
}

}  // namespace umstore::ingest
