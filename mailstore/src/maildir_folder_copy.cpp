// The Maildir folder's copies: the bytes of a copied message are shared
// by a hard link where the file system allows (they never change), so COPY
// and the INBOX rename cost a link per message, not a rewrite.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/durable_file.hpp"
#include "maildir_folder.hpp"
#include "temporary_failure.hpp"
#include "maildir_folder_transaction.hpp"
#include "maildir_format.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kCopyBatch = 256;  // open descriptors per batch of copy_to

void copy_message_file(int from_fd, const fs::path& to, std::int64_t internal_date) {
  UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw IoError("cannot create message file", to, errno);
  try {
    char buffer[65536];
    off_t offset = 0;
    while (true) {
      const ssize_t n = ::pread(from_fd, buffer, sizeof buffer, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw IoError("cannot read message to copy it to", to, errno);
      if (n == 0) break;
      write_all(fd.get(), std::string_view(buffer, static_cast<std::size_t>(n)), to);
      offset += n;
    }
    const timespec times[2] = {{static_cast<time_t>(internal_date), 0}, {static_cast<time_t>(internal_date), 0}};
    ::futimens(fd.get(), times);
    fsync_fd(fd.get(), to);
  } catch (...) {
    ::unlink(to.c_str());
    throw;
  }
}

}  // namespace

void MaildirFolder::remove_messages(std::span<const std::uint32_t> uids) {
  std::vector<std::uint32_t> removed;
  {
    Transaction write(*this);
    std::string records;
    for (const std::uint32_t uid : uids) {
      const auto it = mirror_.entries.find(uid);
      if (it == mirror_.entries.end()) continue;
      const fs::path path = dir_ / "cur" / it->second.file;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw IoError("cannot remove message file", path, errno);
      removed.push_back(uid);
    }
    fsync_directory(dir_ / "cur");
    const std::uint64_t modseq = next_modseq();
    for (const std::uint32_t uid : removed) {
      erase_entry(uid, modseq);
      records += "-" + std::to_string(uid) + " " + std::to_string(modseq) + "\n";
    }
    write_log(records);
    changed();
  }
  notify();
  queue_text_update({}, removed);
}

std::vector<MessageSource> MaildirFolder::sources(std::span<const std::uint32_t> uids) const {
  Transaction read(*this);
  std::vector<MessageSource> out;
  for (const std::uint32_t uid : uids) {
    const auto it = mirror_.entries.find(uid);
    if (it == mirror_.entries.end()) continue;
    const Entry& e = it->second;
    const fs::path path = dir_ / "cur" / e.file;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;  // vanished; not copied
    out.push_back(MessageSource{uid, std::move(fd), e.flags, e.keywords, e.size, e.date});
  }
  return out;
}

std::vector<std::uint32_t> MaildirFolder::add_copies(std::span<const MessageSource> sources) {
  // Prepare in tmp/ outside the locks: a hard link shares the (immutable)
  // bytes; across file systems, or where links are refused, copy them.
  std::vector<std::string> bases;
  try {
    for (const auto& s : sources) {
      std::string base = unique_base(s.size);
      const fs::path tmp = dir_ / "tmp" / base;
      const std::string proc = "/proc/self/fd/" + std::to_string(s.fd.get());
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0)
        copy_message_file(s.fd.get(), tmp, s.internal_date);
      bases.push_back(std::move(base));
    }
  } catch (...) {
    for (const auto& base : bases) ::unlink((dir_ / "tmp" / base).c_str());
    throw;
  }

  std::vector<std::uint32_t> uids;
  try {
    Transaction write(*this);
    require_live();
    if (mirror_.uid_next > UINT32_MAX - sources.size()) throw IoError("no UIDs left in folder", dir_, EOVERFLOW);
    std::vector<std::string> names;
    std::uint64_t modseq = 0;
    const auto saved = static_cast<std::int64_t>(std::time(nullptr));  // a copy's save date restarts (RFC 8514)
    try {
      for (std::size_t i = 0; i < sources.size(); ++i) {
        const std::string name = file_name(bases[i], sources[i].flags);
        rename_or_throw(dir_ / "tmp" / bases[i], dir_ / "cur" / name);
        names.push_back(name);
      }
      fsync_directory(dir_ / "cur");
      std::string records;
      modseq = next_modseq();
      for (std::size_t i = 0; i < sources.size(); ++i) {
        const MessageSource& s = sources[i];
        const auto uid = static_cast<std::uint32_t>(mirror_.uid_next + i);
        records += added_line(uid, s.size, s.internal_date, s.flags, modseq, bases[i]) + save_date_line(uid, saved);
        if (!s.keywords.empty()) records += keyword_line(uid, s.keywords);
      }
      write_log(records);
    } catch (...) {
      for (const auto& name : names) ::unlink((dir_ / "cur" / name).c_str());  // reported as not copied
      throw;
    }
    const std::uint32_t first_uid = mirror_.uid_next;
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const MessageSource& s = sources[i];
      const auto uid = static_cast<std::uint32_t>(first_uid + i);
      add_entry(Entry{uid, bases[i], names[i], s.size, s.internal_date, s.flags, s.keywords, modseq, saved});
      uids.push_back(uid);
    }
    changed();
  } catch (...) {
    for (const auto& base : bases) ::unlink((dir_ / "tmp" / base).c_str());
    throw;
  }
  notify();
  queue_text_update(uids, {});
  return uids;
}

Folder::UidPairs MaildirFolder::copy_to(Folder& target, std::span<const std::uint32_t> uids) try {
  auto* maildir_target = dynamic_cast<MaildirFolder*>(&target);
  if (maildir_target == nullptr) return Folder::copy_to(target, uids);  // another backend's folder
  return link_to(*maildir_target, uids, Transfer::Copy);
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

Folder::UidPairs MaildirFolder::move_to(Folder& target, std::span<const std::uint32_t> uids) try {
  auto* maildir_target = dynamic_cast<MaildirFolder*>(&target);
  if (maildir_target == nullptr) return Folder::move_to(target, uids);
  return link_to(*maildir_target, uids, Transfer::Move);
} catch (const IoError& e) {
  throw_temporary_failure(e);
}

Folder::UidPairs MaildirFolder::link_to(MaildirFolder& target, std::span<const std::uint32_t> uids, Transfer how) {
  std::uint64_t bytes = 0;
  {
    std::lock_guard lock(mutex_);
    require_live();
    for (const std::uint32_t uid : uids)
      if (const auto it = mirror_.entries.find(uid); it != mirror_.entries.end()) bytes += it->second.size;
  }
  // The whole copy must fit; a move within one mailbox adds nothing to its
  // usage (and must work when it is full, e.g. into Trash).
  std::optional<QuotaCounter::Reservation> room;
  if (how == Transfer::Copy || target.quota_ != quota_) room.emplace(*target.quota_, bytes);
  UidPairs pairs;
  for (std::size_t start = 0; start < uids.size(); start += kCopyBatch) {
    const auto batch = uids.subspan(start, std::min(kCopyBatch, uids.size() - start));
    const std::vector<MessageSource> batch_sources = sources(batch);
    const std::vector<std::uint32_t> new_uids = target.add_copies(batch_sources);
    std::vector<std::uint32_t> linked;
    for (std::size_t i = 0; i < new_uids.size(); ++i) {
      pairs.emplace_back(batch_sources[i].source_uid, new_uids[i]);
      linked.push_back(batch_sources[i].source_uid);
    }
    if (how == Transfer::Move) remove_messages(linked);  // after the copies are durable: never in neither folder
  }
  return pairs;
}

}  // namespace umstore::mailstore::detail
