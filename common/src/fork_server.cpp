// ForkServer and serve_forks: see child_process.hpp.
//
// The two talk over a SOCK_SEQPACKET socket pair, one message each way per
// step: the request is the child's arguments separated by NULs with its
// input, output and error descriptors attached; the first reply is the
// child's pid with a pidfd for it attached (or a negative errno), so the
// client can wait for and kill exactly that process; the second is its
// wait status and peak resident memory, once the server has reaped it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/child_process.hpp"
#include "common/durable_file.hpp"

namespace umstore {
namespace {

constexpr std::size_t kMaxErrors = 4096;
constexpr std::size_t kMaxRequest = 65536;

[[noreturn]] void fail_errno(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// The server closed its end: it ended, and is started again.
struct ServerGone {};

// The input as a memory file: the child reads it at its own pace, and the
// client needs no writer beside its reader.
UniqueFd memory_file_with(std::span<const std::uint8_t> input) {
  UniqueFd fd(::memfd_create("umstore-input", MFD_CLOEXEC));
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
  UniqueFd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Sends one message with `fds` attached. False when the peer is gone.
bool send_message(int socket, std::string_view data, std::span<const int> fds) {
  iovec io{const_cast<char*>(data.data()), data.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 4)> control{};
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) < 0) {
    if (errno == EPIPE || errno == ECONNRESET) return false;
    if (errno != EINTR) fail_errno("sendmsg");
  }
  return true;
}

// Receives one message into `data`, its descriptors into `fds`; 0 when the peer is gone.
std::size_t receive_message(int socket, std::span<char> data, std::vector<UniqueFd>& fds) {
  iovec io{data.data(), data.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 4)> control{};
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  ssize_t n;
  while ((n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno == ECONNRESET) return 0;
    if (errno != EINTR) fail_errno("recvmsg");
  }
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  return static_cast<std::size_t>(n);
}

std::int32_t receive_number(int socket, std::vector<UniqueFd>& fds) {
  std::int32_t value = 0;
  if (receive_message(socket, {reinterpret_cast<char*>(&value), sizeof value}, fds) != sizeof value) throw ServerGone{};
  return value;
}

bool send_number(int socket, std::int32_t value, std::span<const int> fds = {}) {
  return send_message(socket, {reinterpret_cast<const char*>(&value), sizeof value}, fds);
}

// The second reply: how the child ended.
struct Ending {
  std::int64_t status = 0;        // as waitpid gives it (64 bits: no padding goes out uninitialised)
  std::int64_t peak_rss_kib = 0;  // ru_maxrss
};

Ending receive_ending(int socket) {
  Ending ending;
  std::vector<UniqueFd> none;
  const std::size_t size = receive_message(socket, {reinterpret_cast<char*>(&ending), sizeof ending}, none);
  if (size != sizeof ending) throw ServerGone{};
  return ending;
}

// Reads standard output and error until both close; stops early at the
// deadline, past max_output or once `interrupted_fd` (or -1) is readable,
// and says which.
ChildRun::End collect(int out_fd, int err_fd, int interrupted_fd, ChildRun& run, std::size_t max_output,
                      std::chrono::steady_clock::time_point until) {
  std::array<pollfd, 3> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {interrupted_fd, POLLIN, 0}}};
  std::array<char, 65536> buffer;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ChildRun::End::deadline_passed;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) fail_errno("poll");
    if (fds[2].revents != 0) return ChildRun::End::interrupted;
    for (std::size_t i = 0; i < 2; ++i) {
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

// Whether the process behind `pidfd` ends by `until`.
bool ends_before(int pidfd, std::chrono::steady_clock::time_point until) {
  pollfd fd{pidfd, POLLIN, 0};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) fail_errno("poll");
  }
}

void kill_process(int pidfd) { ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0); }

}  // namespace

struct ForkServer::Connection {
  Connection(UniqueFd s, pid_t p) : socket(std::move(s)), pid(p) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  UniqueFd socket;
  pid_t pid = 0;
  ~Connection() {
    socket = UniqueFd();  // the server sees the end of its requests and exits
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
};

Interruption::Interruption() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_) fail_errno("eventfd");
}

void Interruption::raise() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd_.get(), &one, sizeof one);  // fails only when already raised 2^64 times
}

void Interruption::lower() const {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(fd_.get(), &count, sizeof count);  // EAGAIN: not raised
}

ForkServer::ForkServer(std::vector<std::string> argv) : argv_(std::move(argv)) {}
ForkServer::~ForkServer() = default;

