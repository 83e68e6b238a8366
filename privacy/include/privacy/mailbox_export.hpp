#pragma once
// A mailbox's messages as one archive, for a data-protection request or a
// move: every message as FOLDER/UID.eml, octet for octet as stored, and
// manifest.json describing each (folder, flags, arrival, caller, kind,
// duration or pages). The format follows the file name: .zip, .tar.gz or
// .tgz, else plain tar. Written to FILE.partial, fsync'ed and renamed, so
// a FILE that exists is complete.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "mailstore/folder.hpp"

namespace umstore::privacy {

struct ExportCounts {
  std::size_t messages = 0;
  std::uint64_t bytes = 0;  // of the messages, before compression
};

enum class ArchiveFormat { Tar, TarGz, Zip };
// By the file name's ending: .zip, .tar.gz or .tgz, else tar.
ArchiveFormat archive_format_for(const std::filesystem::path& file);

// Throws std::runtime_error naming the file when it cannot be written.
ExportCounts export_mailbox(mailstore::UserMailbox& mailbox, const std::filesystem::path& file);
// The same archive written to an open file (the console's download), not
// fsync'ed; `for_errors` names it in messages.
ExportCounts write_mailbox_archive(mailstore::UserMailbox& mailbox, int fd, ArchiveFormat format,
                                   const std::filesystem::path& for_errors);

}  // namespace umstore::privacy
