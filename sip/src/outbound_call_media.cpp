// The fax of a call we placed (outbound_call.hpp): our SDP offer (PCMU and
// PCMA; over TLS as RTP/SAVP with an SDES key unless [sip] srtp = off),
// T.30 as the calling terminal over G.711 RTP or SRTP paced at 20 ms as
// call_fax.cpp does for reception, and the switch to T.38 when the gateway
// re-INVITEs with m=image udptl t38, or (t38 = offer) when it accepts ours.
#include "net/task.hpp"
#include "outbound_call.hpp"

namespace umstore::sip {

using namespace std::chrono_literals;
using asio::ip::udp;

namespace {
constexpr std::size_t kSamplesPerPacket = 160;  // 20 ms at 8 kHz
}  // namespace

std::string OutboundCall::make_offer() {
  rtp.open(local.is_v6() ? udp::v6() : udp::v4());
  rtp.bind(udp::endpoint(local, 0));
  sdp_session = server->rng() >> 12;
  // SDES keys are only as secret as the signalling, so SRTP goes with TLS.
  if (peer.tls && server->config.srtp != SipServerConfig::Srtp::Off)
    srtp_offered = SdesCrypto{1, std::string(kSrtpSuite80), new_srtp_key()};
  return audio_offer();
}

std::string OutboundCall::audio_offer() const {
  const std::string ip = local.is_v6() ? "IP6 " : "IP4 ";
  const std::string session = std::to_string(sdp_session);
  std::string sdp = "v=0\r\no=umstore " + session + " " + session + " IN " + ip + local.to_string() +
                    "\r\ns=umstore\r\nc=IN " + ip + local.to_string() + "\r\nt=0 0\r\nm=audio " +
                    std::to_string(rtp.local_endpoint().port()) + (srtp_offered ? " RTP/SAVP" : " RTP/AVP") +
                    " 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n";
  if (srtp_offered) sdp += "a=crypto:1 " + srtp_offered->suite + " inline:" + srtp_offered->key_params + "\r\n";
  return sdp;
}

// The gateway's key for the suite we offered (RFC 4568 §7.1.3: the answer's
// tag is the offer's); false when it sent none or one we cannot use.
bool OutboundCall::start_srtp(const AudioOffer& answer) {
  for (const auto& c : answer.crypto)
    if (c.tag == srtp_offered->tag && c.suite == srtp_offered->suite) {
      srtp_in = SrtpSession::create(c.suite, c.key_params, SrtpSession::Direction::Inbound);
      srtp_out = SrtpSession::create(srtp_offered->suite, srtp_offered->key_params, SrtpSession::Direction::Outbound);
      return srtp_in && srtp_out;
    }
  return false;
}

bool OutboundCall::start_media(const SipMessage& ok) {
  const auto answer = ok.content_type() == "application/sdp" ? parse_audio_offer(ok.body()) : std::nullopt;
  if (!answer || !answer->codec || answer->port == 0 || answer->address.empty()) {
    hang_up("the gateway answered without PCMU or PCMA audio");
    return false;
  }
  std::error_code ec;
  const auto media_address = asio::ip::make_address(answer->address, ec);
  if (ec) {
    hang_up("the gateway's media address '" + answer->address + "' is not an IP address");
    return false;
  }
  if (srtp_offered && !start_srtp(*answer)) {
    hang_up("the gateway answered our SRTP offer without a usable key");
    return false;
  }
  codec = *answer->codec;
  rtp_peer = udp::endpoint(media_address, answer->port);
  try {
    sender = std::make_unique<FaxSender>(to_send());
  } catch (const std::exception& e) {
    hang_up(e.what());
    return false;
  }
  rtp_out.start(server->rng);
  last_audio = Clock::now();
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self] { return self->receive_media(); }, asio::detached);
  asio::co_spawn(server->strand, [self] { return self->send_fax_audio(); }, asio::detached);
  if (gateway.t38 == FaxGateway::T38::offer) offer_t38();
  return true;
}