namespace {

// The server with one end of a socket pair as its standard input. The
// caller's threads may block or ignore signals (a server's SIGTERM and
// SIGPIPE); the server, and so its children, start with the defaults, so
// SIGXCPU ends a child.
std::pair<pid_t, UniqueFd> start_server(const std::vector<std::string>& argv) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) fail_errno("socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
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
  return std::pair<pid_t, UniqueFd>(pid, std::move(ours));
}

}  // namespace

ChildRun ForkServer::run(const std::vector<std::string>& args, std::span<const std::uint8_t> input,
                         std::chrono::milliseconds deadline, std::size_t max_output,
                         const Interruption* interruption) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (int attempt = 0;; ++attempt) {
    if (!server_) {
      auto [pid, socket] = start_server(argv_);
      server_ = std::make_unique<Connection>(std::move(socket), pid);
    }
    try {
      return run_once(*server_, args, input, until, max_output, interruption);
    } catch (const ServerGone&) {
      server_.reset();
      if (attempt > 0) throw std::runtime_error(argv_[0] + " ended without an answer");
    } catch (...) {
      server_.reset();  // a reply may still be on its way: a new server keeps requests and replies in step
      throw;
    }
  }
}

ChildRun ForkServer::run_once(Connection& server, const std::vector<std::string>& args,
                              std::span<const std::uint8_t> input, std::chrono::steady_clock::time_point until,
                              std::size_t max_output, const Interruption* interruption) {
  std::string request;
  for (const auto& arg : args) request.append(arg).push_back('\0');
  if (request.size() > kMaxRequest) throw std::runtime_error("the arguments for " + argv_[0] + " are too long");
  Pipe out = make_pipe(), err = make_pipe();
  {
    const UniqueFd in = memory_file_with(input);
    const std::array<int, 3> fds{in.get(), out.write.get(), err.write.get()};
    if (!send_message(server.socket.get(), request, fds)) throw ServerGone{};
  }
  out.write = UniqueFd();
  err.write = UniqueFd();
  std::vector<UniqueFd> received;
  const std::int32_t pid = receive_number(server.socket.get(), received);
  if (pid < 0) throw std::runtime_error("fork in " + argv_[0] + ": " + std::strerror(-pid));
  if (received.size() != 1) throw std::runtime_error(argv_[0] + " sent no pidfd");
  const int child = received.front().get();

  ChildRun run;
  run.end = collect(out.read.get(), err.read.get(), interruption ? interruption->fd() : -1, run, max_output, until);
  // Both pipes closed: the child is exiting, or closed them and lingers,
  // which the deadline still bounds.
  if (run.end == ChildRun::End::exited && !ends_before(child, until)) run.end = ChildRun::End::deadline_passed;
  if (run.end != ChildRun::End::exited) kill_process(child);
  const Ending ending = receive_ending(server.socket.get());
  run.peak_memory_bytes = static_cast<std::size_t>(ending.peak_rss_kib) * 1024;
  if (run.end == ChildRun::End::output_too_large) run.output.clear();
  if (run.end != ChildRun::End::exited) return run;
  const auto status = static_cast<int>(ending.status);
  if (WIFSIGNALED(status)) {
    run.end = ChildRun::End::killed_by_signal;
    run.signal = WTERMSIG(status);
  } else {
    run.exit_code = WEXITSTATUS(status);
  }
  return run;
}

int serve_forks(const std::function<int(const std::vector<std::string>& args)>& child_main) {
  std::vector<char> request(kMaxRequest);
  for (;;) {
    std::vector<UniqueFd> fds;
    const std::size_t size = receive_message(0, request, fds);
    if (size == 0) return 0;
    if (fds.size() != 3) return 1;
    std::vector<std::string> args;
    for (std::size_t start = 0; start < size;) {
      const std::size_t end = std::find(request.begin() + static_cast<std::ptrdiff_t>(start),
                                        request.begin() + static_cast<std::ptrdiff_t>(size), '\0') -
                              request.begin();
      args.emplace_back(request.data() + start, end - start);
      start = end + 1;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (int i = 0; i < 3; ++i) ::dup2(fds[static_cast<std::size_t>(i)].get(), i);
      int code = 70;
      try {
        code = child_main(args);
      } catch (...) {
      }
      std::fflush(stdout);
      ::_exit(code);
    }
    fds.clear();
    if (pid < 0) {
      if (!send_number(0, -errno)) return 0;
      continue;
    }
    const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    const std::array<int, 1> attached{pidfd.get()};
    const bool told = send_number(0, pid, pidfd.get() >= 0 ? std::span<const int>(attached) : std::span<const int>());
    Ending ending;
    rusage usage{};
    int status = 0;
    while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    ending.status = status;
    ending.peak_rss_kib = usage.ru_maxrss;
    if (!told || !send_message(0, {reinterpret_cast<const char*>(&ending), sizeof ending}, {})) return 0;
  }
}

}  // namespace umstore
