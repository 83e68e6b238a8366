#pragma once
// A fax machine behind a SIP gateway that answers: the receiving terminal
// the tests send faxes to (SipServer::send_fax), the counterpart of
// fax_call.hpp. Takes one call at a time on 127.0.0.1 over UDP, answers it
// (or says busy, or only rings, or challenges with digest first), receives
// with spandsp's T.30 answering terminal over G.711 or, after its own
// re-INVITE, over T.38, and writes DIR/<n>.tif. Blocking sockets, real-time
// pacing (20 ms): a test peer, not production code.
#include <spandsp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "digest_auth.hpp"
#include "fax_call.hpp"
#include "fax_receiver.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"
#include "t38_fax.hpp"

namespace umstore::test {

struct FaxTerminalOptions {
  std::filesystem::path out_dir = {};
  bool busy = false;       // 486 Busy Here
  bool no_answer = false;  // 180 Ringing until CANCEL
  bool no_fax = false;     // answers, sends no media, never runs T.30
  bool t38 = false;        // re-INVITEs to T.38 once answered
  std::string auth_user = {}, auth_password = {};  // challenge with 401 first when set
  unsigned calls = 0;      // stop after this many calls; 0: never
  std::string station_id = "+15550199 TERMINAL";  // our CSI
};

struct ReceivedFax {
  unsigned call = 0;
  std::string to, from;
  std::string result;  // T.30's text, or busy / cancelled / no fax / refused
  int code = -1;
  unsigned pages = 0;
  std::filesystem::path tiff;
  bool t38 = false;
  std::string sub_address, remote_station;

  std::string json() const {
    auto q = [](const std::string& s) {
      std::string out = "\"";
      for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
      }
      return out + "\"";
    };
    return "{\"call\": " + std::to_string(call) + ", \"to\": " + q(to) + ", \"from\": " + q(from) +
           ", \"result\": " + q(result) + ", \"code\": " + std::to_string(code) + ", \"pages\": " +
           std::to_string(pages) + ", \"tiff\": " + q(tiff.string()) + ", \"t38\": " + (t38 ? "true" : "false") +
           ", \"sub_address\": " + q(sub_address) + ", \"remote_station\": " + q(remote_station) + "}";
  }
};

class FaxTerminal {
 public:
  // SIP on 127.0.0.1:`sip_port` (0: any free port).
  explicit FaxTerminal(FaxTerminalOptions options, std::uint16_t sip_port = 0)
      : o_(std::move(options)), sip_(sip_port) {
    if (!o_.auth_user.empty()) {
      sip::DigestSettings settings;
      settings.realm = "fax-gateway";
      settings.users[o_.auth_user] = o_.auth_password;
      auth_.emplace(std::move(settings));
    }
  }
  std::uint16_t port() const { return sip_.port(); }

  // Until `stop` or `calls` calls; `report` gets each finished call.
  void run(const std::function<void(const ReceivedFax&)>& report, const std::atomic<bool>& stop) {
    unsigned n = 0;
    while (!stop && (o_.calls == 0 || n < o_.calls)) {
      const auto in = sip_.receive_from();
      if (!in) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      const auto m = sip::SipMessage::parse(in->first);
      peer_ = in->second;
      if (!m || !m->is_request()) continue;
      if (m->method() != "INVITE") {
        if (m->method() != "ACK") sip_.send_to(m->response(481, "Call/Transaction Does Not Exist", "t0"), peer_);
        continue;
      }
      if (m->call_id() == finished_call_id_) continue;  // a late retransmission
      if (auth_) {
        const auto verdict = auth_->check("INVITE", m->authorization(), std::chrono::steady_clock::now());
        if (verdict.outcome == sip::DigestAuthenticator::Outcome::Challenge ||
            verdict.outcome == sip::DigestAuthenticator::Outcome::Stale) {
          sip_.send_to(m->response(401, "Unauthorized", "t401",
                                   auth_->challenge(verdict.outcome == sip::DigestAuthenticator::Outcome::Stale,
                                                    std::chrono::steady_clock::now())),
                       peer_);
          continue;
        }
        if (verdict.outcome == sip::DigestAuthenticator::Outcome::Refused) {
          sip_.send_to(m->response(403, "Forbidden", "t403"), peer_);
          report(finished(*m, ++n, "refused: " + verdict.reason));
          continue;
        }
      }
      ReceivedFax r = take_call(*m, ++n);
      report(r);
    }
  }

 private:
  ReceivedFax finished(const sip::SipMessage& invite, unsigned n, std::string result) {
    finished_call_id_ = invite.call_id();
    ReceivedFax r;
    r.call = n;
    r.to = invite.request_uri_user();
    r.from = invite.from().user;
    r.result = std::move(result);
    return r;
  }

