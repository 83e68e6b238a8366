#include "pg_change_feed.hpp"

#include <poll.h>

#include <charconv>
#include <vector>

#include "common/log.hpp"
#include "pg_connection_pool.hpp"
#include "pg_mail_tables.hpp"

namespace umstore::mailstore::pg {
namespace {
constexpr int kPollMilliseconds = 500;  // how soon a stop is noticed
constexpr auto kReconnectPause = std::chrono::seconds(1);
}  // namespace

ChangeFeed::ChangeFeed(std::string conninfo) : conninfo_(std::move(conninfo)), thread_([this] { run(); }) {}

ChangeFeed::~ChangeFeed() {
  stopping_ = true;
  thread_.join();
}

std::shared_ptr<FolderSignals> ChangeFeed::signals(std::int64_t folder_id) {
  std::lock_guard lock(mutex_);
  auto& slot = folders_[folder_id];
  auto existing = slot.lock();
  if (existing) return existing;
  auto created = std::make_shared<FolderSignals>();
  slot = created;
  return created;
}

void ChangeFeed::dispatch(std::int64_t folder_id) {
  std::shared_ptr<FolderSignals> target;
  {
    std::lock_guard lock(mutex_);
    const auto it = folders_.find(folder_id);
    if (it == folders_.end()) return;
    target = it->second.lock();
    if (!target) folders_.erase(it);
  }
  if (target) target->changed();
}

void ChangeFeed::dispatch_all() {
  std::vector<std::shared_ptr<FolderSignals>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto it = folders_.begin(); it != folders_.end();) {
      if (auto s = it->second.lock()) {
        all.push_back(std::move(s));
        ++it;
      } else {
        it = folders_.erase(it);
      }
    }
  }
  for (const auto& s : all) s->changed();
}

void ChangeFeed::run() {
  bool reconnected = false;
  while (!stopping_) {
    try {
      Connection c(conninfo_);
      c.listen(kFolderChannel);
      if (reconnected) dispatch_all();
      reconnected = true;
      while (!stopping_) {
        pollfd p{c.socket(), POLLIN, 0};
        if (::poll(&p, 1, kPollMilliseconds) < 0) continue;
        for (const auto& n : c.take_notifications()) {
          std::int64_t id = 0;
          std::from_chars(n.payload.data(), n.payload.data() + n.payload.size(), id);
          dispatch(id);
        }
      }
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "mailstore", "change notifications interrupted, reconnecting: {}", e.what());
      for (auto waited = std::chrono::milliseconds(0); waited < kReconnectPause && !stopping_;
           waited += std::chrono::milliseconds(100))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace umstore::mailstore::pg
