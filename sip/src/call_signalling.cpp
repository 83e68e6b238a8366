// A call's SIP dialog (RFC 3261): the INVITE accepted or refused, ringing,
// the answer and its retransmission until ACK, CANCEL, BYE either way, and
// re-INVITEs (the one to T.38 is call_fax.cpp's).
#include "call.hpp"
#include "call_routing.hpp"
#include "common/log.hpp"
#include "mailstore/mail_store.hpp"
#include "net/task.hpp"

namespace umstore::sip {

using asio::ip::udp;

void SipEndpoint::handle_invite(const SipMessage& m, const Peer& from) {
  if (!gateway_allowed(from.address())) {
    log(LogLevel::Warning, "sip", "INVITE from {} refused: not an allowed gateway", endpoint_text(from));
    return reply(m, from, 403, "Forbidden");
  }
  if (stopped) return reply(m, from, 503, "Service Unavailable", "Retry-After: 30\r\n");
  if (const auto refusal = admission.check(m, from.address()))
    return reply(m, from, refusal->code, refusal->reason, refusal->headers);
  if (calls.size() + outbound.size() >= config.max_calls) return reply(m, from, 486, "Busy Here");
  const auto mailbox = find_mailbox(m);
  if (!mailbox) {
    log(LogLevel::Info, "sip", "INVITE {} from {}: no such mailbox", m.request_uri_user(), endpoint_text(from));
    return reply(m, from, 404, "Not Found");
  }
  const auto offer = m.content_type() == "application/sdp" ? parse_audio_offer(m.body()) : std::nullopt;
  if (!offer || !offer->codec || offer->port == 0 || offer->address.empty())
    return reply(m, from, 488, "Not Acceptable Here", "Warning: 304 umstore \"PCMU or PCMA audio required\"\r\n");
  // SRTP by SDES: the first offered key of a suite we speak, as [sip] srtp allows.
  std::optional<SdesCrypto> their_key;
  if (config.srtp != SipServerConfig::Srtp::Off)
    for (const auto& c : offer->crypto)
      if (srtp_suite_supported(c.suite) && SrtpSession::create(c.suite, c.key_params, SrtpSession::Direction::Inbound)) {
        their_key = c;
        break;
      }
  if (!their_key && (offer->savp || config.srtp == SipServerConfig::Srtp::Required)) {
    log(LogLevel::Info, "sip", "INVITE {} from {}: refused, {}", m.request_uri_user(), endpoint_text(from),
        offer->savp ? "SRTP offered without a usable key" : "SRTP required and not offered");
    return reply(m, from, 488, "Not Acceptable Here",
                 "Warning: 305 umstore \"SRTP with an SDES key for AES_CM_128_HMAC_SHA1_80 or _32 required\"\r\n");
  }

  auto call = std::make_shared<Call>(shared_from_this(), m, from);
  call->local_tag = random_hex(6);
  call->mailbox = *mailbox;
  call->offer = *offer;
  call->codec = *offer->codec;
  call->their_key = their_key;
  calls.emplace(m.call_id(), call);
  count_calls();
  send(m.response(100, "Trying", {}), from);
  send(m.response(180, "Ringing", call->local_tag), from);
  call->call_log(LogLevel::Info, "call_id={} for {} from {} ({}{}{})", m.call_id(), mailbox->number, caller_of(m).number,
      endpoint_text(from), from.tls ? ", SIP over TLS" : "", their_key ? ", SRTP " + their_key->suite : std::string());
  call->answer_after_delay();
}

std::optional<mailstore::Account> SipEndpoint::find_mailbox(const SipMessage& invite) const {
  const auto candidates = mailbox_candidates(invite);
  for (const auto& number : candidates)
    if (auto account = accounts.find(number)) return account;
  if (!config.catch_all_mailbox.empty()) return accounts.find(config.catch_all_mailbox);
  // The first candidate is whose message it is (the diverting party, if any).
  if (config.enum_for_unknown && !candidates.empty()) return mailstore::Account{candidates.front(), "", "", 0};
  return std::nullopt;
}

void Call::answer_after_delay() {
  // Whether the mailbox is full is a store read: on the workers, while it rings.
  asio::post(server->workers, [self = shared_from_this(), number = mailbox.number] {
    bool full = false;
    try {
      // A number routed by ENUM has no mailbox here, so no quota either.
      full = self->server->accounts.find(number) &&
             mailstore::first_full(self->server->store.user(number)->quota(), true).has_value();
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "quota of {} unknown, taking the call: {}", number, e.what());
    }
    asio::post(self->server->strand, [self, full] {
      self->mailbox_full = full;
      self->timer.expires_after(self->server->config.answer_delay);
      self->timer.async_wait([self](const std::error_code& ec) {
        if (!ec && self->state == State::Ringing) self->answer();
      });
    });
  });
}