  ReceivedFax take_call(const sip::SipMessage& invite, unsigned n) {
    tag_ = "term" + std::to_string(n);
    sip_.send_to(invite.response(100, "Trying", {}), peer_);
    if (o_.busy) {
      sip_.send_to(invite.response(486, "Busy Here", tag_), peer_);
      return finished(invite, n, "busy");
    }
    sip_.send_to(invite.response(180, "Ringing", tag_), peer_);
    if (o_.no_answer) {
      for (const auto deadline = now() + std::chrono::seconds(120); now() < deadline;)
        if (const auto m = next_request(invite.call_id()); m && m->method() == "CANCEL") {
          sip_.send_to(m->response(200, "OK", tag_), peer_);
          sip_.send_to(invite.response(487, "Request Terminated", tag_), peer_);
          return finished(invite, n, "cancelled");
        }
      return finished(invite, n, "never cancelled");
    }
    const auto offer = sip::parse_audio_offer(invite.body());
    if (!offer || !offer->codec) {
      sip_.send_to(invite.response(488, "Not Acceptable Here", tag_), peer_);
      return finished(invite, n, "no G.711 offered");
    }
    sip::AudioAnswer a;
    a.address = "127.0.0.1";
    a.port = media_.port();
    a.codec = *offer->codec;
    a.session_id = 42;
    const std::string ok = invite.response(200, "OK", tag_, contact(), "application/sdp", sip::make_audio_answer(a));
    if (!await_ack(invite, ok)) return finished(invite, n, "no ACK");
    ReceivedFax r = finished(invite, n, "no fax");
    r.tiff = o_.out_dir / (std::to_string(n) + ".tif");
    bye_received_ = false;
    if (o_.no_fax) {
      silence_until_bye(invite.call_id());
    } else if (o_.t38) {
      r.t38 = receive_t38(invite, r);
    } else {
      sip::FaxReceiver fax(r.tiff, o_.station_id);
      run_g711(fax, *offer, invite.call_id());
      collect(fax, r);
    }
    if (!bye_received_) send_bye(invite);
    return r;
  }

  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  std::string contact() const { return "Contact: <sip:fax@127.0.0.1:" + std::to_string(sip_.port()) + ">\r\n"; }

