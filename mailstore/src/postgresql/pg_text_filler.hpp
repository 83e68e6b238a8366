#pragma once
// Computes the search text of new bodies after their append has committed,
// in batches (internal to the PostgreSQL backend). Writing the text inside
// the append doubled what PostgreSQL spent per 40 KB delivery (the pg_trgm
// GIN entries of every word), and computing it held the delivering thread;
// no SMTP, IMAP or ingest client waits for either now. As on Maildir
// (text_indexer.hpp) nothing depends on it being done: a search first fills
// the folder's bodies still without text (pg_text_search.hpp). Work queued
// when the store closes is done before it closes.
//
// A body whose bytes the appending node still has is given with them: its
// text is computed from them rather than read back from the database, which
// for a voicemail moved a megabyte out of PostgreSQL again. Up to
// kHeldBytes wait in memory; past that, bodies are read back as before.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

class TextFiller {
 public:
  explicit TextFiller(ConnectionPool& pool);
  ~TextFiller();  // after filling what is queued
  TextFiller(const TextFiller&) = delete;
  TextFiller& operator=(const TextFiller&) = delete;

  // A message just stored in the folder, with its body's SHA-256 and its
  // bytes: the body gets its text from them, or (past kHeldBytes waiting)
  // the folder's bodies without text are read back and get theirs.
  void queue(std::int64_t folder_id, std::string_view sha256, std::string_view rfc822);

 private:
  static constexpr std::size_t kHeldBytes = 64u << 20;
  void run();
  void fill(std::int64_t folder_id);
  struct HeldBody {
    std::string sha256;
    std::string rfc822;
  };
  void write_texts(std::vector<HeldBody> bodies);

  ConnectionPool& pool_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::int64_t> pending_;    // folders to fill from the database
  std::vector<HeldBody> held_;        // bodies to compute the text of
  std::size_t held_bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace umstore::mailstore::pg
