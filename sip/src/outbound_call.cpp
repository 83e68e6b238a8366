// The signalling of a fax we send (outbound_call.hpp): the INVITE and its
// retransmission, one digest retry, ringing cut short by CANCEL, the answer
// ACKed, the gateway's in-dialog requests, BYE, and the result handed to
// the queue's callback on a worker.
#include <algorithm>

#include "digest_auth.hpp"
#include "net/task.hpp"
#include "outbound_call.hpp"

namespace umstore::sip {

using asio::ip::udp;

OutboundCall::OutboundCall(std::shared_ptr<SipEndpoint> server_, OutboundFax fax_, FaxGateway gateway_,
                           std::function<void(FaxCallResult)> done_, unsigned pages_total)
    : server(std::move(server_)),
      fax(std::move(fax_)),
      gateway(std::move(gateway_)),
      done(std::move(done_)),
      resolver(server->strand),
      rtp(server->strand),
      retransmit(server->strand),
      ring(server->strand),
      cap(server->strand) {
  result.pages_total = pages_total;
  call_id = server->random_hex(16) + "@umstore";
  local_tag = server->random_hex(6);
}

void OutboundCall::start() {
  const auto parsed = parse_gateway_uri(gateway.uri);
  if (!parsed)
    return finish(FaxCallOutcome::refused, "gateway URI '" + gateway.uri +
                                               "' is not sip:host[:port][;transport=udp|tcp|tls] or sips:host[:port]");
  address = *parsed;
  const std::string host = address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
  const bool default_port = address.port == (address.tls ? 5061 : 5060);
  const std::string hostport = host + (default_port ? "" : ":" + std::to_string(address.port));
  request_uri = (address.sips ? "sips:" : "sip:") + fax.number + "@" + hostport +
                (address.sips ? "" : address.tls ? ";transport=tls" : address.tcp ? ";transport=tcp" : "");
  remote_target = request_uri;
  const auto& hop = gateway.next_hop;
  const std::string next_hop = hop ? " at " + hop->address + ":" + std::to_string(hop->port) + " (SRV)" : "";
  call_log(LogLevel::Info, "call_id={}: fax of {} page(s) to {} via {}{}", call_id, result.pages_total, fax.number,
           gateway.uri, next_hop);
  std::weak_ptr<OutboundCall> weak = shared_from_this();
  // Resolved with asio's resolver: no blocking of the strand on DNS.
  resolver.async_resolve(hop ? hop->address : address.host, std::to_string(hop ? hop->port : address.port),
                         [weak](const std::error_code& ec, const udp::resolver::results_type& results) {
                           const auto self = weak.lock();
                           if (!self || self->state != State::Resolving) return;
                           if (ec || results.empty())
                             return self->finish(FaxCallOutcome::unreachable,
                                                 "cannot resolve " + self->address.host + ": " + ec.message());
                           self->peer = Peer(results.begin()->endpoint());
                           if (self->address.tcp) {
                             self->peer.tcp = true;
                             self->peer.stream_target = self->peer.endpoint;
                           }
                           if (self->address.tls) {  // verified for the name in the URI (RFC 5922 §4)
                             self->peer.tls = true;
                             self->peer.tls_name = self->address.host;
                           }
                           try {
                             self->local = self->server->media_address_toward(self->peer);
                             self->sdp_offer = self->make_offer();
                           } catch (const std::exception& e) {
                             return self->finish(FaxCallOutcome::unreachable,
                                                 std::string("cannot open an RTP port: ") + e.what());
                           }
                           self->state = State::Calling;
                           self->send_invite();
                           self->ring.expires_after(self->gateway.ring_timeout);
                           self->ring.async_wait([weak](const std::error_code& e) {
                             if (const auto call = weak.lock(); call && !e) call->ring_out();
                           });
                           self->cap.expires_after(self->gateway.max_call);
                           self->cap.async_wait([weak](const std::error_code& e) {
                             if (const auto call = weak.lock(); call && !e) call->hang_up("the call's time cap");
                           });
                         });
}

std::string OutboundCall::contact() const {
  // Over TLS the gateway's requests come back on our connection; a TLS
  // listener, if any, is where a new one would reach us.
  const auto tls_listener = server->transport.tls_endpoint();
  const auto port = peer.tls && tls_listener ? tls_listener->port() : server->transport.local_endpoint().port();
  return "Contact: <sip:umstore@" + endpoint_text(udp::endpoint(local, port)) +
         (peer.tls ? ";transport=tls" : peer.tcp ? ";transport=tcp" : "") + ">\r\n";
}

std::string OutboundCall::request_head(std::string_view method, std::string_view uri, std::string_view branch,
                                       std::uint32_t number) const {
  const auto port = server->transport.local_endpoint().port();
  const std::string caller = fax.caller_id.empty() ? "anonymous" : fax.caller_id;
  std::string out = std::string(method) + " " + std::string(uri) + " SIP/2.0\r\n";
  out += "Via: SIP/2.0/" + std::string(peer.transport()) + " " + endpoint_text(udp::endpoint(local, port)) +
         ";branch=" + std::string(branch) + ";rport\r\n";
  out += "Max-Forwards: 70\r\n";
  if (method != "INVITE" && method != "CANCEL")
    for (const auto& route : route_set) out += "Route: " + route + "\r\n";
  // RFC 3323: an anonymous caller is anonymous@anonymous.invalid.
  out += fax.caller_id.empty() ? "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=" + local_tag + "\r\n"
                               : "From: <sip:" + caller + "@" + local.to_string() + ">;tag=" + local_tag + "\r\n";
  const auto to_uri = request_uri.substr(0, request_uri.find(';'));
  out += "To: <" + to_uri + ">" + (remote_tag.empty() ? "" : ";tag=" + remote_tag) + "\r\n";
  out += "Call-ID: " + call_id + "\r\n";
  out += "CSeq: " + std::to_string(number) + " " + std::string(method) + "\r\n";
  out += "User-Agent: " + server->config.user_agent + "\r\n";
  return out;
}

void OutboundCall::send_invite() {
  invite_branch = "z9hG4bK" + server->random_hex(8);
  invite_text = request_head("INVITE", request_uri, invite_branch, cseq) + authorization + contact() +
                std::string(kAllow) + "Content-Type: application/sdp\r\nContent-Length: " +
                std::to_string(sdp_offer.size()) + "\r\n\r\n" + sdp_offer;
  server->send(invite_text, peer);
  retransmit.cancel();  // the previous INVITE's Timer A, if any
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self, branch = invite_branch] { return self->retransmit_invite(branch); },
                 asio::detached);
}

