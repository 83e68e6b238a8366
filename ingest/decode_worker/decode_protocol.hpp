#pragma once
// What umstore-decode and the server say to each other (decode_worker.hpp):
// the verb and NAME=VALUE arguments, the exit codes, and the output: voice
// as 16-bit samples at kDecodedVoiceRate in this machine's byte order; fax
// as the page count (32 bits) followed by the TIFF. On any exit but 0 the
// worker writes why to its standard error.
#include <string_view>

namespace umstore::ingest {

inline constexpr unsigned kDecodedVoiceRate = 8000;

inline constexpr std::string_view kVerbVoice = "voice";
inline constexpr std::string_view kVerbFax = "fax";
inline constexpr std::string_view kVerbSelftest = "selftest";
inline constexpr std::string_view kVerbForkServer = "fork-server";  // forks a child per request (common/child_process.hpp)

inline constexpr std::string_view kArgName = "name";
inline constexpr std::string_view kArgCpu = "cpu_seconds";
inline constexpr std::string_view kArgMemory = "memory_bytes";
inline constexpr std::string_view kArgReadFiles = "read_files";  // yes: a PDF, whose fonts fontconfig opens
inline constexpr std::string_view kArgMaxSeconds = "max_seconds";
inline constexpr std::string_view kArgMaxInput = "max_input_bytes";
inline constexpr std::string_view kArgMaxPages = "max_pages";
inline constexpr std::string_view kArgMaxWidth = "max_width";
inline constexpr std::string_view kArgMaxLength = "max_length";
inline constexpr std::string_view kArgMaxPixels = "max_pixels";

inline constexpr int kExitRefused = 1;      // the input (a codec error) or the arguments; stderr says which
inline constexpr int kExitUsage = 2;
inline constexpr int kExitOutOfMemory = 3;  // an allocation failed: the address-space limit
inline constexpr int kExitNotConfined = 4;  // the limits or the filter could not be installed: nothing was read

}  // namespace umstore::ingest
