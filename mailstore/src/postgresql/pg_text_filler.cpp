#include "pg_text_filler.hpp"

#include <chrono>

#include "common/log.hpp"
#include "pg_text_search.hpp"

namespace umstore::mailstore::pg {
namespace {
// How long a batch gathers once something arrived: short next to a person
// searching, long next to a burst of deliveries.
constexpr auto kGather = std::chrono::milliseconds(200);
}  // namespace

TextFiller::TextFiller(ConnectionPool& pool) : pool_(pool), thread_([this] { run(); }) {}

TextFiller::~TextFiller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TextFiller::queue(std::int64_t folder_id) {
  {
    std::lock_guard lock(mutex_);
    if (!pending_.insert(folder_id).second) return;
  }
  wake_.notify_all();
}

void TextFiller::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (!stopping_) wake_.wait_for(lock, kGather, [&] { return stopping_; });
    if (pending_.empty()) return;  // stopping, and nothing left to do
    std::set<std::int64_t> batch;
    batch.swap(pending_);
    lock.unlock();
    for (const std::int64_t folder_id : batch) fill(folder_id);
    lock.lock();
  }
}

// A failure leaves the text to the folder's next search (or the next
// delivery's batch): it is never the record of anything.
void TextFiller::fill(std::int64_t folder_id) {
  try {
    with_connection(pool_, [&](Connection& c) {
      fill_search_text(c, folder_id, FillScope::missing);
      return 0;
    });
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "mailstore", "search text of folder {} not computed now ({}): its next search does it",
        folder_id, e.what());
  }
}

}  // namespace umstore::mailstore::pg
