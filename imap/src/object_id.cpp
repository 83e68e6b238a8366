#include "object_id.hpp"

#include "common/sha256.hpp"

namespace umstore::imap {

std::string mailbox_object_id(std::string_view folder_id) { return "F" + std::string(folder_id); }

std::string email_object_id(std::string_view message) { return "M" + sha256_hex(message).substr(0, 32); }

}  // namespace umstore::imap
