#include "account_rules.hpp"
#include "mailstore/password_hash.hpp"

#include "common/e164.hpp"

namespace umstore::mailstore::detail {
namespace {

constexpr std::size_t kMaxNameLength = 256;
constexpr std::size_t kMaxEmailLength = 320;  // RFC 5321 path limits

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw AccountError("libsodium cannot be initialised; password hashing is unavailable");
  });
}

}  // namespace

void require_e164(std::string_view number) {
  if (!umstore::is_e164(number))
    throw AccountError("\"" + std::string(number) +
                       "\" is not an E.164 number: write it as + and 2 to 15 digits, e.g. +15550100");
}

void validate(const Account& account) {
  require_e164(account.number);
  if (account.name.size() > kMaxNameLength)
    throw AccountError("the display name is longer than " + std::to_string(kMaxNameLength) + " bytes");
  if (account.email.size() > kMaxEmailLength)
    throw AccountError("the e-mail address is longer than " + std::to_string(kMaxEmailLength) + " bytes");
  if (account.quota_bytes > static_cast<std::uint64_t>(INT64_MAX))
    throw AccountError("the quota is too large; use 0 for unlimited");
}

std::string hash_password(std::string_view password) {
  if (password.empty()) throw AccountError("the password must not be empty");
  if (password.size() > kMaxPasswordLength)
    throw AccountError("the password is longer than " + std::to_string(kMaxPasswordLength) + " bytes");
  init_sodium();
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw AccountError("cannot hash the password: out of memory");
  return hash;
}

std::string unknown_number(std::string_view number) {
  return "there is no account for " + std::string(number) + "; add it first";
}

std::string already_exists(std::string_view number) {
  return "an account for " + std::string(number) + " already exists; use update or passwd to change it";
}

void require_argon2id_hash(std::string_view hash) {
  if (!hash.starts_with("$argon2id$") || hash.size() >= crypto_pwhash_STRBYTES)
    throw AccountError("not an Argon2id password hash (libsodium's $argon2id$... form)");
}

PasswordCheck::PasswordCheck() {
  init_sodium();
  crypto_generichash_keygen(key_.data());
}

PasswordCheck::Digest PasswordCheck::digest_of(std::string_view password) const {
  Digest d{};
  crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                     key_.data(), key_.size());
  return d;
}

bool PasswordCheck::remembers(const std::string& number, const std::string& stored_hash,
                              std::string_view password) const {
  const Digest d = digest_of(password);
  std::lock_guard lock(mutex_);
  const auto it = remembered_.find(number);
  return it != remembered_.end() && it->second.stored_hash == stored_hash &&
         sodium_memcmp(it->second.digest.data(), d.data(), d.size()) == 0;
}

void PasswordCheck::remember(const std::string& number, const std::string& stored_hash,
                             std::string_view password) const {
  Remembered r{stored_hash, digest_of(password)};
  std::lock_guard lock(mutex_);
  if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  remembered_.insert_or_assign(number, std::move(r));
}

bool PasswordCheck::verify(std::string_view number, const std::string& stored_hash, std::string_view password) const {
  if (password.size() > kMaxPasswordLength) return false;
  if (stored_hash.empty()) {
    static const std::string dummy = hash_password("umstore-no-such-account");
    [[maybe_unused]] const int ignored = crypto_pwhash_str_verify(dummy.c_str(), password.data(), password.size());
    return false;
  }
  const std::string key(number);
  if (remembers(key, stored_hash, password)) return true;
  if (crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) != 0) return false;
  remember(key, stored_hash, password);
  return true;
}

}  // namespace umstore::mailstore::detail

namespace umstore::mailstore {

std::string hash_password(std::string_view password) { return detail::hash_password(password); }

bool password_matches(const std::string& stored_hash, std::string_view password) {
  static const std::string dummy = detail::hash_password("umstore-no-such-account");
  const std::string& hash = stored_hash.empty() ? dummy : stored_hash;
  const bool match = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return match && !stored_hash.empty();
}

}  // namespace umstore::mailstore
