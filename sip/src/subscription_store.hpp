#pragma once
// Message-summary subscriptions in the PostgreSQL backend's database, so
// that they outlive the node that accepted them: table sip_subscriptions,
// created at start under an advisory lock (nodes starting together take
// turns). A row belongs to one node at a time (`owner`); the node that
// writes a row last owns it, and a node whose conditional write finds the
// row gone or taken stops serving it. A node whose heartbeat
// (cluster_nodes, written by the ingest queue's lease upkeep) is older
// than the lease has its rows adopted by the others, as its jobs are.
// Times are the database's clock, so nodes whose clocks differ agree.
//
// Every call blocks on the database: call it from a worker, never from the
// SIP strand. Failures throw pgsql::PgError.
#include <asio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgsql/connection_pool.hpp"

namespace umstore::sip {

// What a node needs to go on notifying a subscriber: the dialog (RFC 6665)
// and where its subscriber is reached.
struct StoredSubscription {
  std::string call_id, local_tag;
  std::string their_from;  // the SUBSCRIBE's From as sent (with the subscriber's tag): our NOTIFYs' To
  std::string our_from;    // the SUBSCRIBE's To without a tag: our NOTIFYs' From, with local_tag
  std::string target;      // the subscriber's Contact: our NOTIFYs' Request-URI
  std::vector<std::string> routes;
  bool tcp = false;
  asio::ip::udp::endpoint peer;  // the address and port the SUBSCRIBE came from
  std::optional<asio::ip::udp::endpoint> stream_target;  // TCP: where a new connection goes
  std::string mailbox;
  std::uint32_t cseq = 0;  // of the last NOTIFY sent
  std::chrono::milliseconds expires_in{0};  // from now
};

class SubscriptionStore {
 public:
  SubscriptionStore(const std::string& conninfo, std::string node_id, std::chrono::milliseconds lease);

  // Inserts or refreshes the row, this node its owner; a CSeq never goes back.
  void save(const StoredSubscription& s);
  // The unexpired row of a dialog this node does not hold in memory (an
  // in-dialog SUBSCRIBE that reached it), made this node's; nullopt when none.
  std::optional<StoredSubscription> take(std::string_view call_id, std::string_view local_tag);
  // Records the CSeq of the NOTIFY about to be sent; false when the row is
  // no longer this node's (another took it, or it ended).
  bool record_cseq(std::string_view call_id, std::uint32_t cseq);
  // Deletes the row if this node owns it; false when it does not.
  bool remove_if_owned(std::string_view call_id);
  // Deletes the row whoever owns it (the subscriber ended the subscription).
  void remove(std::string_view call_id);
  // At start (`starting`): this node's own rows, left by its previous run.
  // Then: rows of nodes whose heartbeat is older than the lease. At most
  // `at_most`, unexpired; rows expired for longer than a lease are deleted.
  std::vector<StoredSubscription> adopt(bool starting, std::size_t at_most);

 private:
  pgsql::ConnectionPool pool_;
  const std::string node_id_;
  const std::string lease_ms_;
};

}  // namespace umstore::sip
