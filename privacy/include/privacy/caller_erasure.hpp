#pragma once
// A caller's data erased everywhere umstore keeps it, for a data-protection
// request: the spool's files first, then the ingest queue's jobs, then the
// mailboxes' messages, so each step removes what the one before could still
// have handed on to it. `umstore privacy erase --caller` and the console
// both run this.
#include <filesystem>
#include <string_view>
#include <vector>

#include "ingest/ingest_queue.hpp"
#include "privacy/erasure.hpp"

namespace umstore::privacy {

struct CallerErasure {
  std::vector<std::filesystem::path> spool_files;
  std::vector<ingest::ErasedJob> jobs;
  ErasureReport mailboxes;
};

// `spool_dir` empty: no spool. dry_run: reports what it would remove.
CallerErasure erase_caller_everywhere(const std::filesystem::path& spool_dir, ingest::IngestQueue& queue,
                                      mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                                      std::string_view caller, bool dry_run);

}  // namespace umstore::privacy
