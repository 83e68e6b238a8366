#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/durable_file.hpp"
#include "maildir_folder.hpp"

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
  if (length == 0) return std::make_shared<MappedMessage>(nullptr, 0);  // mmap refuses length 0
  void* address = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) throw IoError("cannot map message", file, errno);
  return std::make_shared<MappedMessage>(address, length);
}

}  // namespace umstore::mailstore::detail
