#pragma once
// What the parts of the ingest queue share: a job as loaded from the job
// database, a job with its composed message (or why none),
// and the queue's clock and log component.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/log.hpp"
#include "ingest/pipeline.hpp"

namespace umstore::ingest {

inline constexpr std::string_view kQueueLog = "ingest";
using QueueClock = std::chrono::system_clock;

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(QueueClock::now().time_since_epoch()).count();
}

inline std::string_view kind_name(Kind kind) { return kind == Kind::Voice ? "voice" : "fax"; }

// A job that cannot record its outcome stays queued on disk and resumes after a restart.
template <typename Step>
void with_outcome_errors_logged(const std::string& id, Step&& step) {
  try {
    step();
  } catch (const std::exception& e) {
    log(LogLevel::Error, kQueueLog, "id={}: cannot record the outcome: {}", id, e.what());
  }
}

struct QueuedJob {
  Recording recording;              // file: the queued bytes, once read
  std::string source;
  std::int64_t accepted_ms = 0;
  std::string state;                // queued, delivering, delivered, failed
  std::size_t attempts = 0;         // temporary failures so far
};

struct ComposedJob {
  std::string id;
  QueuedJob job;
  ComposeOutcome outcome;
};

}  // namespace umstore::ingest
