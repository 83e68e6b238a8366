#pragma once
// One forwarded call, from INVITE to the delivered recording. Lives on the
// server's strand; every coroutine holds a shared_ptr to it. Its signalling
// is in call_signalling.cpp, its media in call_media.cpp, fax in call_fax.cpp.
#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.hpp"
#include "fax_receiver.hpp"
#include "mailstore/account_store.hpp"
#include "recording_file.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_endpoint.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"
#include "srtp_session.hpp"
#include "t38_fax.hpp"

namespace umstore::sip {

inline constexpr std::size_t kSamplesPerPacket = 160;  // 20 ms at 8 kHz

struct Call : std::enable_shared_from_this<Call> {
  enum class State { Ringing, AwaitingAck, Connected, Ending, Done };

  Call(std::shared_ptr<SipEndpoint> server_, SipMessage invite_, Peer peer_)
      : server(std::move(server_)),
        invite(std::move(invite_)),
        peer(std::move(peer_)),
        rtp(server->strand),
        timer(server->strand),
        retransmit(server->strand),
        watchdog(server->strand) {}

  std::shared_ptr<SipEndpoint> server;
  SipMessage invite;
  Peer peer;
  std::string local_tag;
  State state = State::Ringing;
  mailstore::Account mailbox;
  AudioOffer offer;
  G711 codec = G711::Pcmu;
  asio::ip::udp::socket rtp;
  asio::ip::udp::endpoint rtp_peer;
  asio::steady_timer timer, retransmit, watchdog;
  std::string final_response;
  std::string sdp_answer;
  std::vector<std::int16_t> prompt;
  std::shared_ptr<RecordingFile> recording;
  ReorderBuffer reorder;
  bool recording_active = false;
  bool mailbox_full = false;  // by quota when the call came: the notice, then BYE; nothing recorded
  Clock::time_point last_voice;
  std::uint64_t max_samples = 0;
  std::string end_reason;
  RecordingMeta meta;
  RtpStream rtp_out;
  std::optional<SdesCrypto> their_key;  // SRTP: the gateway's key (from the offer)
  std::unique_ptr<SrtpSession> srtp_in, srtp_out;
  std::unique_ptr<CngDetector> cng;
  std::unique_ptr<FaxReceiver> fax;
  ReorderBuffer fax_reorder{3};  // fax is real time: hold packets only briefly
  Clock::time_point last_fax_audio;  // spandsp's T.30 timers only run on received audio
  std::shared_ptr<T38Channel> t38;  // after the gateway's re-INVITE to T.38
  std::string t38_answer;
  std::uint64_t sdp_session = 0;
  ConnectionLog call_log{"sip", 'c'};  // every line about this call carries its conn id

  bool ended() const { return state == State::Ending || state == State::Done; }

  // call_signalling.cpp
  void answer_after_delay();
  void answer();
  void on_ack();
  void on_cancel(const SipMessage& cancel);
  void on_bye(const SipMessage& bye);
  void on_bye_answered();
  void on_reinvite(const SipMessage& reinvite);
  void hang_up(std::string reason);  // we end the call: BYE
  void finish(std::string reason);   // the call is over: stop media, deliver
  asio::awaitable<void> retransmit_final();
  std::string bye_request(std::string_view branch) const;

  // call_media.cpp
  asio::awaitable<void> play_prompt();
  asio::awaitable<void> receive_media();
  asio::awaitable<void> watch_recording();
  asio::awaitable<void> send_packet(std::span<const std::int16_t> samples, bool marker);
  void on_rtp(const RtpPacket& p);
  void record(std::span<const std::int16_t> samples);  // what fits in max_samples
  void finish_recording(const std::string& reason);

  // call_fax.cpp
  void start_fax();
  void start_t38(const SipMessage& reinvite, const T38Offer& image);
  void keep_pages_durable(FaxSession& session, const std::string& id);
  asio::awaitable<void> send_fax_audio();
  void on_fax_audio(std::vector<std::int16_t> samples, const RtpPacket& p);
  void finish_fax(const std::string& reason);
};

}  // namespace umstore::sip
