#include "pg_text_filler.hpp"

#include <algorithm>
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

void TextFiller::queue(std::int64_t folder_id, std::string_view sha256, std::string_view rfc822) {
  {
    std::lock_guard lock(mutex_);
    if (held_bytes_ + rfc822.size() > kHeldBytes) {
      pending_.insert(folder_id);
    } else {
      held_.push_back({std::string(sha256), std::string(rfc822)});
      held_bytes_ += rfc822.size();
    }
  }
  wake_.notify_all();
}

void TextFiller::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty() || !held_.empty(); });
    if (!stopping_) wake_.wait_for(lock, kGather, [&] { return stopping_; });
    if (pending_.empty() && held_.empty()) return;  // stopping, and nothing left to do
    std::set<std::int64_t> batch;
    batch.swap(pending_);
    std::vector<HeldBody> bodies;
    bodies.swap(held_);
    held_bytes_ = 0;
    lock.unlock();
    if (!bodies.empty()) write_texts(std::move(bodies));
    for (const std::int64_t folder_id : batch) fill(folder_id);
    lock.lock();
  }
}

// Each body's row by its SHA-256, in that order (as fill_search_text locks
// them, so the two never deadlock); only where no text is there yet. One
// transaction without waiting for the WAL flush: the text can always be
// computed again, and a search does so for a body without it.
void TextFiller::write_texts(std::vector<HeldBody> bodies) {
  std::vector<std::pair<std::string, std::string>> rows;  // (sha256, text)
  for (HeldBody& body : bodies) rows.emplace_back(std::move(body.sha256), search_text(body.rfc822));
  std::sort(rows.begin(), rows.end());
  try {
    with_connection(pool_, [&](Connection& c) {
      Transaction t(c);
      c.exec("SET LOCAL synchronous_commit = off");
      for (const auto& [sha, text] : rows)
        c.exec("UPDATE bodies SET search_text = $2 WHERE sha256 = $1 AND search_text IS NULL",
               {Param::bytes(sha), Param::text(text)});
      t.commit();
      return 0;
    });
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "mailstore", "search text of {} new bodies not written now ({}): their next search does it",
        rows.size(), e.what());
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
