#pragma once
// Runs a program to its end with the caller's standard output and error and
// extra environment variables (secrets go there, never into argv where `ps`
// shows them): pg_dump and pg_restore for backups, espeak-ng for spoken
// notices.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace umstore {

using Environment = std::vector<std::pair<std::string, std::string>>;

// The program's exit status; nullopt when it is not installed. Throws
// std::runtime_error naming the program when it cannot start otherwise or
// is killed by a signal.
std::optional<int> run_program(const std::vector<std::string>& argv, const Environment& extra = {});

}  // namespace umstore
