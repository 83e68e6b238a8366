#pragma once
// Crash-safe file primitives. A byte we acknowledge must survive kill -9 and
// power loss, so every "commit" here ends with fsync of the file and of the
// directory entry that names it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore {

class LatencyHistogram;  // common/metrics_text.hpp

class IoError : public std::runtime_error {
 public:
  IoError(const std::string& what, const std::filesystem::path& path, int err);
  int error_code() const noexcept { return err_; }

 private:
  int err_;
};

// Owns a POSIX file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const noexcept { return fd_; }
  int release() noexcept { int f = fd_; fd_ = -1; return f; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

void write_all(int fd, std::span<const std::byte> data, const std::filesystem::path& for_errors);
void write_all(int fd, std::string_view data, const std::filesystem::path& for_errors);
void fsync_fd(int fd, const std::filesystem::path& for_errors);
// How long every fsync_fd of this process took (umstore_store_fsync_seconds).
const LatencyHistogram& fsync_latency() noexcept;
void fsync_directory(const std::filesystem::path& dir);

// Large files written once and read later, if at all (stored voicemail, the
// originals kept in a spool's done/): once they are on disk their pages can
// leave the page cache, so a burst of them neither pushes indexes and queues
// out of memory nor pays for fresh cache pages for every megabyte (about a
// third of the CPU of storing a 60 s voicemail, bench/ingest). A hint: errors
// are ignored. The path form opens the file for it.
void drop_cached_pages(int fd) noexcept;
void drop_cached_pages(const std::filesystem::path& file) noexcept;

// Writes `data` to a temporary file next to `target`, fsyncs it, renames it
// over `target` and fsyncs the directory: readers see the old or the new
// content, never a torn one. `mode` is for the process umask to narrow: the
// default keeps store and queue files private; files a user asked for (e.g.
// `umstore convert` output) pass 0666 to get the usual 0644.
void replace_file_durably(const std::filesystem::path& target, std::string_view data, unsigned mode = 0600);

// Reads a whole file; throws IoError. The byte-vector form reads straight
// into the vector a recording is kept in (megabytes: no intermediate copy).
std::string read_file(const std::filesystem::path& path);
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);
// At most the first `max_bytes` (a magic number); throws IoError.
std::string read_file_head(const std::filesystem::path& path, std::size_t max_bytes);

// A new, empty, private (0600) file in `dir` that has no name, so nothing
// of it is left after a crash: it is gone when the descriptor closes
// (O_TMPFILE; where the file system lacks it, a named file unlinked at once).
UniqueFd open_unnamed_file(const std::filesystem::path& dir);

// Creates a directory and its parents, fsyncing each new entry's parent.
void create_directories_durably(const std::filesystem::path& dir);

// An exclusive advisory lock (flock) held for the object's lifetime.
class FileLock {
 public:
  enum class Mode { Block, Try };
  FileLock(const std::filesystem::path& lock_file, Mode mode = Mode::Block);
  bool held() const noexcept { return static_cast<bool>(fd_); }

 private:
  UniqueFd fd_;
};

}  // namespace umstore
