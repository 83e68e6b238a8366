// umstore cluster status: the nodes sharing the PostgreSQL database, their
// heartbeats and the jobs each holds, read from the database (any node can
// answer for all of them).
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "ingest/cluster_status.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kClusterUsage = R"(usage:
  umstore --config FILE cluster status    the nodes on this database and what they hold

A node writes its heartbeat every third of [cluster] lease_seconds. One
whose heartbeat is older than the lease is gone or cut off from the
database: its jobs ("expired") are taken over by the other nodes.

Needs [store] backend = postgresql and [store] dsn in the config file.
)";

std::string age(std::int64_t ms) {
  if (ms < 10'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000);
  if (ms < 3'600'000) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}h{:02}m", ms / 3'600'000, ms / 60'000 % 60);
}

}  // namespace

int run_cluster(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kClusterUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.size() != 1 || pos[0] != "status") throw UsageError("cluster needs a subcommand: status");
  const Settings s = load_settings(cmd);
  if (s.store_backend != mailstore::StoreBackend::postgresql)
    throw UsageError("the store is Maildir, on one node ([store] backend = postgresql lets several nodes share one)");
  const auto nodes = ingest::cluster_status(s.store_dsn);
  const auto lease_ms = std::int64_t{s.lease_seconds} * 1000;
  std::cout << fmt::format("{:<16} {:<20} {:>8} {:>10} {:>6} {:>8} {:>9}  {}\n", "NODE", "HOST", "PID", "HEARTBEAT",
                           "JOBS", "EXPIRED", "WEBHOOKS", "STATE");
  for (const auto& n : nodes)
    std::cout << fmt::format("{:<16} {:<20} {:>8} {:>10} {:>6} {:>8} {:>9}  {}\n", n.node_id, n.host, n.pid,
                             age(n.heartbeat_age_ms) + " ago", n.jobs_held, n.expired_jobs, n.webhooks_held,
                             n.heartbeat_age_ms <= lease_ms ? "alive" : "gone");
  if (nodes.empty()) std::cout << "(no node has run on this database yet)\n";
  return 0;
}

}  // namespace umstore::app