// Timer A (over UDP) and Timer B: no response at all in 64*T1 means the
// gateway is not there.
asio::awaitable<void> OutboundCall::retransmit_invite(std::string branch) {
  auto self = shared_from_this();
  auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
  const auto give_up = Clock::now() + 64 * kT1;
  while (state == State::Calling && invite_branch == branch) {
    retransmit.expires_after(peer.tcp ? give_up - Clock::now() : std::min<Clock::duration>(interval, give_up - Clock::now()));
    const auto [ec] = co_await retransmit.async_wait(net::use_nothrow);
    if (ec || state != State::Calling || invite_branch != branch) co_return;
    if (Clock::now() >= give_up) {
      finish(FaxCallOutcome::unreachable,
             "no response from " + endpoint_text(peer) + (peer.tls ? " over TLS" : peer.tcp ? " over TCP" : ""));
      co_return;
    }
    server->send(invite_text, peer);
    interval *= 2;
  }
}

void OutboundCall::on_response(const SipMessage& m) {
  const std::string method = m.cseq_method();
  if (method == "CANCEL") {
    cancel_answered = true;
    return;
  }
  if (method == "BYE") {
    if (state == State::Ending && m.status() >= 200) conclude(end_reason);
    return;
  }
  if (method == "INVITE" && offer_cseq != 0 && m.cseq_number() == offer_cseq && m.via_branch() == offer_branch)
    return on_t38_answer(m);
  // Only answers to our current INVITE: not the challenged one's, not a stranger's.
  if (method != "INVITE" || m.cseq_number() != cseq || m.via_branch() != invite_branch) return;
  const int status = m.status();
  if (status < 200) {
    if (state == State::Calling) {
      state = State::Proceeding;
      retransmit.cancel();
    }
    return;
  }
  if (status < 300) return on_answer(m);
  on_refused(m);
}