  // The next request of call `call_id` (waits up to 20 ms); BYE is answered here.
  std::optional<sip::SipMessage> next_request(const std::string& call_id) {
    for (int i = 0; i < 4; ++i) {
      if (const auto in = sip_.receive_from()) {
        auto m = sip::SipMessage::parse(in->first);
        if (!m || m->call_id() != call_id) continue;
        if (m->is_request() && m->method() == "BYE") {
          sip_.send_to(m->response(200, "OK", tag_), peer_);
          bye_received_ = true;
        }
        return m;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
  }

  bool await_ack(const sip::SipMessage& invite, const std::string& ok) {
    sip_.send_to(ok, peer_);
    auto resend = now() + std::chrono::milliseconds(500);
    for (const auto deadline = now() + std::chrono::seconds(8); now() < deadline;) {
      const auto m = next_request(invite.call_id());
      if (m && m->is_request() && m->method() == "ACK") return true;
      if ((m && m->is_request() && m->method() == "INVITE") || now() > resend) {
        sip_.send_to(ok, peer_);
        resend = now() + std::chrono::milliseconds(500);
      }
    }
    return false;
  }

  void send_bye(const sip::SipMessage& invite) {
    const auto c = invite.contact();
    std::string bye = "BYE " + (c ? c->uri : invite.from().uri) + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" +
                      std::to_string(sip_.port()) + ";branch=z9hG4bKbye" + tag_ + "\r\nFrom: " + invite.to_text() +
                      ";tag=" + tag_ + "\r\nTo: " + invite.from_text() + "\r\nCall-ID: " + invite.call_id() +
                      "\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    sip_.send_to(bye, peer_);
  }

  void collect(sip::FaxSession& fax, ReceivedFax& r) {
    fax.terminate();
    r.code = fax.completion_code();
    r.result = fax.result();
    r.pages = fax.pages();
    r.remote_station = fax.remote_station();
    r.sub_address = fax.remote_sub_address();
  }

  // Paced at 20 ms until the caller's BYE, or 15 s after our T.30 ended.
  template <typename Step>
  void paced(const std::string& call_id, const std::function<bool()>& t30_done, Step step) {
    auto next = now();
    std::optional<std::chrono::steady_clock::time_point> give_up;
    const auto deadline = next + std::chrono::minutes(3);
    while (!bye_received_ && now() < deadline && (!give_up || now() < *give_up)) {
      step();
      next_request(call_id);
      if (!give_up && t30_done()) give_up = now() + std::chrono::seconds(15);
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
  }

  void send_audio(const sip::AudioOffer& offer, std::span<const std::int16_t> samples) {
    const auto payload = sip::encode_g711(*offer.codec, samples);
    sip::RtpPacket p;
    p.payload_type = static_cast<std::uint8_t>(*offer.codec);
    p.sequence = sequence_++;
    p.timestamp = timestamp_;
    p.ssrc = 99;
    p.payload = payload;
    timestamp_ += 160;
    media_.send_to(sip::build_rtp(p), offer.port);
  }

  void run_g711(sip::FaxReceiver& fax, const sip::AudioOffer& offer, const std::string& call_id) {
    paced(call_id, [&] { return fax.finished(); }, [&] {
      const auto out = fax.transmit(160);
      send_audio(offer, out);
      while (const auto in = media_.receive()) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(in->data());
        if (const auto rtp = sip::parse_rtp(std::span(bytes, in->size())))
          fax.receive(sip::decode_g711(*offer.codec, rtp->payload));
      }
    });
  }

  // Like a line whose far end went dead: no RTP at all.
  void silence_until_bye(const std::string& call_id) {
    paced(call_id, [] { return false; }, [&] {
      while (media_.receive()) {
      }
    });
  }

  // Our re-INVITE to T.38 (as a gateway sends it on hearing the fax), then T.30 over UDPTL.
  bool receive_t38(const sip::SipMessage& invite, ReceivedFax& r) {
    const auto c = invite.contact();
    const std::string sdp =
        "v=0\r\no=term 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image " +
        std::to_string(udptl_.port()) +
        " udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
        "a=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n";
    const std::string head = "INVITE " + (c ? c->uri : invite.from().uri) +
                             " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + std::to_string(sip_.port()) +
                             ";branch=z9hG4bKre" + tag_ + "\r\nFrom: " + invite.to_text() + ";tag=" + tag_ +
                             "\r\nTo: " + invite.from_text() + "\r\nCall-ID: " + invite.call_id() +
                             "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" + contact();
    const std::string reinvite = head + "Content-Type: application/sdp\r\nContent-Length: " +
                                 std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    sip_.send_to(reinvite, peer_);
    std::optional<sip::T38Offer> image;
    auto resend = now() + std::chrono::milliseconds(500);
    for (const auto deadline = now() + std::chrono::seconds(8); !image && now() < deadline;) {
      const auto m = next_request(invite.call_id());
      if (m && !m->is_request() && m->cseq_method() == "INVITE" && m->cseq_number() == 1 && m->status() >= 200) {
        if (m->status() >= 300) return false;
        image = sip::parse_t38_offer(m->body());
        if (!image) return false;
      } else if (now() > resend) {
        sip_.send_to(reinvite, peer_);
        resend = now() + std::chrono::milliseconds(500);
      }
    }
    if (!image) return false;
    std::string ack = "ACK " + (c ? c->uri : invite.from().uri) + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" +
                      std::to_string(sip_.port()) + ";branch=z9hG4bKack" + tag_ + "\r\nFrom: " + invite.to_text() +
                      ";tag=" + tag_ + "\r\nTo: " + invite.from_text() + "\r\nCall-ID: " + invite.call_id() +
                      "\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    sip_.send_to(ack, peer_);
    sip::T38Answer agreed;
    agreed.version = 0;
    agreed.transferred_tcf = true;
    agreed.peer_max_datagram = image->max_datagram == 0 ? 400 : image->max_datagram;
    const auto udptl_peer = image->port;
    sip::T38FaxTerminal fax(r.tiff, agreed, [&](std::vector<std::uint8_t> d) { udptl_.send_to(d, udptl_peer); },
                            o_.station_id);
    paced(invite.call_id(), [&] { return fax.finished(); }, [&] {
      fax.advance(160);
      while (const auto in = udptl_.receive())
        fax.receive(std::span(reinterpret_cast<const std::uint8_t*>(in->data()), in->size()));
    });
    collect(fax, r);
    return true;
  }

  FaxTerminalOptions o_;
  std::optional<sip::DigestAuthenticator> auth_;
  UdpPort sip_, media_, udptl_;
  std::uint16_t peer_ = 0;
  std::string tag_, finished_call_id_;
  bool bye_received_ = false;
  std::uint16_t sequence_ = 0;
  std::uint32_t timestamp_ = 0;
};

}  // namespace umstore::test
