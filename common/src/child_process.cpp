#include "common/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace umstore {

std::optional<int> run_program(const std::vector<std::string>& argv, const Environment& extra) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env_text.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env_text.push_back(name + "=" + value);
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  for (auto& a : args) arg_pointers.push_back(a.data());
  arg_pointers.push_back(nullptr);

  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0].c_str(), nullptr, nullptr, arg_pointers.data(), env.data());
  if (rc == ENOENT) return std::nullopt;
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waiting for " + args[0] + ": " + std::strerror(errno));
  if (WIFSIGNALED(status)) throw std::runtime_error(args[0] + " was killed by signal " + std::to_string(WTERMSIG(status)));
  return WEXITSTATUS(status);
}

namespace {

constexpr std::size_t kMaxErrors = 4096;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

[[noreturn]] void fail_errno(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// The input as a memory file: the child reads it at its own pace, and the
// parent needs no writer beside its reader.
Fd memory_file_with(std::span<const std::uint8_t> input) {
  Fd fd(::memfd_create("umstore-input", MFD_CLOEXEC));
  if (fd.get() < 0) fail_errno("memfd_create");
  for (std::size_t done = 0; done < input.size();) {
    const ssize_t n = ::write(fd.get(), input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("writing the child's input");
    done += static_cast<std::size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) fail_errno("lseek");
  return fd;
}

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe");
  return {Fd(fds[0]), Fd(fds[1])};
}

pid_t spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // The caller's threads may block or ignore signals (a server's SIGTERM
  // and SIGPIPE); the child starts with the defaults, so SIGXCPU ends it.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  for (auto& a : args) arg_pointers.push_back(a.data());
  arg_pointers.push_back(nullptr);
  char* no_environment[] = {nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, &attributes, arg_pointers.data(), no_environment);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  return pid;
}

// Reads standard output and error until both close; stops early at the
// deadline or past max_output and says which.
ChildRun::End collect(int out_fd, int err_fd, ChildRun& run, std::size_t max_output,
                      std::chrono::steady_clock::time_point deadline) {
  std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
  std::array<char, 65536> buffer;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ChildRun::End::deadline_passed;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) fail_errno("poll");
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        continue;
      }
      std::string& into = i == 0 ? run.output : run.errors;
      into.append(buffer.data(), static_cast<std::size_t>(n));
      if (i == 0 && run.output.size() > max_output) return ChildRun::End::output_too_large;
      if (i == 1 && run.errors.size() > kMaxErrors) run.errors.erase(0, run.errors.size() - kMaxErrors);
    }
  }
  return ChildRun::End::exited;
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail_errno("waitpid");
  return status;
}

// Whether the child has ended (not yet reaped) by `until`.
bool exits_before(pid_t pid, std::chrono::steady_clock::time_point until) {
  const Fd process(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (process.get() < 0) fail_errno("pidfd_open");
  pollfd fd{process.get(), POLLIN, 0};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) fail_errno("poll");
  }
}

}  // namespace

ChildRun run_with_deadline(const std::vector<std::string>& argv, std::span<const std::uint8_t> input,
                           std::chrono::milliseconds deadline, std::size_t max_output) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  const Fd in = memory_file_with(input);
  Pipe out = make_pipe(), err = make_pipe();
  const pid_t pid = spawn(argv, in.get(), out.write.get(), err.write.get());
  out.write.reset();
  err.write.reset();
  ChildRun run;
  try {
    run.end = collect(out.read.get(), err.read.get(), run, max_output, until);
  } catch (...) {
    ::kill(pid, SIGKILL);
    reap(pid);
    throw;
  }
  if (run.end != ChildRun::End::exited) {
    ::kill(pid, SIGKILL);
    reap(pid);
    if (run.end == ChildRun::End::output_too_large) run.output.clear();
    return run;
  }
  // Both pipes closed: the child is exiting, or closed them and lingers,
  // which the deadline still bounds.
  if (!exits_before(pid, until)) {
    ::kill(pid, SIGKILL);
    reap(pid);
    run.end = ChildRun::End::deadline_passed;
    return run;
  }
  const int status = reap(pid);
  if (WIFSIGNALED(status)) {
    run.end = ChildRun::End::killed_by_signal;
    run.signal = WTERMSIG(status);
  } else {
    run.exit_code = WEXITSTATUS(status);
  }
  return run;
}

}  // namespace umstore
