// The Maildir folder's kept metadata (Folder::metadata): one small file per
// message in <folder>/umstore-metadata/, named by the message's unique base
// name, holding encode_metadata() of it. A cache of the message, like the
// full-text index: written without fsync, checked when read (a torn or
// missing file is computed again from the message and written anew), and
// removed with the message (erase_entry), so an expunged message leaves
// nothing of its header behind.
//
// Written into tmp/ first and renamed into place under the folder's lock
// only while the message is still there: a file can never appear for a
// message another session just expunged.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/durable_file.hpp"
#include "maildir_folder.hpp"
#include "maildir_folder_transaction.hpp"
#include "temporary_failure.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMetadataDir = "umstore-metadata";
// Larger files are not ours (a message without a header end keeps its
// whole self as its header; past this it is cheaper to read the message).
constexpr off_t kMaxMetadataBytes = 16 << 20;

std::optional<std::string> read_small_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || st.st_size > kMaxMetadataBytes) return std::nullopt;
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n <= 0) return std::nullopt;
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace

fs::path MaildirFolder::metadata_file(std::string_view base) const { return dir_ / kMetadataDir / base; }

fs::path MaildirFolder::write_pending_metadata(std::string_view base, const MessageMetadata& metadata) const {
  const fs::path tmp = dir_ / "tmp" / (std::string(base) + ".metadata");
  try {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return {};
    write_all(fd.get(), encode_metadata(metadata), tmp);
    return tmp;
  } catch (const IoError&) {  // a full disk: the message is what matters
    ::unlink(tmp.c_str());
    return {};
  }
}

void MaildirFolder::keep_pending_metadata(const fs::path& pending, std::string_view base) const {
  if (pending.empty()) return;
  const fs::path kept = metadata_file(base);
  if (::rename(pending.c_str(), kept.c_str()) == 0) return;
  // The directory comes with the first message (folders made before it existed lack it).
  if (errno == ENOENT && (::mkdir((dir_ / kMetadataDir).c_str(), 0700) == 0 || errno == EEXIST) &&
      ::rename(pending.c_str(), kept.c_str()) == 0)
    return;
  ::unlink(pending.c_str());
}

void MaildirFolder::forget_metadata(std::string_view base) const { ::unlink(metadata_file(base).c_str()); }

Folder::UidMetadata MaildirFolder::metadata(std::span<const std::uint32_t> uids) const try {
  sync_if_changed();
  std::vector<std::pair<std::uint32_t, std::string>> bases;
  {
    std::lock_guard lock(mutex_);
    for (const std::uint32_t uid : uids)
      if (const auto it = mirror_.entries.find(uid); it != mirror_.entries.end()) bases.emplace_back(uid, it->second.base);
  }
  UidMetadata out;
  std::vector<std::pair<std::string, fs::path>> computed;  // base, its file in tmp/
  for (const auto& [uid, base] : bases) {
    if (const auto kept = read_small_file(metadata_file(base))) {
      if (auto m = decode_metadata(*kept)) {
        out.emplace_back(uid, std::move(*m));
        continue;
      }
    }
    const MessageDataPtr data = open_message(uid);
    if (!data) continue;  // expunged meanwhile
    MessageMetadata m = compute_metadata(data->bytes());
    computed.emplace_back(base, write_pending_metadata(base, m));
    out.emplace_back(uid, std::move(m));
  }
  if (!computed.empty()) keep_computed_metadata(computed);
  return out;
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

void MaildirFolder::keep_computed_metadata(std::span<const std::pair<std::string, fs::path>> computed) const {
  try {
    Transaction write(*this);
    for (const auto& [base, pending] : computed) {
      if (mirror_.uid_by_base.contains(base))
        keep_pending_metadata(pending, base);
      else if (!pending.empty())
        ::unlink(pending.c_str());
    }
  } catch (...) {  // a cache: the next read computes them again
    for (const auto& [base, pending] : computed)
      if (!pending.empty()) ::unlink(pending.c_str());
  }
}

}  // namespace umstore::mailstore::detail
