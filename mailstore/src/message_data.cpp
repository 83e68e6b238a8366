#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/durable_file.hpp"
#include "maildir_folder.hpp"
#include "message_bytes.hpp"

namespace umstore::mailstore::detail {
namespace {

// The mapping keeps the inode alive, so the bytes outlive an expunge.
class MappedMessage final : public MessageData {
 public:
  MappedMessage(void* address, std::size_t length) : address_(address), length_(length) {}
  ~MappedMessage() override {
    if (address_ != nullptr) ::munmap(address_, length_);
  }
  MappedMessage(const MappedMessage&) = delete;
  MappedMessage& operator=(const MappedMessage&) = delete;
  std::string_view bytes() const noexcept override {
    return address_ == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(address_), length_);
  }

 private:
  void* address_;
  std::size_t length_;
};

// Small messages are read, not mapped: in a process whose threads serve
// many sessions, each munmap is a TLB shootdown on every core and takes the
// address-space lock, which costs more than copying a few hundred KB from
// the page cache. Large ones (a long fax as PDF) stay mapped, never copied.
constexpr std::size_t kReadLimit = 4u << 20;

MessageDataPtr read_whole(int fd, std::size_t length, const std::filesystem::path& file) {
  std::string bytes(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    const auto n = ::pread(fd, bytes.data() + done, length - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("cannot read message", file, errno);
    if (n == 0) break;  // shortened meanwhile: Maildir files never are, but stay safe
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return std::make_shared<MessageBytes>(std::move(bytes));
}

}  // namespace

MessageDataPtr map_message_file(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return nullptr;
    throw IoError("cannot open message", file, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw IoError("cannot stat message", file, errno);
  const auto length = static_cast<std::size_t>(st.st_size);
  if (length <= kReadLimit) return read_whole(fd.get(), length, file);
  void* address = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) throw IoError("cannot map message", file, errno);
  return std::make_shared<MappedMessage>(address, length);
}

}  // namespace umstore::mailstore::detail
