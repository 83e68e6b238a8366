#include "ingest/cluster_status.hpp"

#include "ingest/ingest_queue.hpp"
#include "pgsql/connection.hpp"

namespace umstore::ingest {

std::vector<NodeStatus> cluster_status(const std::string& conninfo) {
  try {
    pgsql::Connection c(conninfo);
    if (!c.exec("SELECT to_regclass('cluster_nodes') IS NOT NULL").boolean(0, 0)) return {};
    const auto r = c.exec(pgsql::with_database_clock(
        "WITH now AS (SELECT {now} AS ms)"
        " SELECT n.node_id, n.host, n.pid, n.started_ms, now.ms - n.heartbeat_ms,"
        " (SELECT count(*) FROM ingest_jobs j WHERE j.lease_owner = n.node_id AND j.state IN ('queued', 'delivering')),"
        " (SELECT count(*) FROM ingest_jobs j WHERE j.lease_owner = n.node_id AND j.state IN ('queued', 'delivering')"
        "   AND j.lease_until < now.ms),"
        " (SELECT count(*) FROM ingest_webhooks w WHERE w.lease_owner = n.node_id AND w.state = 'pending')"
        " FROM cluster_nodes n, now ORDER BY n.heartbeat_ms DESC, n.node_id"));
    std::vector<NodeStatus> nodes;
    for (int i = 0; i < r.rows(); ++i)
      nodes.push_back({r.text(i, 0), r.text(i, 1), static_cast<int>(r.integer(i, 2)), r.integer(i, 3),
                       r.integer(i, 4), static_cast<std::uint64_t>(r.integer(i, 5)),
                       static_cast<std::uint64_t>(r.integer(i, 6)), static_cast<std::uint64_t>(r.integer(i, 7))});
    return nodes;
  } catch (const pgsql::PgError& e) {
    throw IngestQueueError(std::string("cluster status: ") + e.what());
  }
}

}  // namespace umstore::ingest
