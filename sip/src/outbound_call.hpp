#pragma once
// One fax we send (SipServer::send_fax): a call we place to a gateway as the
// UAC of RFC 3261 (INVITE with Timer A over UDP, one digest retry on
// 401/407, one with plain RTP on 488 to SRTP, CANCEL when it rings too
// long, ACK, BYE either way) and the fax itself as the calling terminal,
// over G.711 RTP or, once the gateway re-INVITEs to T.38, over UDPTL.
// Lives on the endpoint's strand like Call; the gateway's responses and
// requests reach it by Call-ID (sip_server.cpp).
// Signalling is in outbound_call.cpp, media in outbound_call_media.cpp.
#include <asio.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "fax_sender.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip/fax_dialer.hpp"
#include "sip_endpoint.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"
#include "srtp_session.hpp"
#include "t38_fax.hpp"

namespace umstore::sip {

// What a gateway URI names: "sip:host[:port][;transport=udp|tcp|tls]" or
// "sips:host[:port]" (TLS, port 5061 unless given).
struct GatewayAddress {
  std::string host;  // an IPv6 address without brackets
  std::uint16_t port = 5060;
  bool port_given = false;
  bool tcp = false;   // a stream: TCP, or TLS when `tls` is set too
  bool tls = false;
  bool sips = false;  // written as sips:, so our Request-URI is too
};
std::optional<GatewayAddress> parse_gateway_uri(std::string_view uri);

// How a final answer to our INVITE counts for the queue (fax_dialer.hpp).
FaxCallOutcome outcome_of_status(int status);

struct OutboundCall : std::enable_shared_from_this<OutboundCall> {
  enum class State { Resolving, Calling, Proceeding, Cancelling, Connected, Ending, Done };

  OutboundCall(std::shared_ptr<SipEndpoint> server_, OutboundFax fax_, FaxGateway gateway_,
               std::function<void(FaxCallResult)> done_, unsigned pages_total);

  std::shared_ptr<SipEndpoint> server;
  OutboundFax fax;
  FaxGateway gateway;
  std::function<void(FaxCallResult)> done;  // emptied when called: once only
  FaxCallResult result;
  State state = State::Resolving;
  GatewayAddress address;
  Peer peer;                  // the gateway's signalling address
  asio::ip::address local;    // ours toward it: Via, Contact, SDP
  std::string call_id, local_tag, remote_tag;
  std::string request_uri;    // sip:<number>@gateway
  std::string remote_target;  // the 2xx's Contact: where in-dialog requests go
  std::vector<std::string> route_set;
  std::uint32_t cseq = 1;     // of the INVITE (one more per retry: digest, plain RTP); BYE uses the next
  std::string invite_text, invite_branch, ack_text;
  bool authenticated = false;  // the one retry with credentials was made
  std::string authorization;   // the header our INVITE carries since then
  bool cancel_answered = false;
  std::uint32_t reinvite_cseq = 0;  // the gateway's last re-INVITE, and our answer to it
  std::string reinvite_answer;
  // Our re-INVITE offering T.38 (t38 = offer): its CSeq (cseq + 1), text, branch, ACK.
  std::uint32_t offer_cseq = 0;
  std::string offer_text, offer_branch, offer_ack;
  std::shared_ptr<T38Channel> t38_offered;  // bound, waiting for the answer
  asio::ip::udp::resolver resolver;
  asio::ip::udp::socket rtp;
  asio::ip::udp::endpoint rtp_peer;
  G711 codec = G711::Pcmu;
  asio::steady_timer retransmit, ring, cap;
  std::uint64_t sdp_session = 0;
  std::string sdp_offer;
  RtpStream rtp_out;
  std::unique_ptr<FaxSender> sender;  // over G.711
  std::shared_ptr<T38Channel> t38;    // after the gateway's re-INVITE to T.38
  std::string end_reason;  // why the answered call ended, for the log
  ReorderBuffer reorder{3};            // fax is real time: hold packets only briefly
  // SRTP (SDES) over TLS: our key, offered in make_offer(); the sessions once answered.
  std::optional<SdesCrypto> srtp_offered;
  std::unique_ptr<SrtpSession> srtp_out, srtp_in;
  Clock::time_point answered_at, last_audio;
  ConnectionLog call_log{"sip", 'o'};

  // outbound_call.cpp
  void start();
  void on_response(const SipMessage& m);
  void on_request(const SipMessage& m, const Peer& from);
  void hang_up(std::string why);                     // CANCEL or BYE, the outcome from T.30
  void abandon(std::string_view why);                // the server stops: no waiting for answers
  void finish(FaxCallOutcome outcome, std::string reason = {});  // reports to `done`
  void conclude(std::string why);                    // answered call over: the outcome from T.30
  void send_invite();  // a new INVITE transaction: cseq, sdp_offer, authorization
  asio::awaitable<void> retransmit_invite(std::string branch);
  void on_answer(const SipMessage& ok);
  void on_refused(const SipMessage& m);
  void ring_out();
  std::string request_head(std::string_view method, std::string_view uri, std::string_view branch,
                           std::uint32_t number) const;
  std::string contact() const;
  FaxToSend to_send() const;

  // outbound_call_media.cpp
  std::string make_offer();  // binds the RTP socket
  std::string audio_offer() const;  // the SDP of that socket, SRTP when srtp_offered
  bool start_media(const SipMessage& ok);
  bool start_srtp(const AudioOffer& answer);
  void on_reinvite(const SipMessage& m);
  void start_t38(const SipMessage& reinvite, const T38Offer& image);
  void offer_t38();                              // our re-INVITE to T.38, once G.711 runs
  void on_t38_answer(const SipMessage& m);       // the gateway's answer to it
  void switch_to_t38(std::shared_ptr<T38Channel> channel);  // G.711 dropped, T.30 over UDPTL
  asio::awaitable<void> receive_media();
  asio::awaitable<void> send_fax_audio();
  FaxSession* session();  // the T.30 terminal running now, if any
};

}  // namespace umstore::sip
