#pragma once
// A phone's (or PBX's) message-summary subscription (RFC 3842, RFC 6665):
// a NOTIFY now and after every change to the mailbox's INBOX. Lives on the
// server's strand; SUBSCRIBE itself is handled by SipEndpoint::handle_subscribe.
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

namespace umstore::sip {

struct Subscription : std::enable_shared_from_this<Subscription> {
  Subscription(std::shared_ptr<SipEndpoint> server, const SipMessage& subscribe, Peer peer);

  std::shared_ptr<SipEndpoint> server;
  Peer peer;
  std::string call_id, local_tag, number, their_from, our_from, target;
  std::vector<std::string> routes;
  std::uint32_t cseq = 0;
  std::uint32_t answered_cseq = 0;
  Clock::time_point expires_at;
  asio::steady_timer expiry;
  mailstore::FolderPtr inbox;
  mailstore::Folder::ListenerHandle listener;
  bool counting = false, recount = false, terminated = false;

  void watch();  // notify after each change to the INBOX
  void set_expiry(std::chrono::seconds seconds);
  void terminate(std::string_view reason);
  // Counting reads the mailbox: done on a worker, coalescing bursts of changes.
  void notify();
  void send_notify(const MessageCounts& counts, const std::string& state, bool with_body);
};

}  // namespace umstore::sip
