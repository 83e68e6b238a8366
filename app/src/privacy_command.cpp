// umstore privacy erase: data-protection erasure, a caller's messages in
// every mailbox (and their recordings in the ingest queue and the spool) or
// a whole mailbox, removed for real; says what it removed.
#include <iostream>

#include "commands.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/store.hpp"
#include "privacy/caller_erasure.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kPrivacyUsage = R"(usage:
  umstore [--data-dir DIR] privacy erase --caller NUMBER [--dry-run]
  umstore [--data-dir DIR] privacy erase --mailbox NUMBER [--dry-run]

--caller removes every message whose caller is NUMBER (its Caller-ID, or a
VPIM sender +NUMBER@...) from every folder of every mailbox, and the
recordings that NUMBER left which are not in a mailbox: ingest jobs
(queued, failed, or finished, with their kept originals and webhooks owed)
and spool files (incoming/, done/, failed/ whose FILE.json says "from":
NUMBER, exactly as the gateway wrote it). --mailbox
removes every message and folder of the mailbox, its greeting ([sip]
greeting_dir), then its account. Both
remove for real (files unlinked, database rows and unreferenced bodies
deleted), not into Trash, and print one line per message removed.
--dry-run prints the same without removing anything. Safe while 'umstore
serve' runs: connected IMAP clients see the messages expunged.
)";

void print(const privacy::ErasureReport& report, bool dry_run) {
  const char* verb = dry_run ? "would erase" : "erased";
  for (const auto& m : report.messages)
    std::cout << verb << " " << m.mailbox << " " << m.folder << " uid " << m.uid << " (" << m.kind
              << (m.date.empty() ? "" : ", " + m.date) << ")\n";
  for (const auto& folder : report.folders_removed) std::cout << verb << " folder " << folder << "\n";
  if (report.account_removed) std::cout << verb << " the account\n";
  std::cout << report.messages.size() << " message(s) " << (dry_run ? "would be erased" : "erased") << "\n";
}

}  // namespace

int run_privacy(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--caller", "--mailbox"}, {"--dry-run"}}));
  if (cmd.printed_help(kPrivacyUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.size() != 1 || words[0] != "erase") throw UsageError("expected: privacy erase --caller NUMBER | --mailbox NUMBER");
  const auto caller = cmd.value("--caller");
  const auto mailbox = cmd.value("--mailbox");
  if (caller.has_value() == mailbox.has_value()) throw UsageError("privacy erase needs one of --caller NUMBER or --mailbox NUMBER");
  const std::string& number = caller ? *caller : *mailbox;
  if (number.empty()) throw UsageError("the NUMBER of --caller or --mailbox is empty");
  const bool dry_run = cmd.flag("--dry-run");
  const Settings s = load_settings(cmd);
  const auto opened = mailstore::open_store(s.store());
  if (mailbox) {
    print(privacy::erase_mailbox(*opened.mail, *opened.accounts, number, dry_run), dry_run);
    if (s.sip_greeting_dir.empty()) return 0;
    const auto greeting = greeting_file(s.sip_greeting_dir, number);
    if (dry_run ? std::filesystem::exists(greeting) : std::filesystem::remove(greeting))
      std::cout << (dry_run ? "would erase" : "erased") << " greeting " << greeting.string() << "\n";
    return 0;
  }
  ingest::IngestQueue queue(s.ingest_queue(Settings::QueueOwner::command), *opened.mail);
  const auto erased = privacy::erase_caller_everywhere(s.spool_dir, queue, *opened.mail, *opened.accounts, number, dry_run);
  const char* verb = dry_run ? "would erase" : "erased";
  for (const auto& file : erased.spool_files) std::cout << verb << " spool file " << file.string() << "\n";
  for (const auto& job : erased.jobs)
    std::cout << verb << " ingest job " << job.id << " (" << job.kind << ", " << job.state << ")\n";
  print(erased.mailboxes, dry_run);
  return 0;
}

}  // namespace umstore::app
