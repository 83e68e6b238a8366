#include "text_indexer.hpp"

#include <chrono>

#include "maildir_folder.hpp"

namespace umstore::mailstore::detail {
namespace {
// How long a batch gathers once something arrived: short next to a person
// searching, long next to a burst of deliveries.
constexpr auto kGather = std::chrono::milliseconds(200);
}  // namespace

TextIndexer::TextIndexer() : thread_([this] { run(); }) {}

TextIndexer::~TextIndexer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TextIndexer::queue(std::shared_ptr<const MaildirFolder> folder, std::span<const std::uint32_t> added,
                        std::span<const std::uint32_t> removed) {
  if (added.empty() && removed.empty()) return;
  {
    std::lock_guard lock(mutex_);
    Pending& p = pending_[std::move(folder)];
    p.added.insert(p.added.end(), added.begin(), added.end());
    p.removed.insert(p.removed.end(), removed.begin(), removed.end());
  }
  wake_.notify_all();
}

void TextIndexer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (!stopping_) wake_.wait_for(lock, kGather, [&] { return stopping_; });
    if (pending_.empty()) return;  // stopping, and nothing left to do
    PendingByFolder batch;
    batch.swap(pending_);
    lock.unlock();
    for (auto& [folder, work] : batch) folder->update_text_index(work.added, work.removed);
    batch.clear();  // the folders let go before the lock is taken again
    lock.lock();
  }
}

}  // namespace umstore::mailstore::detail
