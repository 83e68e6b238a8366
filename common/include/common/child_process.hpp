#pragma once
// Child processes, started without a shell (posix_spawn):
// - run_program: a program run to its end with the caller's standard output
//   and error and extra environment variables (secrets go there, never into
//   argv where `ps` shows them): pg_dump and pg_restore for backups,
//   espeak-ng for spoken notices.
// - ForkServer and serve_forks: a program started once that forks a child
//   per job, fed bytes on its standard input, its output collected, killed
//   at a wall-clock deadline; for workers that parse untrusted input (the
//   ingest decoder).
// - confine_this_process: what such a worker calls on itself before it
//   reads its input: resource limits and a seccomp filter.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/durable_file.hpp"

namespace umstore {

using Environment = std::vector<std::pair<std::string, std::string>>;

// The program's exit status; nullopt when it is not installed. Throws
// std::runtime_error naming the program when it cannot start otherwise or
// is killed by a signal.
std::optional<int> run_program(const std::vector<std::string>& argv, const Environment& extra = {});

// How a ForkServer child ended, and what it wrote.
struct ChildRun {
  enum class End { exited, killed_by_signal, deadline_passed, output_too_large, interrupted };
  End end = End::exited;
  int exit_code = 0;      // End::exited
  int signal = 0;         // End::killed_by_signal
  std::string output;     // standard output, at most max_output bytes
  std::string errors;     // the last 4 KiB of standard error
  std::size_t peak_memory_bytes = 0;  // its peak resident memory (getrusage's ru_maxrss)
};

// Lets another thread give up ForkServer runs at once (a server shutting
// down): a run in progress, or started while it is raised, kills its child
// and ends as End::interrupted. Stays raised until lowered.
class Interruption {
 public:
  Interruption();  // throws std::runtime_error when it cannot make its eventfd
  void raise() const;  // from any thread
  void lower() const;
  int fd() const noexcept { return fd_.get(); }  // readable while raised

 private:
  UniqueFd fd_;
};

// A program started once (posix_spawn, no shell, an empty environment, a
// socket as its standard input) that forks a child for each run(): loading
// a program and its libraries costs far more than a fork of one already
// loaded, so a worker per job stays cheap. The server side is serve_forks.
// Not thread-safe: one per thread. Closing it ends the server.
class ForkServer {
 public:
  explicit ForkServer(std::vector<std::string> argv);  // started at the first run()
  ~ForkServer();
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;

  // A child running child_main(args) (serve_forks) with `input` as its
  // standard input (a memory file) and pipes as its standard output and
  // error, killed (SIGKILL) at the deadline or once it writes more than
  // max_output bytes, or once `interruption` is raised. Blocks the calling
  // thread. A server that died is started again. Throws std::runtime_error
  // when it cannot be started.
  ChildRun run(const std::vector<std::string>& args, std::span<const std::uint8_t> input,
               std::chrono::milliseconds deadline, std::size_t max_output, const Interruption* interruption = nullptr);

 private:
  struct Connection;
  ChildRun run_once(Connection& server, const std::vector<std::string>& args, std::span<const std::uint8_t> input,
                    std::chrono::steady_clock::time_point until, std::size_t max_output,
                    const Interruption* interruption);
  std::vector<std::string> argv_;
  std::unique_ptr<Connection> server_;
};

// The fork server's main loop, on the socket that is its standard input:
// for each request it forks a child that runs child_main(args) with the
// request's input, output and error as descriptors 0, 1 and 2 and exits
// with what it returns. Returns 0 once the socket closes (the ForkServer
// went). Single-threaded: call it before any thread starts.
int serve_forks(const std::function<int(const std::vector<std::string>& args)>& child_main);

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
