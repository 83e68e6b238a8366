#pragma once
// A phone's (or PBX's) message-summary subscription (RFC 3842, RFC 6665):
// a NOTIFY now and after every change to the mailbox's INBOX. Lives on the
// server's strand; SUBSCRIBE itself is handled by SipEndpoint::handle_subscribe.
// With the PostgreSQL backend each one is also a row (subscription_store.hpp)
// written before SUBSCRIBE is answered, so another node can go on with it.
#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/folder.hpp"
#include "message_summary.hpp"
#include "sip_endpoint.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"
#include "subscription_store.hpp"

namespace umstore::sip {

struct Subscription : std::enable_shared_from_this<Subscription> {
  Subscription(std::shared_ptr<SipEndpoint> server, const SipMessage& subscribe, Peer peer);
  // One another node (or this node's previous run) accepted, from the database.
  Subscription(std::shared_ptr<SipEndpoint> server, const StoredSubscription& row);

  std::shared_ptr<SipEndpoint> server;
  Peer peer;
  asio::ip::address source;  // the address it is counted against (peer's may change on refresh)
  std::string call_id, local_tag, number, their_from, our_from, target;
  std::vector<std::string> routes;
  std::uint32_t cseq = 0;
  std::uint32_t answered_cseq = 0;
  Clock::time_point expires_at;
  asio::steady_timer expiry;
  mailstore::FolderPtr inbox;
  mailstore::Folder::ListenerHandle listener;
  bool counting = false, recount = false, terminated = false;

  StoredSubscription record(std::chrono::milliseconds expires_in) const;
  void watch();  // notify after each change to the INBOX
  void set_expiry(std::chrono::milliseconds from_now);
  void expire();  // its time ran out: ends it, unless another node took it (then forget)
  void terminate(std::string_view reason);
  // Stops serving it without a word: another node does now, or this one stops.
  void forget();
  // Counting reads the mailbox: done on a worker, coalescing bursts of
  // changes. With a database, the NOTIFY's CSeq is recorded first, and a
  // row found to be another node's is forgotten instead of notified.
  void notify();
  void send_notify(const MessageCounts& counts, const std::string& state, bool with_body);
};

}  // namespace umstore::sip