void OutboundCall::on_refused(const SipMessage& m) {
  // The ACK of a non-2xx final answer is part of the INVITE transaction: same branch, the answer's To.
  std::string ack = request_head("ACK", request_uri, invite_branch, cseq);
  const auto to_at = ack.find("To: ");
  ack.replace(to_at, ack.find("\r\n", to_at) - to_at, "To: " + m.to_text());
  server->send(ack + "Content-Length: 0\r\n\r\n", peer);
  if (state != State::Calling && state != State::Proceeding && state != State::Cancelling) return;  // a retransmission
  const int status = m.status();
  if ((status == 401 || status == 407) && !authenticated && !gateway.user.empty() && state != State::Cancelling) {
    const auto credentials = digest_credentials(m.challenges(status == 407), "INVITE", request_uri, gateway.user,
                                                gateway.password, server->random_hex(8));
    if (credentials) {
      authenticated = true;
      authorization = (status == 407 ? "Proxy-Authorization: " : "Authorization: ") + *credentials + "\r\n";
      ++cseq;
      state = State::Calling;
      return send_invite();
    }
  }
  // A gateway without SRTP refuses RTP/SAVP with 488, and one offer cannot
  // carry both profiles (short of RFC 5939's capability negotiation, which
  // few gateways speak). [sip] srtp = optional allows the audio in the
  // clear, so we offer plain RTP once more; TLS still guards the signalling.
  if (status == 488 && srtp_offered && server->config.srtp == SipServerConfig::Srtp::Optional &&
      state != State::Cancelling) {
    call_log(LogLevel::Info, "call_id={}: {} refused SRTP ({} {}): offering plain RTP", call_id, endpoint_text(peer),
             status, m.reason());
    srtp_offered.reset();
    sdp_offer = audio_offer();
    ++cseq;
    state = State::Calling;
    return send_invite();
  }
  result.sip_status = status;
  result.sip_reason = m.reason();
  if (status == 401 || status == 407)
    result.sip_reason += gateway.user.empty() ? " (no credentials for this gateway)"
                                              : authenticated ? " (the credentials were refused)"
                                                              : " (no Digest challenge with SHA-256 or MD5)";
  finish(outcome_of_status(status), result.sip_reason);
}

void OutboundCall::on_answer(const SipMessage& ok) {
  if (state == State::Connected || state == State::Ending || state == State::Done) {
    if (!ack_text.empty()) server->send(ack_text, peer);  // our ACK was lost: the 2xx came again
    return;
  }
  remote_tag = ok.to().tag;
  if (const auto c = ok.contact()) remote_target = c->uri;
  route_set = ok.record_routes();
  std::reverse(route_set.begin(), route_set.end());
  ack_text = request_head("ACK", remote_target, "z9hG4bK" + server->random_hex(8), cseq) + "Content-Length: 0\r\n\r\n";
  server->send(ack_text, peer);
  retransmit.cancel();
  ring.cancel();
  result.sip_status = ok.status();
  result.sip_reason = ok.reason();
  answered_at = Clock::now();
  const bool cancelled = state == State::Cancelling;  // the answer crossed our CANCEL
  state = State::Connected;
  if (cancelled) return hang_up("answered after the ring timeout");
  if (!start_media(ok)) return;
  call_log(LogLevel::Info, "call_id={}: answered ({} {}), sending over G.711 {}", call_id, ok.status(), ok.reason(),
           codec == G711::Pcmu ? "PCMU" : "PCMA");
}

void OutboundCall::ring_out() {
  if (state == State::Calling) {  // not even a provisional answer: CANCEL is not allowed yet (RFC 3261 9.1)
    return finish(FaxCallOutcome::no_answer, "no answer in " + std::to_string(gateway.ring_timeout.count()) + " s");
  }
  if (state == State::Proceeding) hang_up("no answer in " + std::to_string(gateway.ring_timeout.count()) + " s");
}

void OutboundCall::hang_up(std::string why) {
  if (state == State::Resolving || state == State::Calling) return finish(FaxCallOutcome::no_answer, std::move(why));
  if (state == State::Proceeding) {
    state = State::Cancelling;
    result.sip_reason = why;
    const std::string cancel = request_head("CANCEL", request_uri, invite_branch, cseq) + "Content-Length: 0\r\n\r\n";
    server->send(cancel, peer);
    call_log(LogLevel::Info, "call_id={}: CANCEL ({})", call_id, why);
    auto self = shared_from_this();
    asio::co_spawn(
        server->strand,
        [self, cancel]() -> asio::awaitable<void> {
          asio::steady_timer wait(self->server->strand);
          co_await retransmit_until_answered(
              wait, [&] { return self->cancel_answered || self->state != State::Cancelling; },
              [&] {
                if (!self->peer.tcp) self->server->send(cancel, self->peer);
              });
          // The 487 normally ends it; a gateway that never sends one does not keep the fax waiting.
          wait.expires_after(std::chrono::seconds(4));
          co_await wait.async_wait(net::use_nothrow);
          if (self->state == State::Cancelling) self->finish(FaxCallOutcome::no_answer, self->result.sip_reason);
        },
        asio::detached);
    return;
  }
  if (state != State::Connected) return;
  state = State::Ending;
  end_reason = std::move(why);
  const std::string bye = request_head("BYE", remote_target, "z9hG4bK" + server->random_hex(8),
                                       std::max(cseq, offer_cseq) + 1) +
                          "Content-Length: 0\r\n\r\n";
  server->send(bye, peer);
  std::error_code ignored;
  rtp.close(ignored);
  if (t38) t38->stop();
  auto self = shared_from_this();
  asio::co_spawn(
      server->strand,
      [self, bye]() -> asio::awaitable<void> {
        asio::steady_timer wait(self->server->strand);
        const bool unanswered = co_await retransmit_until_answered(
            wait, [&] { return self->state != State::Ending; },
            [&] {
              if (!self->peer.tcp) self->server->send(bye, self->peer);
            });
        if (unanswered && self->state == State::Ending) self->conclude(self->end_reason);
      },
      asio::detached);
}

