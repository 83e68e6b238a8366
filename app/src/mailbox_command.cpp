#include <sodium.h>
#include <unistd.h>

#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "mailstore/store.hpp"
#include "privacy/mailbox_export.hpp"
#include "common/parse_number.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kMailboxUsage = R"(usage:
  umstore [--data-dir DIR] mailbox add NUMBER --name NAME [--email ADDR] [--quota BYTES] [--password-stdin]
  umstore [--data-dir DIR] mailbox list
  umstore [--data-dir DIR] mailbox show NUMBER
  umstore [--data-dir DIR] mailbox set NUMBER [--playable wav|mp3|none] [--fax-pdf yes|no] [--file-by-kind yes|no]
                                              [--quota BYTES] [--age-days N|default] [--trash-days N|default]
  umstore [--data-dir DIR] mailbox remove NUMBER
  umstore [--data-dir DIR] mailbox passwd NUMBER [--password-stdin]
  umstore [--data-dir DIR] mailbox export NUMBER FILE

NUMBER is an E.164 number: + and 2 to 15 digits, e.g. +15550100. It is also the
IMAP login name. Without --password-stdin a random password is generated and
printed. Passwords are stored as Argon2id hashes. These commands are safe to
use while 'umstore serve' runs.

'set' chooses what the mailbox gets with voice and fax messages (the next
message delivered uses it): --playable is the copy of each recording people's
mail clients play next to the VPIM audio/32KADPCM part (default wav; none
keeps pure VPIM), --fax-pdf adds a PDF next to each fax's TIFF (default no),
--file-by-kind files voice messages into the folder "Voicemail" and faxes
into "Fax" instead of INBOX (default no; folders are created when needed).
Message aging: --age-days moves voice and fax messages in INBOX, Voicemail
and Fax to Trash N days after they were saved, --trash-days removes
messages from Trash N days after they were saved there; 0 is never, and
"default" follows [aging] move_to_trash_days and purge_trash_days of the
config (see 'umstore aging --help').

'remove' removes the account (no more logins or deliveries); its messages
stay until 'umstore privacy erase --mailbox NUMBER' erases them.

'export' writes every message of the mailbox as FOLDER/UID.eml with a
manifest.json (folder, flags, arrival, caller, kind, duration, pages) into
FILE: a zip for .zip, gzip'ed tar for .tar.gz or .tgz, else tar. FILE
appears only once complete.
)";

std::string yes_no(bool value) { return value ? "yes" : "no"; }

// --age-days and --trash-days: a number of days, or "default" (nullopt).
std::optional<unsigned> parse_days(const std::string& option, const std::string& text) {
  if (text == "default") return std::nullopt;
  if (const auto days = parse_number<unsigned>(text)) return days;
  throw UsageError(option + " takes a number of days (0: never) or default, not '" + text + "'");
}

std::string days_text(std::optional<unsigned> days) {
  if (!days) return "default";
  if (*days == 0) return "never";
  return std::to_string(*days) + (*days == 1 ? " day" : " days");
}

bool parse_yes_no(const std::string& option, const std::string& text) {
  if (text == "yes") return true;
  if (text == "no") return false;
  throw UsageError(option + " takes yes or no, not '" + text + "'");
}

// 16 characters from an alphabet without look-alikes: about 90 bits.
std::string generate_password() {
  static constexpr std::string_view kAlphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back(kAlphabet[randombytes_uniform(static_cast<uint32_t>(kAlphabet.size()))]);
  return out;
}

// The password and whether it was generated (and so must be shown once).
std::pair<std::string, bool> choose_password(const CommandLine& cmd) {
  if (cmd.flag("--password-stdin")) return {read_password_from_stdin(), false};
  return {generate_password(), true};
}

std::uint64_t parse_quota(const std::string& text) {
  const auto bytes = parse_number<std::uint64_t>(text);
  if (!bytes) throw UsageError("--quota takes a number of bytes (0: unlimited), e.g. 104857600");
  return *bytes;
}

