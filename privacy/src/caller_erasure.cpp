#include "privacy/caller_erasure.hpp"

#include "ingest/spool_watcher.hpp"

namespace umstore::privacy {

CallerErasure erase_caller_everywhere(const std::filesystem::path& spool_dir, ingest::IngestQueue& queue,
                                      mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                                      std::string_view caller, bool dry_run) {
  CallerErasure erased;
  if (!spool_dir.empty()) erased.spool_files = ingest::erase_spool_caller(spool_dir, caller, dry_run);
  erased.jobs = queue.erase_caller(caller, dry_run);
  erased.mailboxes = erase_caller(store, accounts, caller, dry_run);
  return erased;
}

}  // namespace umstore::privacy
