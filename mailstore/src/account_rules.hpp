#pragma once
// What every account backend enforces alike (internal): which numbers,
// names and passwords are acceptable, the Argon2id hash, and the check of a
// password against a stored hash with the verified-password memory. A
// backend only reads and writes rows.
#include <sodium.h>

#include <array>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mailstore/account_store.hpp"

namespace umstore::mailstore::detail {

constexpr std::size_t kMaxPasswordLength = 1024;

void require_e164(std::string_view number);   // throws AccountError
void validate(const Account& account);        // throws AccountError
std::string hash_password(std::string_view password);  // Argon2id; throws AccountError
std::string unknown_number(std::string_view number);   // the AccountError message
std::string already_exists(std::string_view number);   // the AccountError message
void require_argon2id_hash(std::string_view hash);     // throws AccountError

// Checks passwords against stored hashes. A password verified once is
// remembered as a keyed BLAKE2b digest tied to the stored hash (in memory
// only), so a client that connects per check pays Argon2id once; failures
// always pay in full.
class PasswordCheck {
 public:
  PasswordCheck();  // initialises libsodium; a new digest key per process

  // `stored_hash` empty: no such account; the same time is spent anyway,
  // so the answer time does not tell an attacker which numbers exist.
  bool verify(std::string_view number, const std::string& stored_hash, std::string_view password) const;

 private:
  static constexpr std::size_t kMaxRemembered = 100'000;  // bounded: forgotten all at once when full
  using Digest = std::array<unsigned char, crypto_generichash_BYTES>;
  struct Remembered {
    std::string stored_hash;
    Digest digest{};
  };
  Digest digest_of(std::string_view password) const;
  bool remembers(const std::string& number, const std::string& stored_hash, std::string_view password) const;
  void remember(const std::string& number, const std::string& stored_hash, std::string_view password) const;

  std::array<unsigned char, crypto_generichash_KEYBYTES> key_{};
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Remembered> remembered_;  // number -> what last matched
};

}  // namespace umstore::mailstore::detail