int add(const CommandLine& cmd, const Settings& s) {
  mailstore::Account account;
  account.number = cmd.positionals().at(1);
  auto name = cmd.value("--name");
  if (!name || name->empty()) throw UsageError("mailbox add needs --name NAME");
  account.name = *name;
  account.email = cmd.value("--email").value_or("");
  if (auto quota = cmd.value("--quota")) account.quota_bytes = parse_quota(*quota);
  create_directories_durably(s.data.root);
  const auto opened = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *opened.accounts;
  const auto [password, generated] = choose_password(cmd);
  accounts.add(account, password);
  // Enforced from the first delivery, not from the owner's first login.
  if (account.quota_bytes) opened.mail->user(account.number)->set_quota_limit(account.quota_bytes);
  std::cout << "added mailbox " << account.number << " (" << account.name << ")\n";
  if (generated) std::cout << "password for " << account.number << ": " << password << "\n";
  return 0;
}

int list(const Settings& s) {
  const auto [store, account_store] = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *account_store;
  std::cout << std::left << std::setw(18) << "NUMBER" << std::setw(28) << "NAME" << std::setw(12) << "MESSAGES"
            << std::setw(14) << "USED BYTES" << std::setw(14) << "QUOTA BYTES" << std::setw(10) << "PLAYABLE"
            << std::setw(9) << "FAX PDF" << "BY KIND\n";
  for (const auto& a : accounts.list()) {
    auto usage = store->user(a.number)->quota();
    const auto delivery = accounts.delivery(a.number).value_or(mailstore::MailboxDelivery{});
    std::cout << std::left << std::setw(18) << a.number << std::setw(28) << a.name << std::setw(12) << usage.messages
              << std::setw(14) << usage.bytes << std::setw(14)
              << (a.quota_bytes ? std::to_string(a.quota_bytes) : "unlimited") << std::setw(10)
              << mailstore::to_string(delivery.playable) << std::setw(9) << yes_no(delivery.fax_pdf)
              << yes_no(delivery.file_by_kind) << "\n";
  }
  return 0;
}

int show(const CommandLine& cmd, const Settings& s) {
  const auto opened = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *opened.accounts;
  const std::string& number = cmd.positionals().at(1);
  const auto account = accounts.find(number);
  const auto delivery = accounts.delivery(number);
  const auto aging = accounts.aging(number);
  if (!account || !delivery || !aging) throw mailstore::AccountError("there is no account for " + number + "; add it first");
  std::cout << "number:       " << account->number << "\n"
            << "name:         " << account->name << "\n"
            << "email:        " << account->email << "\n"
            << "quota:        " << (account->quota_bytes ? std::to_string(account->quota_bytes) + " bytes" : "unlimited")
            << "\n"
            << "playable:     " << mailstore::to_string(delivery->playable) << "\n"
            << "fax-pdf:      " << yes_no(delivery->fax_pdf) << "\n"
            << "file-by-kind: " << yes_no(delivery->file_by_kind)
            << (delivery->file_by_kind ? " (voice into Voicemail, fax into Fax)" : " (everything into INBOX)") << "\n"
            << "age-days:     " << days_text(aging->move_to_trash_days) << " (voice and fax to Trash)\n"
            << "trash-days:   " << days_text(aging->purge_trash_days) << " (Trash purged)\n";
  return 0;
}

