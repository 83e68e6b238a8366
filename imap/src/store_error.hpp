#pragma once
// The tagged NO for a store operation on named folders, with its RFC 5530
// response code.
#include <optional>
#include <string>
#include <string_view>

#include "mailstore/folder.hpp"

namespace umstore::imap {

// Where a client should create the folder and try again (COPY, MOVE and
// APPEND, RFC 3501 §6.4.7); elsewhere a missing folder is NONEXISTENT.
inline constexpr std::string_view kTryCreate = "[TRYCREATE] No such mailbox";

// Runs `operation`; a store error becomes the text of the tagged NO (`missing`
// when the folder does not exist), success nullopt.
template <typename Operation>
std::optional<std::string> store_error_of(Operation&& operation,
                                          std::string_view missing = "[NONEXISTENT] No such mailbox") {
  try {
    operation();
    return std::nullopt;
  } catch (const mailstore::FolderNotFound&) {
    return std::string(missing);
  } catch (const mailstore::FolderExists&) {
    return "[ALREADYEXISTS] Mailbox already exists";
  } catch (const mailstore::InvalidFolderName&) {
    return "[CANNOT] Invalid mailbox name";
  }
}

}  // namespace umstore::imap
