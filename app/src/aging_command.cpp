// umstore aging run [NUMBER]: message aging now, for every mailbox or one.
#include <iostream>

#include "admin/admin_store.hpp"
#include "common/log.hpp"
#include "commands.hpp"
#include "message_aging_job.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kAgingUsage = R"(usage:
  umstore [--config FILE] [--data-dir DIR] aging run [NUMBER]

Runs message aging now, as 'umstore serve' does every [aging]
interval_seconds: voice and fax messages in INBOX, Voicemail and Fax saved
more than the mailbox's --age-days ago (else [aging] move_to_trash_days)
move to Trash, and messages in Trash saved more than --trash-days ago (else
[aging] purge_trash_days) are removed for good; 0 days is never. Other mail
is never moved. Every message moved or removed is logged, and the run is
written to the admin audit log. With NUMBER only that mailbox is aged.
Safe while 'umstore serve' runs: connected IMAP clients see the changes.
)";

}  // namespace

int run_aging(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kAgingUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.empty() || words[0] != "run" || words.size() > 2) throw UsageError("expected: aging run [NUMBER]");
  const Settings s = load_settings(cmd);
  set_log_redact_numbers(s.log_redact_numbers);
  const auto opened = mailstore::open_store(s.store());
  const auto audit = open_admin_store(s);
  const auto report =
      run_aging_once(*opened.mail, *opened.accounts, s.aging, audit.get(), words.size() == 2 ? words[1] : "");
  std::cout << report.mailboxes << " mailbox(es) with aging: moved " << report.moved << " to Trash, purged "
            << report.purged << " from Trash\n";
  for (const auto& failure : report.failures)
    std::cout << "not aged: " << failure.number << ": " << failure.reason << "\n";
  return report.failures.empty() ? 0 : 1;
}

}  // namespace umstore::app
