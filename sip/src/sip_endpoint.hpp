#pragma once
// What SipServer is underneath: the state every call and subscription shares,
// on one strand. Its jobs live in one file each:
//   sip_server.cpp          public face, start/stop and transaction dispatch
//   call_signalling.cpp     INVITE to the end of the dialog (call.hpp)
//   call_media.cpp          greeting, RTP in and out, the recording
//   call_fax.cpp            fax over G.711 and the switch to T.38
//   mwi_subscription.cpp    message-summary SUBSCRIBE and NOTIFY
//   subscription_store.cpp  subscriptions as rows, with the PostgreSQL backend
//   recording_delivery.cpp  recordings and faxes handed to the voice pipeline
//   outbound_call.cpp       faxes we send: the call we place (outbound_call.hpp)
//   outbound_call_media.cpp and its fax over G.711 or T.38
#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/log.hpp"
#include "recording_file.hpp"
#include "request_admission.hpp"
#include "sip/fax_dialer.hpp"
#include "sip/sip_metrics.hpp"
#include "sip/sip_server.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"
#include "subscription_store.hpp"

namespace umstore::sip {

using Clock = std::chrono::steady_clock;

// RFC 3261 17.1.1.1: retransmission intervals over UDP start at T1 and double up to T2.
inline constexpr std::chrono::milliseconds kT1{500};
inline constexpr std::chrono::milliseconds kT2{4000};
// Non-INVITE retransmission over UDP (RFC 3261 17.1.2.2, timer E): `resend`
// after T1, 2*T1, ... up to T2, six times, until `answered()`. True when the
// retries ran out unanswered; false when answered or `timer` was cancelled.
asio::awaitable<bool> retransmit_until_answered(asio::steady_timer& timer, std::function<bool()> answered,
                                                std::function<void()> resend);

inline constexpr std::string_view kAllow = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE\r\n";

struct Call;
struct OutboundCall;
struct Subscription;

// A fax reception that ended, as it goes to delivery.
struct FaxOutcome {
  RecordingMeta meta;
  std::filesystem::path tiff;
  unsigned pages = 0;
  std::string result;  // T.30's completion text
  bool complete = false;
};

struct SipEndpoint : std::enable_shared_from_this<SipEndpoint> {
  SipEndpoint(asio::io_context& io, SipServerConfig config, const mailstore::AccountStore& accounts,
              mailstore::MailStore& store);

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  SipServerConfig config;
  const mailstore::AccountStore& accounts;
  mailstore::MailStore& store;
  SipTransport transport;
  RequestAdmission admission;  // rate limit and digest authentication, on the strand
  asio::thread_pool workers{2};  // fsync, delivery, mailbox counts, subscription rows: blocking work off the I/O threads
  std::unordered_map<std::string, std::shared_ptr<Call>> calls;
  std::unordered_map<std::string, std::shared_ptr<OutboundCall>> outbound;  // faxes we send, by Call-ID
  std::unordered_map<std::string, std::shared_ptr<Subscription>> subscriptions;
  // The PostgreSQL backend's: subscriptions are rows too; null: in memory only.
  std::unique_ptr<SubscriptionStore> subscription_store;
  // Call-IDs whose SUBSCRIBE a worker looks up or writes, with their source.
  std::unordered_map<std::string, asio::ip::address> subscribing;
  std::unordered_map<asio::ip::address, std::size_t> subscriptions_by_address;  // of `subscriptions`
  Clock::time_point subscription_cap_logged{};   // the last refusal at a cap logged
  asio::steady_timer adoption;                  // the next look for subscriptions of stopped nodes
  bool adoption_failing = false;                // logged once until the database answers; the workers'
  std::mt19937_64 rng;
  std::vector<std::int16_t> greeting_default;
  std::atomic<std::size_t> active{0};  // calls and outbound: both count against max_calls
  SipMetrics metrics;
  bool stopped = false;

  // sip_server.cpp
  void start();
  void stop();
  void send(std::string text, const Peer& to) { transport.send(std::move(text), to); }
  void handle(std::string_view message, const Peer& source);
  void handle_request(const SipMessage& m, const Peer& from);
  void reply(const SipMessage& m, const Peer& to, int code, std::string_view reason, std::string_view extra = {});
  std::string random_hex(int bytes);  // tags and branches
  void count_calls() { active = calls.size() + outbound.size(); }
  // Over TCP the Contact says so, so the peer's requests in the dialog come over TCP too.
  std::string contact_header(const Peer& toward) const;
  bool gateway_allowed(const asio::ip::address& a) const;
  asio::ip::address media_address_toward(const asio::ip::udp::endpoint& peer) const;

  // call_signalling.cpp
  void handle_invite(const SipMessage& m, const Peer& from);
  std::optional<mailstore::Account> find_mailbox(const SipMessage& invite) const;

  // call_media.cpp: the greeting (the admin's or the built-in one) and the beep.
  std::vector<std::int16_t> prompt_for(const std::string& number) const;

  // outbound_call.cpp: on the strand, the TIFF's pages counted already.
  void dial_fax(OutboundFax fax, FaxGateway gateway, std::function<void(FaxCallResult)> done, unsigned pages_total);

  // mwi_subscription.cpp
  void handle_subscribe(const SipMessage& m, const Peer& from);
  // On a worker: the subscription a SUBSCRIBE starts, or one this node does
  // not hold found in the database; null when there is no such mailbox or row.
  std::shared_ptr<Subscription> new_subscription(const SipMessage& m, const Peer& from, const std::string& local_tag);
  std::shared_ptr<Subscription> stored_subscription(const SipMessage& m, const Peer& from);
  // 200 OK, then notifying (its row, if any, written).
  void accept_subscription(const std::shared_ptr<Subscription>& sub, const SipMessage& m, const Peer& from,
                           long expires);
  // Into `subscriptions` and out of it, counted by source address.
  void hold_subscription(const std::shared_ptr<Subscription>& sub);
  void release_subscription(const std::string& call_id);
  // 503's reason when a new subscription from `source` would pass a cap.
  std::optional<std::string> subscription_refusal(const asio::ip::address& source) const;
  // At start this node's own rows, then every lease/3 those of stopped nodes.
  void adopt_subscriptions(bool starting);
  void on_notify_response(const SipMessage& response);

  // recording_delivery.cpp: on the workers, the files removed once delivered.
  // call_log: the call's, so delivery lines carry its conn id.
  void deliver_recording(std::shared_ptr<RecordingFile> file, ConnectionLog call_log);
  void deliver_fax(FaxOutcome fax, ConnectionLog call_log);
  void deliver_leftovers();
};

// A short rising chime: the prompt when the admin set no greeting (call_media.cpp).
std::vector<std::int16_t> default_greeting();
// What a caller to a full mailbox hears before the call is hung up: the
// special information tone (ITU-T E.180: 950, 1400, 1800 Hz, "cannot be
// completed") twice.
std::vector<std::int16_t> mailbox_full_notice();

}  // namespace umstore::sip
