#pragma once
// Runs a program the command line leans on (pg_dump, pg_restore) to its end,
// with the caller's standard output and error, and extra environment
// variables (secrets go there, never into argv where `ps` shows them).
#include <string>
#include <utility>
#include <vector>

namespace umstore::app {

using Environment = std::vector<std::pair<std::string, std::string>>;

// Throws std::runtime_error naming the program when it cannot start (not
// installed: `install_hint` says which package has it), is killed, or exits
// with a status other than 0.
void run_program(const std::vector<std::string>& argv, const Environment& extra, const std::string& install_hint);

}  // namespace umstore::app
