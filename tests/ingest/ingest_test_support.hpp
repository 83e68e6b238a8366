#pragma once
// What the ingest tests share: the sample voicemail as a Recording, a queue
// configuration in a scratch directory, and a record of final statuses.
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/durable_file.hpp"
#include "ingest/ingest_queue.hpp"
#include "../mailstore/temp_dir.hpp"

namespace ingest_test {

// samples/voicemail.wav for mailbox `to`, from +15550123.
inline umstore::ingest::Recording sample_voicemail(std::string to = "+15550100") {
  umstore::ingest::Recording r;
  r.kind = umstore::ingest::Kind::Voice;
  r.to_number = std::move(to);
  r.caller.number = "+15550123";
  r.file_name = "voicemail.wav";
  const std::string bytes = umstore::read_file(std::filesystem::path(UMSTORE_SOURCE_DIR) / "samples/voicemail.wav");
  r.file.assign(bytes.begin(), bytes.end());
  return r;
}

// One worker, domain vm.example.net, queue files under dir/ingest.
inline umstore::ingest::IngestQueueConfig queue_config_in(const TempDir& dir) {
  umstore::ingest::IngestQueueConfig c;
  c.dir = dir.path() / "ingest";
  c.settings.domain = "vm.example.net";
  c.workers = 1;
  return c;
}

// Every final status the queue reports, from whichever worker thread.
// Declared after the queue, it stops the queue before going: stopping
// stores what is already composed, which reports here.
class FinalStatuses {
 public:
  explicit FinalStatuses(umstore::ingest::IngestQueue& queue) : queue_(queue) {
    queue.on_final([this](const umstore::ingest::IngestStatus& status) {
      std::lock_guard lock(mutex_);
      statuses_.push_back(status);
    });
  }
  ~FinalStatuses() { queue_.stop(); }
  FinalStatuses(const FinalStatuses&) = delete;
  FinalStatuses& operator=(const FinalStatuses&) = delete;
  std::vector<umstore::ingest::IngestStatus> all() const {
    std::lock_guard lock(mutex_);
    return statuses_;
  }

 private:
  umstore::ingest::IngestQueue& queue_;
  mutable std::mutex mutex_;
  std::vector<umstore::ingest::IngestStatus> statuses_;
};

}  // namespace ingest_test
