#pragma once
// IMAP folder names and the directory names they are stored under.
//
// Layout is flat: every folder, however deeply nested, is one directory
// directly inside the user's directory. Its name is the IMAP name with each
// hierarchy component percent-encoded (bytes outside [A-Za-z0-9 _+,=-]
// become %XX) and components joined by '.', e.g. "Archive/2025" ->
// "Archive.2025", "a.b" -> "a%2Eb", "Entwürfe" -> "Entw%C3%BCrfe".
// The mapping is injective, never produces "/", NUL, "." or "..", and never
// starts with '.', so names starting with '.' are free for the store's own
// files. Parents are listed from the names alone (has_children).
#include <optional>
#include <string>
#include <string_view>

namespace umstore::mailstore {

inline constexpr std::size_t kMaxFolderDirectoryName = 255;  // NAME_MAX

// Checks an IMAP name and returns its canonical form ("inbox/x" ->
// "INBOX/x"). Throws InvalidFolderName with a sentence saying what is wrong.
std::string canonical_folder_name(std::string_view name);
bool is_inbox(std::string_view canonical_name) noexcept;

// `canonical_name` must come from canonical_folder_name.
std::string folder_directory_name(std::string_view canonical_name);
// nullopt for directory names that no folder maps to.
std::optional<std::string> folder_name_from_directory(std::string_view directory_name);

}  // namespace umstore::mailstore
