#pragma once
// Keeps the Maildir folders' full-text indexes up to date off the thread
// that changed the folder, in batches (internal to the mailstore library).
// A Xapian commit rewrites every posting list block a message's terms
// touch, which costs more than the fsync'ed append itself; one thread
// gathering what arrived in the last moment commits once per folder
// instead. Nothing waits for it: a search indexes first whatever the index
// still lacks (text_index.hpp). Work pending when the store closes is done
// before it closes, so an expunge (`umstore privacy erase`) leaves no
// trace of the message in the index even when the process ends at once.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace umstore::mailstore::detail {

class MaildirFolder;

class TextIndexer {
 public:
  TextIndexer();
  ~TextIndexer();  // after finishing what is queued
  TextIndexer(const TextIndexer&) = delete;
  TextIndexer& operator=(const TextIndexer&) = delete;

  // UIDs just stored in, or removed from, `folder`. The folder is held
  // until its batch is done: the store keeps in memory a folder whose index
  // work is pending, so no removal is lost from the index.
  void queue(std::shared_ptr<const MaildirFolder> folder, std::span<const std::uint32_t> added,
             std::span<const std::uint32_t> removed);

 private:
  struct Pending {
    std::vector<std::uint32_t> added, removed;
  };
  using PendingByFolder = std::map<std::shared_ptr<const MaildirFolder>, Pending>;
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  PendingByFolder pending_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace umstore::mailstore::detail
