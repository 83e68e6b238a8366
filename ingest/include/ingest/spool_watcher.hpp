#pragma once
// The spool directory, for gateways that can only write files:
//   incoming/FILE + incoming/FILE.json   handed over (rename both in; the pair is taken when both exist
//                                         and neither is open for writing)
//   done/FILE, done/FILE.json            delivered
//   failed/FILE, FILE.json, FILE.error   refused or failed, FILE.error says why
// FILE.json: {"to": ..., "from": ..., "caller_name": ..., "received_at": ..., "kind": "voice"|"fax", "id": ...}.
// inotify sees new files at once; a rescan at start and every few seconds
// catches anything else. Originals stay in incoming/ until their final status.
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace umstore::ingest {

class IngestQueue;
class Router;
struct IngestStatus;

class SpoolWatcher {
 public:
  SpoolWatcher(std::filesystem::path spool_dir, IngestQueue& queue, const Router& router);
  ~SpoolWatcher();
  SpoolWatcher(const SpoolWatcher&) = delete;
  SpoolWatcher& operator=(const SpoolWatcher&) = delete;

  void start();  // creates the directories, rescans, then watches on its own thread
  void stop();

  // Moves the originals of a spool job to done/ or failed/; give it every
  // final status from the queue (others are ignored).
  void on_final(const IngestStatus& status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For a data-protection request: every FILE in incoming/, done/ and failed/
// whose FILE.json has "from": `caller_number`, removed with FILE.json and
// FILE.error; returns each FILE removed (dry_run: would remove). A pair the
// server took already is a queued job: erase it there too.
std::vector<std::filesystem::path> erase_spool_caller(const std::filesystem::path& spool_dir,
                                                      std::string_view caller_number, bool dry_run);

}  // namespace umstore::ingest
