#pragma once
// The nodes sharing one database (the PostgreSQL backend), as their
// heartbeats show them, and the work each holds: `umstore cluster status`.
#include <cstdint>
#include <string>
#include <vector>

namespace umstore::ingest {

struct NodeStatus {
  std::string node_id;
  std::string host;
  int pid = 0;
  std::int64_t started_ms = 0;           // Unix milliseconds
  std::int64_t heartbeat_age_ms = 0;     // since its last heartbeat, by the database's clock
  std::uint64_t jobs_held = 0;           // ingest jobs leased to it and not finished
  std::uint64_t expired_jobs = 0;        // of those, whose lease ran out (another node may take them)
  std::uint64_t webhooks_held = 0;
};

// Every node that ever ran on this database, oldest heartbeat last. Throws
// IngestQueueError when the database cannot be reached.
std::vector<NodeStatus> cluster_status(const std::string& conninfo);

}  // namespace umstore::ingest
