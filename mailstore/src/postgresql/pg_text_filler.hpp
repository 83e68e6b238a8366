#pragma once
// Computes the search text of new bodies after their append has committed,
// in batches (internal to the PostgreSQL backend). Writing the text inside
// the append doubled what PostgreSQL spent per 40 KB delivery (the pg_trgm
// GIN entries of every word), and computing it held the delivering thread;
// no SMTP, IMAP or ingest client waits for either now. As on Maildir
// (text_indexer.hpp) nothing depends on it being done: a search first fills
// the folder's bodies still without text (pg_text_search.hpp). Work queued
// when the store closes is done before it closes.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

class TextFiller {
 public:
  explicit TextFiller(ConnectionPool& pool);
  ~TextFiller();  // after filling what is queued
  TextFiller(const TextFiller&) = delete;
  TextFiller& operator=(const TextFiller&) = delete;

  // The folder just got messages whose bodies may lack their text.
  void queue(std::int64_t folder_id);

 private:
  void run();
  void fill(std::int64_t folder_id);

  ConnectionPool& pool_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::int64_t> pending_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace umstore::mailstore::pg
