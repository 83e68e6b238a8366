#include "subscription_store.hpp"

#include "common/log.hpp"
#include "common/parse_number.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"

namespace umstore::sip {
namespace {

using pgsql::Connection;
using pgsql::IntParam;
using pgsql::Param;
using pgsql::Result;

// IF NOT EXISTS: every node runs this at start.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sip_subscriptions (
  call_id       text PRIMARY KEY,
  local_tag     text NOT NULL,
  their_from    text NOT NULL,
  our_from      text NOT NULL,
  target        text NOT NULL,
  routes        text NOT NULL,           -- the route set, as a Route header's value
  transport     text NOT NULL,           -- udp or tcp
  peer          text NOT NULL,           -- address:port the SUBSCRIBE came from
  stream_target text NOT NULL,           -- tcp: address:port to connect to, or ''
  mailbox       text NOT NULL,
  cseq          bigint NOT NULL,         -- of the last NOTIFY sent
  expires_ms    bigint NOT NULL,         -- database clock
  owner         text NOT NULL            -- the node sending its NOTIFYs
);
CREATE INDEX IF NOT EXISTS sip_subscriptions_owner ON sip_subscriptions (owner);
CREATE INDEX IF NOT EXISTS sip_subscriptions_expiry ON sip_subscriptions (expires_ms);
)sql";
// Any constant, apart from the mail schema's and the queues': nodes starting at once take turns.
constexpr std::string_view kSchemaLock = "SELECT pg_advisory_xact_lock(7220918)";

constexpr std::string_view kColumns =
    "call_id, local_tag, their_from, our_from, target, routes, transport, peer, stream_target, mailbox, cseq,"
    " expires_ms - {now}";

std::string sql(std::string_view text) { return pgsql::with_database_clock(text); }

// The route set as one Route header value: what record_routes() split it from.
std::string route_header(const std::vector<std::string>& routes) {
  std::string out;
  for (const auto& route : routes) out += (out.empty() ? "" : ", ") + route;
  return out;
}

std::optional<asio::ip::udp::endpoint> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(text.substr(0, colon)), ec);
  const auto port = parse_number<std::uint16_t>(text.substr(colon + 1));
  if (ec || !port) return std::nullopt;
  return asio::ip::udp::endpoint(address, *port);
}

