// umstore index rebuild [NUMBER]: builds the full-text index of every
// folder of one mailbox, or of all, again from the messages. Safe while
// the server runs: each folder's new index is built beside the old one and
// swapped in. Never needed for correct answers (a missing or damaged index
// is rebuilt by the next search); it moves that work out of a search.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "mailstore/store.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kIndexUsage = R"(usage:
  umstore index rebuild [NUMBER]    build the full-text index (IMAP SEARCH BODY/TEXT) of every folder again

Without NUMBER, every mailbox. Safe while the server runs. With the
PostgreSQL backend: creates the pg_trgm index when it is missing and
computes every body's searchable text again.
)";

}  // namespace

int run_index(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kIndexUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.empty() || pos.size() > 2 || pos[0] != "rebuild") throw UsageError("index needs a subcommand: rebuild [NUMBER]");
  const Settings s = load_settings(cmd);
  if (!s.store_fulltext_index) throw UsageError("the full-text index is off ([store] fulltext_index = false)");
  const auto opened = mailstore::open_store(s.store());
  std::vector<std::string> numbers;
  if (pos.size() == 2) {
    if (!opened.accounts->find(pos[1])) throw mailstore::AccountError("there is no account for " + pos[1]);
    numbers.push_back(pos[1]);
  } else {
    for (const auto& account : opened.accounts->list()) numbers.push_back(account.number);
  }
  for (const auto& number : numbers) {
    const auto mailbox = opened.mail->user(number);
    for (const auto& entry : mailbox->list()) {
      const std::size_t indexed = mailbox->open(entry.name)->rebuild_text_index();
      std::cout << fmt::format("{} {}: {} messages indexed\n", number, entry.name, indexed);
    }
  }
  return 0;
}

}  // namespace umstore::app
