#include "file_bytes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <span>

#include "common/durable_file.hpp"

namespace umstore::ingest {

namespace {

UniqueFd open_for_reading(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw IoError("cannot open", path, errno);
  return fd;
}

// Fills `buffer` from the file's current position; fewer bytes at its end.
std::size_t read_up_to(int fd, std::span<char> buffer, const std::filesystem::path& path) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot read", path, errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  const UniqueFd fd = open_for_reading(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw IoError("cannot stat", path, errno);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
  out.resize(read_up_to(fd.get(), std::span(reinterpret_cast<char*>(out.data()), out.size()), path));
  if (out.size() < static_cast<std::size_t>(st.st_size)) return out;
  // The file may have grown since fstat: the rest, in chunks.
  std::array<char, 65536> more;
  for (std::size_t n; (n = read_up_to(fd.get(), more, path)) != 0;) out.insert(out.end(), more.begin(), more.begin() + n);
  return out;
}

std::string read_file_head(const std::filesystem::path& path, std::size_t max_bytes) {
  const UniqueFd fd = open_for_reading(path);
  std::string out(max_bytes, '\0');
  out.resize(read_up_to(fd.get(), out, path));
  return out;
}

}  // namespace umstore::ingest
