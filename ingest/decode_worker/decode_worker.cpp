// The decoding and umstore-decode's side of it: see ingest/decode_worker.hpp.
#include "ingest/decode_worker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/child_process.hpp"
#include "common/durable_file.hpp"
#include "common/parse_number.hpp"
#include "decode_protocol.hpp"

namespace umstore::ingest {

namespace {

// The configuration key behind each codecs limit, which a job failing on
// it names (the limits come from [codecs], see app/src/settings.cpp).
std::string_view key_of(codecs::LimitExceeded::Limit limit) {
  switch (limit) {
    case codecs::LimitExceeded::Limit::voice_seconds: return "[codecs] max_voice_seconds";
    case codecs::LimitExceeded::Limit::fax_pixels: return "[codecs] max_fax_pixels";
    case codecs::LimitExceeded::Limit::fax_pages: return "[codecs] max_fax_pages";
  }
  return "[codecs]";
}

template <typename Decode>
auto naming_the_key(Decode&& decode) {
  try {
    return decode();
  } catch (const codecs::LimitExceeded& e) {
    throw codecs::CodecError(std::string(e.what()) + " (" + std::string(key_of(e.limit())) + ")");
  }
}

}  // namespace

codecs::PcmAudio decode_voice_input(std::span<const std::uint8_t> file, std::string_view name,
                                    const codecs::AudioLimits& limits) {
  return naming_the_key([&] { return codecs::decode_audio_at(kDecodedVoiceRate, file, name, limits); });
}

DecodedFax decode_fax_input(std::span<const std::uint8_t> file, std::string_view name, const codecs::FaxLimits& limits) {
  return naming_the_key([&] {
    DecodedFax fax;
    fax.tiff = codecs::to_profile_s(file, name, limits);
    fax.pages = static_cast<unsigned>(codecs::inspect_tiff(fax.tiff, name, limits).pages.size());
    return fax;
  });
}

namespace {

// NAME=VALUE arguments after the verb.
using Arguments = std::map<std::string, std::string, std::less<>>;

Arguments arguments_of(int argc, char** argv) {
  Arguments args;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    const auto equals = arg.find('=');
    if (equals == std::string_view::npos) throw std::invalid_argument("expected NAME=VALUE, not '" + std::string(arg) + "'");
    args.emplace(arg.substr(0, equals), arg.substr(equals + 1));
  }
  return args;
}

const std::string& text(const Arguments& args, std::string_view key) {
  const auto it = args.find(key);
  if (it == args.end()) throw std::invalid_argument("missing " + std::string(key) + "=");
  return it->second;
}

std::uint64_t number(const Arguments& args, std::string_view key) {
  const auto value = parse_number<std::uint64_t>(text(args, key));
  if (!value) throw std::invalid_argument(std::string(key) + "= is not a number");
  return *value;
}

Confinement confinement_of(const Arguments& args) {
  Confinement limits;
  limits.cpu = std::chrono::seconds(number(args, kArgCpu));
  limits.address_space = number(args, kArgMemory);
  limits.may_read_files = args.contains(kArgReadFiles) && text(args, kArgReadFiles) == "yes";
  return limits;
}

// The whole input, mapped from standard input (a memory file).
std::span<const std::uint8_t> mapped_input() {
  struct stat st{};
  if (::fstat(0, &st) != 0) throw std::runtime_error(std::string("fstat: ") + std::strerror(errno));
  if (st.st_size == 0) return {};
  void* bytes = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, 0, 0);
  if (bytes == MAP_FAILED) {
    if (errno == ENOMEM) throw std::bad_alloc();
    throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  }
  return {static_cast<const std::uint8_t*>(bytes), static_cast<std::size_t>(st.st_size)};
}

void write_out(const void* data, std::size_t size) {
  write_all(1, std::span(static_cast<const std::byte*>(data), size), "standard output");
}

void decode(std::string_view verb, const Arguments& args) {
  const std::string& name = text(args, kArgName);
  const std::span<const std::uint8_t> input = mapped_input();
  if (verb == kVerbVoice) {
    const codecs::AudioLimits limits{std::stod(text(args, kArgMaxSeconds)), number(args, kArgMaxInput)};
    const codecs::PcmAudio audio = decode_voice_input(input, name, limits);
    write_out(audio.samples.data(), audio.samples.size() * sizeof(std::int16_t));
    return;
  }
  codecs::FaxLimits limits;
  limits.max_pages = static_cast<unsigned>(number(args, kArgMaxPages));
  limits.max_width = static_cast<std::uint32_t>(number(args, kArgMaxWidth));
  limits.max_length = static_cast<std::uint32_t>(number(args, kArgMaxLength));
  limits.max_pixels = number(args, kArgMaxPixels);
  limits.max_input_bytes = number(args, kArgMaxInput);
  const DecodedFax fax = decode_fax_input(input, name, limits);
  const std::uint32_t pages = fax.pages;
  write_out(&pages, sizeof pages);
  write_out(fax.tiff.data(), fax.tiff.size());
}

// One line per forbidden act: "socket: refused (Operation not permitted)" or "socket: ALLOWED".
bool report(const char* what, bool refused, int error) {
  std::printf("%s: %s%s%s\n", what, refused ? "refused (" : "ALLOWED", refused ? std::strerror(error) : "",
              refused ? ")" : "");
  return refused;
}

bool tried(const char* what, int result) { return report(what, result < 0, errno); }

int selftest(const std::string& path) {
  bool all = tried("socket", ::socket(AF_INET, SOCK_STREAM, 0));
  all &= tried("open for reading", ::open(path.c_str(), O_RDONLY));
  all &= tried("create a file", ::open((path + ".new").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  all &= tried("fork", child);
  char* no_args[] = {const_cast<char*>("/bin/true"), nullptr};
  char* no_environment[] = {nullptr};
  all &= tried("exec", ::execve("/bin/true", no_args, no_environment));
  all &= tried("signal the parent", ::kill(::getppid(), 0));
  try {
    std::thread([] {}).join();
    all &= report("thread", false, 0);
  } catch (const std::system_error& e) {
    all &= report("thread", true, e.code().value());
  }
  std::fflush(stdout);
  return all ? 0 : 1;
}

}  // namespace

int decode_worker_main(int argc, char** argv) {
  const std::string_view verb = argc > 1 ? argv[1] : "";
  if (verb == kVerbForkServer && argc == 2) {
    return serve_forks([](const std::vector<std::string>& args) {
      std::vector<std::string> child_args{"umstore-decode"};
      child_args.insert(child_args.end(), args.begin(), args.end());
      std::vector<char*> child_argv;
      for (auto& arg : child_args) child_argv.push_back(arg.data());
      child_argv.push_back(nullptr);
      return decode_worker_main(static_cast<int>(child_args.size()), child_argv.data());
    });
  }
  try {
    if (verb == kVerbSelftest && argc == 3) {
      confine_this_process(Confinement{});
      return selftest(argv[2]);
    }
    if (verb != kVerbVoice && verb != kVerbFax) {
      std::fprintf(stderr, "usage: umstore-decode fork-server | voice|fax NAME=VALUE... < INPUT > OUTPUT | selftest FILE"
                           " (run by umstore serve)\n");
      return kExitUsage;
    }
    const Arguments args = arguments_of(argc, argv);
    try {
      confine_this_process(confinement_of(args));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cannot confine the decoder: %s\n", e.what());
      return kExitNotConfined;
    }
    decode(verb, args);
    return 0;
  } catch (const std::bad_alloc&) {
    return kExitOutOfMemory;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return kExitRefused;
  }
}

}  // namespace umstore::ingest
