#include "object_id.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace umstore::imap {

std::string mailbox_object_id(std::string_view folder_id) { return "F" + std::string(folder_id); }

std::string email_object_id(std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "M";
  for (unsigned int i = 0; i < 16 && i < size; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace umstore::imap