void Call::answer() {
  try {
    const auto local = server->media_address_toward(peer);
    rtp.open(local.is_v6() ? udp::v6() : udp::v4());
    rtp.bind(udp::endpoint(local, 0));
    rtp_peer = udp::endpoint(asio::ip::make_address(offer.address), offer.port);
    AudioAnswer a;
    a.address = local.to_string();
    a.port = rtp.local_endpoint().port();
    a.codec = codec;
    a.telephone_event_pt = offer.telephone_event_pt;
    a.session_id = sdp_session = server->rng() >> 12;
    if (their_key) {
      // Our own key for what we send, in the suite the gateway chose (RFC 4568 §6.1).
      a.crypto = SdesCrypto{their_key->tag, their_key->suite, new_srtp_key()};
      a.savp = offer.savp;
      srtp_in = SrtpSession::create(their_key->suite, their_key->key_params, SrtpSession::Direction::Inbound);
      srtp_out = SrtpSession::create(a.crypto->suite, a.crypto->key_params, SrtpSession::Direction::Outbound);
      if (!srtp_in || !srtp_out) throw std::runtime_error("cannot set up SRTP");
    }
    sdp_answer = make_audio_answer(a);
    prompt = mailbox_full ? mailbox_full_notice() : server->prompt_for(mailbox.number);
    meta = RecordingMeta{mailbox.number, mailbox.name, caller_of(invite), std::chrono::system_clock::now()};
    cng = std::make_unique<CngDetector>();
    rtp_out.start(server->rng);
    if (mailbox_full) call_log(LogLevel::Info, "call_id={}: mailbox {} is full: notice, then BYE", invite.call_id(), mailbox.number);
    else recording = std::make_shared<RecordingFile>(server->config.recordings_dir, server->random_hex(12), meta);
    max_samples = static_cast<std::uint64_t>(server->config.max_recording.count()) * 8000;
  } catch (const std::exception& e) {
    call_log(LogLevel::Error, "call_id={}: cannot answer: {}", invite.call_id(), e.what());
    server->metrics.calls_failed.add();
    final_response = invite.response(500, "Server Internal Error", local_tag);
    server->send(final_response, peer);
    state = State::Done;
    server->calls.erase(invite.call_id());
    server->count_calls();
    return;
  }
  const std::string contact = server->contact_header(peer);
  final_response = invite.response(200, "OK", local_tag, contact + std::string(kAllow), "application/sdp", sdp_answer);
  state = State::AwaitingAck;
  server->send(final_response, peer);
  server->metrics.calls_answered.add();
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self] { return self->retransmit_final(); }, asio::detached);
  asio::co_spawn(server->strand, [self] { return self->play_prompt(); }, asio::detached);
  asio::co_spawn(server->strand, [self] { return self->receive_media(); }, asio::detached);
}

asio::awaitable<void> Call::retransmit_final() {
  auto self = shared_from_this();
  auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
  const auto give_up = Clock::now() + 64 * kT1;
  while (state == State::AwaitingAck) {
    retransmit.expires_after(interval);
    const auto [ec] = co_await retransmit.async_wait(net::use_nothrow);
    if (ec || state != State::AwaitingAck) co_return;
    if (Clock::now() >= give_up) {
      hang_up("no ACK");
      co_return;
    }
    server->send(final_response, peer);
    interval = std::min<Clock::duration>(interval * 2, kT2);
  }
}

void Call::on_ack() {
  if (state == State::AwaitingAck) {
    state = State::Connected;
    retransmit.cancel();
  }
}

