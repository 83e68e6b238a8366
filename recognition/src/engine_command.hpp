#pragma once
// Runs an operator's recognition engine as a process: /bin/sh -c COMMAND in
// a process group of its own, `input` as its standard input, its standard
// output read up to a cap, killed (the whole group) at the time limit.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

namespace umstore::recognition {

// Every `%f` in `command` becomes `input`'s path (shell-quoted); the path is
// also in $UMSTORE_AUDIO_FILE. Returns standard output. Throws
// RecognitionError saying why: exit status or signal (with the last line it
// wrote to standard error), the time limit, or output over `max_output`.
std::string run_engine_command(const std::string& command, const std::filesystem::path& input,
                               std::chrono::milliseconds timeout, std::size_t max_output);

}  // namespace umstore::recognition
