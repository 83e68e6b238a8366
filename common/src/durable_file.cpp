#include "common/durable_file.hpp"

#include "common/metrics_text.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace umstore {

IoError::IoError(const std::string& what, const std::filesystem::path& path, int err)
    : std::runtime_error(what + " " + path.string() + ": " + std::strerror(err)), err_(err) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

void write_all(int fd, std::span<const std::byte> data, const std::filesystem::path& for_errors) {
  const auto* p = reinterpret_cast<const char*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write", for_errors, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void write_all(int fd, std::string_view data, const std::filesystem::path& for_errors) {
  write_all(fd, std::as_bytes(std::span(data.data(), data.size())), for_errors);
}

namespace {
LatencyHistogram g_fsync_latency;
}  // namespace

const LatencyHistogram& fsync_latency() noexcept { return g_fsync_latency; }

void fsync_fd(int fd, const std::filesystem::path& for_errors) {
  int result = 0;
  {
    const ScopedLatency timed(g_fsync_latency);
    result = ::fsync(fd);
  }
  if (result != 0) throw IoError("cannot fsync", for_errors, errno);
}

void drop_cached_pages(int fd) noexcept { ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); }

void drop_cached_pages(const std::filesystem::path& file) noexcept {
  const UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd) drop_cached_pages(fd.get());
}

void fsync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw IoError("cannot open directory", dir, errno);
  fsync_fd(fd.get(), dir);
}

void replace_file_durably(const std::filesystem::path& target, std::string_view data, unsigned mode) {
  static std::atomic<unsigned> counter{0};
  auto tmp = target;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) throw IoError("cannot create", tmp, errno);
    write_all(fd.get(), data, tmp);
    fsync_fd(fd.get(), tmp);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError("cannot rename into", target, err);
  }
  fsync_directory(target.parent_path().empty() ? "." : target.parent_path());
}

namespace {

UniqueFd open_for_reading(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw IoError("cannot open", path, errno);
  return fd;
}

// Fills `buffer` from the file's current position; fewer bytes at its end.
std::size_t read_up_to(int fd, char* buffer, std::size_t size, const std::filesystem::path& path) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, buffer + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot read", path, errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

// The size fstat gives, then more should the file have grown since.
template <typename Bytes>
Bytes read_whole_file(const std::filesystem::path& path) {
  const UniqueFd fd = open_for_reading(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw IoError("cannot stat", path, errno);
  Bytes out(static_cast<std::size_t>(st.st_size), 0);
  std::size_t got = 0;
  for (;;) {
    const std::size_t wanted = out.size() - got;
    const std::size_t n = read_up_to(fd.get(), reinterpret_cast<char*>(out.data()) + got, wanted, path);
    got += n;
    if (n < wanted) break;
    out.resize(out.size() + 65536);
  }
  out.resize(got);
  return out;
}

}  // namespace

std::string read_file(const std::filesystem::path& path) { return read_whole_file<std::string>(path); }

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  return read_whole_file<std::vector<std::uint8_t>>(path);
}

std::string read_file_head(const std::filesystem::path& path, std::size_t max_bytes) {
  const UniqueFd fd = open_for_reading(path);
  std::string out(max_bytes, '\0');
  out.resize(read_up_to(fd.get(), out.data(), out.size(), path));
  return out;
}

UniqueFd open_unnamed_file(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR) throw IoError("cannot create a file in", dir, errno);
  std::string name = (dir / "unnamed.XXXXXX").string();
  fd = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) throw IoError("cannot create a file in", dir, errno);
  ::unlink(name.c_str());
  return fd;
}

void create_directories_durably(const std::filesystem::path& dir) {
  if (dir.empty() || std::filesystem::is_directory(dir)) return;
  create_directories_durably(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw IoError("cannot create directory", dir, errno);
  fsync_directory(dir.parent_path().empty() ? "." : dir.parent_path());
}

FileLock::FileLock(const std::filesystem::path& lock_file, Mode mode) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) throw IoError("cannot open lock file", lock_file, errno);
  int op = LOCK_EX | (mode == Mode::Try ? LOCK_NB : 0);
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && mode == Mode::Try) return;
    throw IoError("cannot lock", lock_file, errno);
  }
  fd_ = std::move(fd);
}

}  // namespace umstore