std::vector<StoredSubscription> rows_of(const Result& r) {
  std::vector<StoredSubscription> out;
  for (int i = 0; i < r.rows(); ++i) {
    const auto peer = parse_endpoint(r.view(i, 7));
    if (!peer) {
      log(LogLevel::Warning, "sip", "subscription {} in the database has no usable address '{}': skipped",
          r.view(i, 0), r.view(i, 7));
      continue;
    }
    StoredSubscription s;
    s.call_id = r.text(i, 0);
    s.local_tag = r.text(i, 1);
    s.their_from = r.text(i, 2);
    s.our_from = r.text(i, 3);
    s.target = r.text(i, 4);
    if (!r.view(i, 5).empty()) s.routes = split_header_list(r.view(i, 5));
    s.tcp = r.view(i, 6) == "tcp";
    s.peer = *peer;
    s.stream_target = parse_endpoint(r.view(i, 8));
    s.mailbox = r.text(i, 9);
    s.cseq = static_cast<std::uint32_t>(r.integer(i, 10));
    s.expires_in = std::chrono::milliseconds(r.integer(i, 11));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

SubscriptionStore::SubscriptionStore(const std::string& conninfo, std::string node_id,
                                     std::chrono::milliseconds lease)
    : pool_(conninfo, 2), node_id_(std::move(node_id)), lease_ms_(std::to_string(lease.count())) {
  auto c = pool_.lease();
  pgsql::Transaction t(*c);
  c->exec(kSchemaLock);
  c->exec(kSchema);
  t.commit();
}

void SubscriptionStore::save(const StoredSubscription& s) {
  const IntParam cseq(s.cseq), expires(s.expires_in.count());
  const std::string peer = endpoint_text(s.peer), routes = route_header(s.routes);
  const std::string stream_target = s.stream_target ? endpoint_text(*s.stream_target) : std::string();
  pool_.lease()->exec(
      sql("INSERT INTO sip_subscriptions (call_id, local_tag, their_from, our_from, target, routes, transport, peer,"
          " stream_target, mailbox, cseq, expires_ms, owner)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {now} + $12, $13)"
          " ON CONFLICT (call_id) DO UPDATE SET transport = $7, peer = $8, stream_target = $9,"
          " cseq = GREATEST(sip_subscriptions.cseq, $11), expires_ms = {now} + $12, owner = $13"),
      {Param::text(s.call_id), Param::text(s.local_tag), Param::text(s.their_from), Param::text(s.our_from),
       Param::text(s.target), Param::text(routes), Param::text(s.tcp ? "tcp" : "udp"), Param::text(peer),
       Param::text(stream_target), Param::text(s.mailbox), cseq, expires, Param::text(node_id_)});
}

std::optional<StoredSubscription> SubscriptionStore::take(std::string_view call_id, std::string_view local_tag) {
  auto rows = rows_of(pool_.lease()->exec(
      sql("UPDATE sip_subscriptions SET owner = $3 WHERE call_id = $1 AND local_tag = $2 AND expires_ms > {now}"
          " RETURNING " + std::string(kColumns)),
      {Param::text(call_id), Param::text(local_tag), Param::text(node_id_)}));
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

bool SubscriptionStore::record_cseq(std::string_view call_id, std::uint32_t cseq) {
  return pool_.lease()
             ->exec("UPDATE sip_subscriptions SET cseq = GREATEST(cseq, $3) WHERE call_id = $1 AND owner = $2",
                    {Param::text(call_id), Param::text(node_id_), IntParam(cseq)})
             .affected() > 0;
}

bool SubscriptionStore::remove_if_owned(std::string_view call_id) {
  return pool_.lease()
             ->exec("DELETE FROM sip_subscriptions WHERE call_id = $1 AND owner = $2",
                    {Param::text(call_id), Param::text(node_id_)})
             .affected() > 0;
}

void SubscriptionStore::remove(std::string_view call_id) {
  pool_.lease()->exec("DELETE FROM sip_subscriptions WHERE call_id = $1", {Param::text(call_id)});
}

// SKIP LOCKED: nodes adopting at the same moment take different rows and
// never wait for each other. A node is stale by the rule its jobs' leases
// follow: no heartbeat for a lease. The stale nodes are found first, so
// only their rows are read (the owner index), not every subscription.
std::vector<StoredSubscription> SubscriptionStore::adopt(bool starting, std::size_t at_most) {
  auto c = pool_.lease();
  c->exec(sql("DELETE FROM sip_subscriptions WHERE expires_ms < {now} - $1"), {Param::text(lease_ms_)});
  if (at_most == 0) return {};
  const Result r = c->exec(
      sql("WITH stale AS (SELECT s.call_id, s.owner FROM sip_subscriptions s WHERE s.expires_ms > {now} AND"
          " s.owner IN (SELECT $1::text WHERE $4::boolean UNION ALL SELECT node_id FROM cluster_nodes WHERE NOT $4"
          " AND node_id <> $1 AND heartbeat_ms < {now} - $2)"
          " LIMIT $3 FOR UPDATE OF s SKIP LOCKED),"
          " taken AS (UPDATE sip_subscriptions s SET owner = $1 FROM stale WHERE s.call_id = stale.call_id"
          " RETURNING s.*, stale.owner AS previous)"
          " SELECT " + std::string(kColumns) + ", previous FROM taken"),
      {Param::text(node_id_), Param::text(lease_ms_), IntParam(static_cast<std::int64_t>(at_most)),
       Param::text(starting ? "true" : "false")});
  for (int i = 0; i < r.rows(); ++i)
    if (r.view(i, 12) != node_id_)
      log(LogLevel::Info, "sip", "subscription {} for {}: taken over from node {}, whose heartbeat stopped",
          r.view(i, 0), r.view(i, 9), r.view(i, 12));
  return rows_of(r);
}

}  // namespace umstore::sip