void Call::on_cancel(const SipMessage& cancel) {
  server->send(cancel.response(200, "OK", local_tag), peer);
  if (state != State::Ringing) return;  // too late: the call was answered
  timer.cancel();
  final_response = invite.response(487, "Request Terminated", local_tag);
  server->send(final_response, peer);
  call_log(LogLevel::Info, "call_id={} cancelled before answer", invite.call_id());
  server->metrics.calls_cancelled.add();
  finish("cancelled");
}

void Call::on_bye(const SipMessage& bye) {
  server->send(bye.response(200, "OK", local_tag), peer);
  finish("caller hung up");
}

void Call::on_bye_answered() {
  retransmit.cancel();
  finish(end_reason);
}

void Call::on_reinvite(const SipMessage& reinvite) {
  if (reinvite.content_type() == "application/sdp" && (state == State::Connected || state == State::AwaitingAck) &&
      !mailbox_full)  // a full mailbox takes no fax either: the re-INVITE is refused below
    if (const auto image = parse_t38_offer(reinvite.body())) return start_t38(reinvite, *image);
  if (t38 || mailbox_full) {  // back to audio after T.38 is not something a fax needs
    server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
    return;
  }
  // Session refresh or hold: keep our media as it is.
  const auto offer2 = reinvite.content_type() == "application/sdp" ? parse_audio_offer(reinvite.body()) : std::nullopt;
  if (state == State::Ringing || (reinvite.content_type() == "application/sdp" && (!offer2 || !offer2->codec))) {
    server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
    return;
  }
  const std::string contact = server->contact_header(peer);
  server->send(reinvite.response(200, "OK", local_tag, contact, "application/sdp", sdp_answer), peer);
}

std::string Call::bye_request(std::string_view branch) const {
  const auto contact = invite.contact();
  const std::string target = contact ? contact->uri : invite.from().uri;
  std::string out = "BYE " + target + " SIP/2.0\r\n";
  out += "Via: SIP/2.0/" + std::string(peer.transport()) + " " + endpoint_text(server->transport.local_endpoint()) +
         ";branch=" + std::string(branch) +
         ";rport\r\n";
  out += "Max-Forwards: 70\r\n";
  for (const auto& route : invite.record_routes()) out += "Route: " + route + "\r\n";
  out += "From: " + invite.to_text() + ";tag=" + local_tag + "\r\n";
  out += "To: " + invite.from_text() + "\r\n";
  out += "Call-ID: " + invite.call_id() + "\r\n";
  out += "CSeq: 1 BYE\r\n";
  out += "User-Agent: " + server->config.user_agent + "\r\n";
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

void Call::hang_up(std::string reason) {
  if (ended()) return;
  if (state == State::Ringing) {
    final_response = invite.response(480, "Temporarily Unavailable", local_tag);
    server->send(final_response, peer);
    return finish(std::move(reason));
  }
  state = State::Ending;
  end_reason = std::move(reason);
  const auto bye = bye_request("z9hG4bK" + server->random_hex(8));
  server->send(bye, peer);
  // Stop media now; the call leaves the table when the BYE is answered or given up.
  std::error_code ignored;
  rtp.close(ignored);
  watchdog.cancel();
  auto self = shared_from_this();
  asio::co_spawn(
      server->strand,
      [self, bye]() -> asio::awaitable<void> {
        const bool unanswered = co_await retransmit_until_answered(
            self->retransmit, [&] { return self->state != State::Ending; },
            [&] {
              // TCP delivers it or breaks (RFC 3261 17.1.2.2)
              if (!self->peer.tcp) self->server->send(bye, self->peer);
            });
        if (unanswered) self->finish(self->end_reason);
      },
      asio::detached);
  if (server->stopped) finish(end_reason);
}

void Call::finish(std::string reason) {
  if (state == State::Done) return;
  state = State::Done;
  std::error_code ignored;
  rtp.close(ignored);
  timer.cancel();
  retransmit.cancel();
  watchdog.cancel();
  server->calls.erase(invite.call_id());
  server->count_calls();
  if (fax || t38) return finish_fax(reason);
  finish_recording(reason);
}

}  // namespace umstore::sip
