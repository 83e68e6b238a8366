// An engine as a process: see engine_command.hpp.
#include "engine_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "recognition/transcriber.hpp"

extern char** environ;

namespace umstore::recognition {
namespace {

constexpr std::size_t kMaxStderr = 4096;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
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

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string with_input_path(const std::string& command, const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command.compare(i, 2, "%f") == 0) {
      out += shell_quoted(path);
      ++i;
    } else {
      out += command[i];
    }
  }
  return out;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const std::size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// Reads both pipes until both close or the deadline; false at the deadline.
bool read_until_closed(int out_fd, int err_fd, std::string& out, std::string& err, std::size_t max_output,
                       std::chrono::steady_clock::time_point deadline) {
  std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
  std::array<char, 65536> buffer;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR)
      throw RecognitionError(std::string("waiting for the transcription command: ") + std::strerror(errno));
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n <= 0) {
        fds[i].fd = -1;
        continue;
      }
      std::string& into = i == 0 ? out : err;
      into.append(buffer.data(), static_cast<std::size_t>(n));
      if (i == 0 && out.size() > max_output)
        throw RecognitionError("the transcription command wrote more than " + std::to_string(max_output) + " bytes");
      if (i == 1 && err.size() > kMaxStderr) err.erase(0, err.size() - kMaxStderr);
    }
  }
  return true;
}

// Kills the command's whole group (a shell's children too) and reaps it.
void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string run_engine_command(const std::string& command, const std::filesystem::path& input,
                               std::chrono::milliseconds timeout, std::size_t max_output) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw RecognitionError(std::string("pipe: ") + std::strerror(errno));
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw RecognitionError(std::string("pipe: ") + std::strerror(errno));
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<std::string> environment{"UMSTORE_AUDIO_FILE=" + input.string()};
  for (char** e = environ; *e; ++e)
    if (!std::string_view(*e).starts_with("UMSTORE_AUDIO_FILE=")) environment.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string shell_command = with_input_path(command, input.string());
  std::array<char*, 4> argv{const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), shell_command.data(), nullptr};

  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) throw RecognitionError(std::string("cannot start /bin/sh for the transcription command: ") + std::strerror(spawned));
  out_write.reset();
  err_write.reset();

  std::string out, err;
  bool finished = false;
  try {
    finished = read_until_closed(out_read.get(), err_read.get(), out, err, max_output,
                                 std::chrono::steady_clock::now() + timeout);
  } catch (...) {
    kill_group(pid);
    throw;
  }
  if (!finished) {
    kill_group(pid);
    throw RecognitionError(fmt::format("the transcription command did not finish within {:g} s and was killed",
                                       static_cast<double>(timeout.count()) / 1000.0));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);  // anything it left running in its group
  const std::string said = last_line(err);
  const std::string said_part = said.empty() ? std::string() : " (" + said + ")";
  if (WIFSIGNALED(status))
    throw RecognitionError("the transcription command was killed by signal " + std::to_string(WTERMSIG(status)) + said_part);
  if (WEXITSTATUS(status) != 0)
    throw RecognitionError("the transcription command exited with status " + std::to_string(WEXITSTATUS(status)) + said_part);
  return out;
}

}  // namespace umstore::recognition