// t38 = offer: we move the call to T.38 ourselves (T.38 Annex D), the
// gateway's answer says where; until it comes the fax runs over G.711.
void OutboundCall::offer_t38() {
  try {
    t38_offered = std::make_shared<T38Channel>(server->strand, local, to_send());
  } catch (const std::exception& e) {
    call_log(LogLevel::Warning, "call_id={}: cannot offer T.38 ({}): staying on G.711", call_id, e.what());
    return;
  }
  T38Answer ours;
  ours.address = local.to_string();
  ours.port = t38_offered->local_port();
  ours.session_id = sdp_session;
  ours.session_version = sdp_session + 1;
  const std::string sdp = make_t38_answer(ours);
  offer_cseq = cseq + 1;
  offer_branch = "z9hG4bK" + server->random_hex(8);
  offer_text = request_head("INVITE", remote_target, offer_branch, offer_cseq) + contact() + std::string(kAllow) +
               "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  server->send(offer_text, peer);
  auto self = shared_from_this();
  asio::co_spawn(
      server->strand,
      [self]() -> asio::awaitable<void> {
        asio::steady_timer wait(self->server->strand);
        const bool unanswered = co_await retransmit_until_answered(
            wait, [&] { return !self->t38_offered || self->state != State::Connected; },
            [&] {
              if (!self->peer.tcp) self->server->send(self->offer_text, self->peer);
            });
        if (unanswered && self->t38_offered) {
          self->call_log(LogLevel::Info, "call_id={}: no answer to our T.38 offer: staying on G.711", self->call_id);
          self->t38_offered.reset();
        }
      },
      asio::detached);
  call_log(LogLevel::Info, "call_id={}: offering T.38", call_id);
}

void OutboundCall::on_t38_answer(const SipMessage& m) {
  const int status = m.status();
  if (status < 200) return;
  if (!offer_ack.empty()) return server->send(offer_ack, peer);  // the answer again: our ACK was lost
  // A 2xx's ACK is a transaction of its own; a refusal's belongs to the INVITE's (same branch, the answer's To).
  std::string ack = request_head("ACK", remote_target, status < 300 ? "z9hG4bK" + server->random_hex(8) : offer_branch,
                                 offer_cseq);
  if (status >= 300) {
    const auto to_at = ack.find("To: ");
    ack.replace(to_at, ack.find("\r\n", to_at) - to_at, "To: " + m.to_text());
  }
  offer_ack = ack + "Content-Length: 0\r\n\r\n";
  server->send(offer_ack, peer);
  auto channel = std::move(t38_offered);
  if (!channel || state != State::Connected || t38) return;
  const auto image = status < 300 ? parse_t38_offer(m.body()) : std::nullopt;
  if (!image) {
    call_log(LogLevel::Info, "call_id={}: the gateway declined T.38 ({} {}): staying on G.711", call_id, status,
             m.reason());
    return;
  }
  std::weak_ptr<OutboundCall> weak = shared_from_this();
  try {
    channel->connect(*image, [weak] {
      if (const auto self = weak.lock(); self && self->t38) self->hang_up("fax " + self->t38->terminal().result());
    });
  } catch (const std::exception& e) {
    call_log(LogLevel::Warning, "call_id={}: the gateway's T.38 answer is unusable ({}): staying on G.711", call_id,
             e.what());
    return;
  }
  switch_to_t38(std::move(channel));
  call_log(LogLevel::Info, "call_id={}: switched to T.38 on our offer", call_id);
}

void OutboundCall::switch_to_t38(std::shared_ptr<T38Channel> channel) {
  t38 = std::move(channel);
  if (sender) sender->terminate();
  sender.reset();
  std::error_code ignored;
  rtp.close(ignored);
  result.t38 = true;
  t38->start();
}

FaxSession* OutboundCall::session() {
  if (t38) return &t38->terminal();
  return sender.get();
}

