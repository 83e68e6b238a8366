#pragma once
// Child processes, started without a shell (posix_spawn):
// - run_program: a program run to its end with the caller's standard output
//   and error and extra environment variables (secrets go there, never into
//   argv where `ps` shows them): pg_dump and pg_restore for backups,
//   espeak-ng for spoken notices.
// - run_with_deadline: a program fed bytes on its standard input, its
//   output collected, killed at a wall-clock deadline; for workers that
//   parse untrusted input (the ingest decoder).
// - confine_this_process: what such a worker calls on itself before it
//   reads its input: resource limits and a seccomp filter.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace umstore {

using Environment = std::vector<std::pair<std::string, std::string>>;

// The program's exit status; nullopt when it is not installed. Throws
// std::runtime_error naming the program when it cannot start otherwise or
// is killed by a signal.
std::optional<int> run_program(const std::vector<std::string>& argv, const Environment& extra = {});

// How a run_with_deadline child ended, and what it wrote.
struct ChildRun {
  enum class End { exited, killed_by_signal, deadline_passed, output_too_large };
  End end = End::exited;
  int exit_code = 0;      // End::exited
  int signal = 0;         // End::killed_by_signal
  std::string output;     // standard output, at most max_output bytes
  std::string errors;     // the last 4 KiB of standard error
};

// Runs argv[0] (a path, not searched in PATH) with an empty environment, no
// file descriptors but `input` as its standard input (a memory file) and
// pipes as its standard output and error. Kills it (SIGKILL) at the
// deadline or once it writes more than max_output bytes. Blocks the calling
// thread. Throws std::runtime_error when the program cannot be started.
ChildRun run_with_deadline(const std::vector<std::string>& argv, std::span<const std::uint8_t> input,
                           std::chrono::milliseconds deadline, std::size_t max_output);

struct Confinement {
  std::chrono::seconds cpu{60};        // RLIMIT_CPU: SIGXCPU then, SIGKILL a second later
  std::size_t address_space = 1u << 30;  // RLIMIT_AS in bytes: allocations beyond it fail
  unsigned open_files = 32;            // RLIMIT_NOFILE
  // Opening files read-only (libraries that read their data files lazily,
  // e.g. fontconfig for a PDF's fonts); never for writing or creating.
  bool may_read_files = false;
};

// Applies `limits` to the calling process for good: resource limits (also
// no core file, no new processes, no file written), and a seccomp filter
// under which sockets, exec, fork/clone (threads too), signals to other
// processes, ptrace, and creating, changing or removing files fail with
// EPERM (EACCES for opening a file). Closes every descriptor above 2. Call
// it single-threaded, before reading untrusted input. Throws
// std::runtime_error when a limit or the filter cannot be installed.
void confine_this_process(const Confinement& limits);

}  // namespace umstore
