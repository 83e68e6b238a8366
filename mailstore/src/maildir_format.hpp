#pragma once
// File names and UID-list lines of the Maildir backend (internal); the
// layout itself is described in maildir_folder.hpp.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/message.hpp"

namespace umstore::mailstore::detail {

inline constexpr const char* kLogFile = "umstore-uidlist";
inline constexpr const char* kLockFile = "umstore-uidlist.lock";
inline constexpr const char* kSpecialUseFile = "umstore-special-use";
inline constexpr const char* kFolderIdFile = "umstore-folder-id";
inline constexpr std::string_view kLogMagic = "umstore-uidlist 1";

// "DFRST" letters of the Maildir info suffix, in the spec's ASCII order.
std::string flag_letters(Flags flags);
Flags flags_from_letters(std::string_view letters);
// Flags from a file name's ":2,<letters>" suffix.
Flags flags_from_file_name(std::string_view name);
// The file name without its ":2,..." info: what stays when flags change.
std::string_view base_of(std::string_view name);
std::string file_name(std::string_view base, Flags flags);
// "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>", unique per the Maildir spec.
std::string unique_base(std::uint64_t size);
// Message-like entries of a directory: no dot files, no newlines.
std::vector<std::string> list_directory(const std::filesystem::path& dir);

// UID list lines, each ending in "\n".
std::string log_header(std::uint32_t uid_validity, std::uint32_t uid_next, std::uint64_t highest_modseq,
                       std::uint32_t first_recent_uid);
// "<letters|->/<modseq>"; and back (modseq 0 when the token has none).
std::string log_flags(Flags flags, std::uint64_t modseq);
std::pair<Flags, std::uint64_t> parse_log_flags(std::string_view token);
std::string added_line(std::uint32_t uid, std::uint64_t size, std::int64_t date, Flags flags, std::uint64_t modseq,
                       std::string_view base);
std::string flags_line(std::uint32_t uid, Flags flags, std::uint64_t modseq);
// "S<uid> <date>": when the message was saved into the folder (Folder::save_date).
std::string save_date_line(std::uint32_t uid, std::int64_t date);
std::string keyword_line(std::uint32_t uid, const std::vector<std::string>& keywords);
std::uint32_t new_uid_validity();
// 128 random bits as 32 lowercase hex digits.
std::string new_folder_id();

}  // namespace umstore::mailstore::detail