asio::awaitable<void> OutboundCall::send_fax_audio() {
  auto self = shared_from_this();
  asio::steady_timer pace(server->strand);
  auto next = Clock::now();
  while (sender && !t38 && state == State::Connected) {
    if (sender->finished()) {
      hang_up("fax " + sender->result());
      co_return;
    }
    // A gateway gone silent would leave T.30 waiting: its timers advance only with received samples.
    if (Clock::now() - last_audio > 10s) {
      hang_up("no fax audio for 10 s");
      co_return;
    }
    auto datagram = rtp_out.next(codec, sender->transmit(kSamplesPerPacket));
    if (srtp_out && !srtp_out->protect(datagram)) co_return;
    const auto [send_error, sent] = co_await rtp.async_send_to(asio::buffer(datagram), rtp_peer, net::use_nothrow);
    (void)send_error;  // a lost packet is T.30's to recover from
    (void)sent;
    next += 20ms;
    pace.expires_at(next);
    const auto [ec] = co_await pace.async_wait(net::use_nothrow);
    if (ec) co_return;
  }
}

asio::awaitable<void> OutboundCall::receive_media() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buffer(2048);
  while (state == State::Connected && rtp.is_open()) {
    udp::endpoint from;
    const auto [ec, n] = co_await rtp.async_receive_from(asio::buffer(buffer), from, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !rtp.is_open()) co_return;
      continue;
    }
    // Only the gateway's media may feed the fax.
    if (from.address() != rtp_peer.address() && from.address() != peer.address()) continue;
    std::size_t length = n;
    if (srtp_in && !srtp_in->unprotect(buffer.data(), length)) continue;  // forged, replayed or damaged
    const auto p = parse_rtp(std::span(buffer.data(), length));
    if (!p || !sender || t38 || p->payload_type != static_cast<std::uint8_t>(codec) || p->payload.size() > 1600)
      continue;
    last_audio = Clock::now();
    sender->receive(reorder.push(p->sequence, p->timestamp, decode_g711(codec, p->payload)));
  }
}

void OutboundCall::on_reinvite(const SipMessage& m) {
  if (m.cseq_number() == reinvite_cseq && !reinvite_answer.empty())  // a retransmission
    return server->send(reinvite_answer, peer);
  reinvite_cseq = m.cseq_number();
  const bool sdp = m.content_type() == "application/sdp";
  if (state == State::Connected && sdp && gateway.t38 != FaxGateway::T38::off)
    if (const auto image = parse_t38_offer(m.body())) return start_t38(m, *image);
  if (state != State::Connected || t38 || (sdp && !parse_audio_offer(m.body()))) {
    reinvite_answer = m.response(488, "Not Acceptable Here", local_tag);
  } else {  // a session refresh or hold: our media stays as it is
    reinvite_answer = m.response(200, "OK", local_tag, contact(), "application/sdp", sdp_offer);
  }
  server->send(reinvite_answer, peer);
}

// The gateway heard the fax and moves the call to T.38 (T.38 Annex D): T.30
// starts again on a T.38 terminal over UDPTL, the G.711 attempt is dropped.
void OutboundCall::start_t38(const SipMessage& reinvite, const T38Offer& image) {
  std::shared_ptr<T38Channel> channel;
  try {
    std::weak_ptr<OutboundCall> weak = shared_from_this();
    channel = std::make_shared<T38Channel>(server->strand, local, image, to_send(), [weak] {
      if (const auto self = weak.lock(); self && self->t38) self->hang_up("fax " + self->t38->terminal().result());
    });
  } catch (const std::exception& e) {
    call_log(LogLevel::Error, "call_id={}: cannot start T.38: {}", call_id, e.what());
    reinvite_answer = reinvite.response(488, "Not Acceptable Here", local_tag);
    return server->send(reinvite_answer, peer);
  }
  auto answer = channel->agreed();
  answer.session_id = sdp_session;
  answer.session_version = sdp_session + 1;
  reinvite_answer =
      reinvite.response(200, "OK", local_tag, contact(), "application/sdp", make_t38_answer(answer));
  server->send(reinvite_answer, peer);
  switch_to_t38(std::move(channel));
  call_log(LogLevel::Info, "call_id={}: switched to T.38 at the gateway's request", call_id);
}

}  // namespace umstore::sip