void OutboundCall::on_request(const SipMessage& m, const Peer& from) {
  const std::string method = m.method();
  if (method == "ACK") return;  // of our answer to a re-INVITE
  if (method == "BYE") {
    server->send(m.response(200, "OK", local_tag), from);
    if (state != State::Connected && state != State::Ending) return;
    std::error_code ignored;
    rtp.close(ignored);
    if (t38) t38->stop();
    return conclude("the gateway hung up");
  }
  if (method == "INVITE") return on_reinvite(m);
  if (method == "OPTIONS") return server->send(m.response(200, "OK", local_tag, kAllow), from);
  server->send(m.response(method == "CANCEL" ? 481 : 405, method == "CANCEL" ? "Call/Transaction Does Not Exist"
                                                                               : "Method Not Allowed",
                          local_tag, method == "CANCEL" ? "" : kAllow),
               from);
}

// The answered call is over: how T.30 ended says whether the fax went.
void OutboundCall::conclude(std::string why) {
  if (state == State::Done) return;
  FaxSession* fax_session = session();
  if (fax_session) {
    fax_session->terminate();  // no-op when T.30 ended by itself
    result.t30_code = fax_session->completion_code();
    result.t30_result = fax_session->result();
    result.pages_sent = fax_session->pages();
    result.remote_station = fax_session->remote_station();
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - answered_at);
  const bool ok = fax_session && fax_session->succeeded();
  call_log(LogLevel::Info, "call_id={}: {} ({}): {} of {} page(s) to {}, T.30: {}", call_id, ok ? "sent" : "failed",
           why, result.pages_sent, result.pages_total, result.remote_station, result.t30_result);
  finish(ok ? FaxCallOutcome::sent : FaxCallOutcome::t30_failed);
}

void OutboundCall::abandon(std::string_view why) {
  if (state == State::Done) return;
  if (state == State::Proceeding)
    server->send(request_head("CANCEL", request_uri, invite_branch, cseq) + "Content-Length: 0\r\n\r\n", peer);
  if (state == State::Connected)
    server->send(request_head("BYE", remote_target, "z9hG4bK" + server->random_hex(8), cseq + 1) +
                     "Content-Length: 0\r\n\r\n",
                 peer);
  if (const auto* s = session(); s && s->succeeded()) return conclude(std::string(why));
  result.sip_status = 0;
  finish(FaxCallOutcome::unreachable, std::string(why));
}

void OutboundCall::finish(FaxCallOutcome outcome, std::string reason) {
  if (state == State::Done) return;
  state = State::Done;
  if (!reason.empty() && result.sip_status == 0) result.sip_reason = std::move(reason);
  result.outcome = outcome;
  resolver.cancel();
  retransmit.cancel();
  ring.cancel();
  cap.cancel();
  std::error_code ignored;
  rtp.close(ignored);
  if (t38) t38->stop();
  (outcome == FaxCallOutcome::sent ? server->metrics.faxes_sent : server->metrics.faxes_not_sent).add();
  server->metrics.fax_pages_sent.add(result.pages_sent);
  if (outcome != FaxCallOutcome::sent)
    call_log(LogLevel::Info, "call_id={}: fax to {} not sent: {} ({} {})", call_id, fax.number, to_string(outcome),
             result.sip_status, result.sip_reason);
  if (const auto it = server->outbound.find(call_id); it != server->outbound.end() && it->second.get() == this)
    server->outbound.erase(it);
  server->count_calls();
  // Never on the strand: the queue's callback may block.
  asio::post(server->workers, [done_once = std::exchange(done, nullptr), r = result] {
    if (done_once) done_once(r);
  });
}

FaxToSend OutboundCall::to_send() const { return {fax.tiff, fax.station_id, fax.sub_address, fax.page_header}; }

}  // namespace umstore::sip
