#pragma once
// The SIP endpoint that gateways forward unanswered calls to: a UAS over UDP
// and TCP (RFC 3261) that answers, plays a greeting and a beep, records the caller
// over G.711 RTP and hands the recording to the voice pipeline.
#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/pipeline.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "sip/fax_dialer.hpp"

namespace umstore::sip {

struct SipEndpoint;  // the state and jobs behind SipServer (sip/src/sip_endpoint.hpp)

struct SipServerConfig {
  asio::ip::udp::endpoint listen{asio::ip::make_address("127.0.0.1"), 5060};
  // Only these addresses may INVITE (our gateways); an empty list refuses everyone.
  std::vector<asio::ip::address> allowed_gateways;
  std::size_t max_calls = 200;
  // Live message-summary subscriptions, in all and per source address (a
  // PBX subscribes for all its phones from one address); beyond: 503 with
  // Retry-After, so one source cannot fill the server's memory or the
  // database's rows.
  std::size_t max_subscriptions = 10000;
  std::size_t max_subscriptions_per_address = 2000;
  // INVITEs and SUBSCRIBEs per source address per window, so one gateway
  // gone wild cannot starve the others; beyond: 503 with Retry-After.
  std::size_t requests_per_window = 200;
  std::chrono::seconds rate_window{10};
  // SRTP (RFC 3711) keyed by SDES (RFC 4568) for calls: Off refuses
  // RTP/SAVP offers (488) and ignores keys offered with RTP/AVP; Optional
  // uses it when the offer carries a key for a suite we speak; Required
  // refuses (488) an offer without one.
  enum class Srtp { Off, Optional, Required };
  Srtp srtp = Srtp::Optional;
  // SIP over TCP on the same port number as UDP (RFC 3261 18).
  bool tcp = true;
  std::chrono::seconds tcp_idle_timeout{300};
  std::size_t max_tcp_connections = 1024;
  // SIP over TLS (RFC 3261 26.2) on its own port, with the server's certificate.
  std::optional<asio::ip::tcp::endpoint> tls_listen;
  std::shared_ptr<asio::ssl::context> tls;
  std::filesystem::path tls_client_ca;  // set: gateways must present a certificate from these CAs
  std::filesystem::path tls_ca_file;    // besides the system's, the CAs of gateways we call over TLS
  // Set: a gateway we call over TLS that asks for a client certificate gets
  // the one this puts on the connection (unset: none is sent).
  std::function<bool(SSL*)> tls_client_certificate;
  // Digest authentication (RFC 3261 22, RFC 8760) of INVITE and SUBSCRIBE,
  // on when `auth_realm` is set; the address allow-list applies as well.
  std::string auth_realm;
  std::vector<std::pair<std::string, std::string>> auth_users;  // user, password
  std::vector<std::string> auth_algorithms = {"SHA-256", "MD5"};   // challenge order
  std::chrono::seconds auth_nonce_lifetime{300};
  // Crash-safe raw recordings (<id>.pcm plus <id>.json); leftovers from a
  // crash are delivered by start().
  std::filesystem::path recordings_dir;
  // The admin's greeting WAV for a mailbox, if any; otherwise a built-in prompt.
  std::function<std::optional<std::filesystem::path>(std::string_view number)> greeting_for;
  // Mailbox for calls whose target has none; empty: answer 404.
  std::string catch_all_mailbox;
  // Without a catch-all: a call for an E.164 number with no mailbox here is
  // answered all the same, and its voicemail or fax follows the number's
  // ENUM route (the ingest queue's enum_address; [enum] domains are set).
  bool enum_for_unknown = false;
  // Called (on a worker thread, may block) with each finished recording.
  std::function<void(ingest::Recording)> deliver;
  std::chrono::milliseconds answer_delay{0};     // ring this long before answering (lets CANCEL arrive)
  std::chrono::seconds max_recording{180};
  std::chrono::seconds max_silence{10};          // silence or no RTP this long ends the recording
  std::string user_agent = "umstore";
  // The PostgreSQL backend's database: message-summary subscriptions are
  // kept there too, and this node (`node_id`) sends the NOTIFYs of those
  // whose node's heartbeat is older than `subscription_lease`. Empty: in
  // memory only (a restart loses them; phones subscribe again).
  std::string subscriptions_dsn;
  std::string node_id;
  std::chrono::milliseconds subscription_lease{30000};
};

class SipServer {
 public:
  SipServer(asio::io_context& io, SipServerConfig config, const mailstore::AccountStore& accounts,
            mailstore::MailStore& store);
  ~SipServer();
  SipServer(const SipServer&) = delete;
  SipServer& operator=(const SipServer&) = delete;

  void start();
  // SIGHUP: the per-source request limit changes for the next INVITE or
  // SUBSCRIBE. Thread-safe (runs on the endpoint's strand).
  void set_rate_limit(std::size_t requests_per_window, std::chrono::seconds window);
  // Ends every call (BYE), delivers what was recorded and closes the socket.
  void stop();
  asio::ip::udp::endpoint local_endpoint() const;
  std::optional<asio::ip::tcp::endpoint> tls_endpoint() const;
  std::size_t active_calls() const;
  void append_metrics(std::string& out) const;  // umstore_sip_* for /metrics
  // Calls `gateway` and sends the fax as the calling terminal (T.30 over
  // G.711, or T.38 when the gateway switches). Thread-safe; `done` is called
  // exactly once, on a worker thread, also when the server stops first.
  void send_fax(OutboundFax fax, FaxGateway gateway, std::function<void(FaxCallResult)> done);

 private:
  std::shared_ptr<SipEndpoint> endpoint_;
};

}  // namespace umstore::sip
