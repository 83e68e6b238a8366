#pragma once
// Mailbox accounts: who may log in and which E.164 numbers have a mailbox.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mailstore {

// How a mailbox wants its voice and fax messages (set with `umstore mailbox set`).
enum class PlayableAudio { wav, mp3, none };  // the copy next to audio/32KADPCM for people's clients

struct MailboxDelivery {
  PlayableAudio playable = PlayableAudio::wav;
  bool fax_pdf = false;       // a PDF copy next to the TIFF
  bool file_by_kind = false;  // voice into "Voicemail", fax into "Fax"; else everything into INBOX
  bool operator==(const MailboxDelivery&) const = default;
};

// Message aging of one mailbox (set with `umstore mailbox set --age-days
// --trash-days`): after how many days of their save date voice and fax
// messages move to Trash, and Trash is purged. nullopt: the [aging]
// default of the configuration; 0: never.
struct MailboxAging {
  std::optional<unsigned> move_to_trash_days;
  std::optional<unsigned> purge_trash_days;
  bool operator==(const MailboxAging&) const = default;
};

std::string_view to_string(PlayableAudio playable);           // "wav", "mp3", "none"
std::optional<PlayableAudio> parse_playable(std::string_view text);

struct Account {
  std::string number;            // E.164, e.g. "+15550100": login name and mailbox id
  std::string name;              // display name, e.g. "Alice Example"
  std::string email;             // optional address for forwarding/notices; may be empty
  std::uint64_t quota_bytes = 0; // 0 = unlimited
};

// A request the store refuses (duplicate, unknown number, bad number...);
// what() is a sentence an administrator can act on.
class AccountError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Who may log in and which numbers have a mailbox, in whatever the backend
// keeps them (SqliteAccountStore for the embedded store; open_store picks).
// Every lookup reads the current state, so the admin CLI can change
// accounts while `umstore serve` runs. Safe to call from any thread.
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // number must be E.164 ("+" and 2..15 digits); the password is stored as an
  // Argon2id hash (libsodium crypto_pwhash_str), never in clear.
  virtual void add(const Account& account, std::string_view password) = 0;
  virtual void update(const Account& account) = 0;  // all fields but the password
  // Voice/fax forms and folders of a mailbox; new accounts get the defaults.
  virtual void set_delivery(std::string_view number, const MailboxDelivery& delivery) = 0;
  virtual std::optional<MailboxDelivery> delivery(std::string_view number) const = 0;  // nullopt: no such account
  virtual void set_aging(std::string_view number, const MailboxAging& aging) = 0;
  virtual std::optional<MailboxAging> aging(std::string_view number) const = 0;  // nullopt: no such account
  virtual void remove(std::string_view number) = 0;
  virtual void set_password(std::string_view number, std::string_view password) = 0;

  virtual std::optional<Account> find(std::string_view number) const = 0;
  virtual std::vector<Account> list() const = 0;

  // Argon2id verification: about 90 ms of CPU and 64 MiB by design, so
  // protocol code must call it off its I/O threads. A password verified
  // once may be remembered (in memory only, tied to the stored hash so a
  // password change forgets it): clients that open a connection per check
  // (phones, mbsync, webmail) then log in in microseconds. Failures always
  // pay the full Argon2id price.
  virtual bool verify_password(std::string_view number, std::string_view password) const = 0;

  // Moving accounts between backends (copy_store): the Argon2id hash as
  // stored, never a password. add_with_hash refuses anything but an
  // Argon2id hash in libsodium's string form.
  virtual std::optional<std::string> password_hash(std::string_view number) const = 0;
  virtual void add_with_hash(const Account& account, std::string_view password_hash) = 0;
};

}  // namespace umstore::mailstore