int set(const CommandLine& cmd, const Settings& s) {
  const auto opened = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *opened.accounts;
  const std::string& number = cmd.positionals().at(1);
  const auto playable = cmd.value("--playable");
  const auto fax_pdf = cmd.value("--fax-pdf");
  const auto by_kind = cmd.value("--file-by-kind");
  const auto quota = cmd.value("--quota");
  const auto age_days = cmd.value("--age-days");
  const auto trash_days = cmd.value("--trash-days");
  if (!playable && !fax_pdf && !by_kind && !quota && !age_days && !trash_days)
    throw UsageError(
        "mailbox set needs at least one of --playable, --fax-pdf, --file-by-kind, --quota, --age-days, --trash-days");
  auto delivery = accounts.delivery(number);
  if (!delivery) throw mailstore::AccountError("there is no account for " + number + "; add it first");
  if (quota) {
    auto account = accounts.find(number).value();
    account.quota_bytes = parse_quota(*quota);
    accounts.update(account);
    opened.mail->user(number)->set_quota_limit(account.quota_bytes);  // enforced from the next delivery
  }
  if (playable) {
    const auto parsed = mailstore::parse_playable(*playable);
    if (!parsed) throw UsageError("--playable takes wav, mp3 or none, not '" + *playable + "'");
    delivery->playable = *parsed;
  }
  if (fax_pdf) delivery->fax_pdf = parse_yes_no("--fax-pdf", *fax_pdf);
  if (by_kind) delivery->file_by_kind = parse_yes_no("--file-by-kind", *by_kind);
  accounts.set_delivery(number, *delivery);
  auto aging = accounts.aging(number).value_or(mailstore::MailboxAging{});
  if (age_days) aging.move_to_trash_days = parse_days("--age-days", *age_days);
  if (trash_days) aging.purge_trash_days = parse_days("--trash-days", *trash_days);
  if (age_days || trash_days) accounts.set_aging(number, aging);
  const auto limit = accounts.find(number).value().quota_bytes;
  std::cout << "mailbox " << number << ": playable " << mailstore::to_string(delivery->playable) << ", fax-pdf "
            << yes_no(delivery->fax_pdf) << ", file-by-kind " << yes_no(delivery->file_by_kind) << ", quota "
            << (limit ? std::to_string(limit) + " bytes" : "unlimited") << ", age-days "
            << days_text(aging.move_to_trash_days) << ", trash-days " << days_text(aging.purge_trash_days) << "\n";
  return 0;
}

int remove(const CommandLine& cmd, const Settings& s) {
  const auto opened = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *opened.accounts;
  const std::string& number = cmd.positionals().at(1);
  accounts.remove(number);
  std::cout << "removed mailbox " << number << "; its messages stay until 'umstore privacy erase --mailbox "
            << number << "' erases them\n";
  return 0;
}

int export_messages(const CommandLine& cmd, const Settings& s) {
  const auto opened = mailstore::open_store(s.store());
  const std::string& number = cmd.positionals().at(1);
  if (!opened.accounts->find(number)) throw std::runtime_error("no mailbox " + number);
  const std::filesystem::path file = cmd.positionals().at(2);
  const auto counts = privacy::export_mailbox(*opened.mail->user(number), file);
  std::cout << "exported " << counts.messages << " message(s) (" << counts.bytes << " bytes) of " << number << " to "
            << file.string() << "\n";
  return 0;
}

int passwd(const CommandLine& cmd, const Settings& s) {
  const auto opened = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *opened.accounts;
  const std::string& number = cmd.positionals().at(1);
  const auto [password, generated] = choose_password(cmd);
  accounts.set_password(number, password);
  std::cout << "password changed for " << number << "\n";
  if (generated) std::cout << "password for " << number << ": " << password << "\n";
  return 0;
}

}  // namespace

int run_mailbox(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--name", "--email", "--quota", "--playable", "--fax-pdf", "--file-by-kind", "--age-days", "--trash-days"},
                                             {"--password-stdin"}}));
  if (cmd.printed_help(kMailboxUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.empty()) throw UsageError("mailbox needs a subcommand: add, list, show, set, remove or passwd");
  const Settings s = load_settings(cmd);
  const std::string& sub = pos.front();
  const std::size_t wanted = sub == "list" ? 1 : sub == "export" ? 3 : 2;
  if (pos.size() != wanted)
    throw UsageError(wanted == 1   ? "mailbox list takes no arguments"
                     : wanted == 3 ? "mailbox export needs NUMBER FILE"
                                   : "mailbox " + sub + " needs one NUMBER");
  if (sub == "add") return add(cmd, s);
  if (sub == "list") return list(s);
  if (sub == "show") return show(cmd, s);
  if (sub == "set") return set(cmd, s);
  if (sub == "remove") return remove(cmd, s);
  if (sub == "passwd") return passwd(cmd, s);
  if (sub == "export") return export_messages(cmd, s);
  throw UsageError("unknown mailbox subcommand '" + sub + "': use add, list, show, set, remove, passwd or export");
}

}  // namespace umstore::app
