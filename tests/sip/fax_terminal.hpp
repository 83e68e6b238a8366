#pragma once
// A fax machine behind a SIP gateway that answers: the receiving terminal
// the tests and the outbound fax benchmark send faxes to
// (SipServer::send_fax), the counterpart of fax_call.hpp. Listens on one
// SIP port on 127.0.0.1 over UDP (and TCP with `tcp`, or TLS with a
// certificate) and takes up to `max_calls` calls at
// once (more get 486), each on a thread of its own with its own media
// socket: answers it (or says busy, or only rings, or challenges with digest
// first), receives with spandsp's T.30 answering terminal over G.711 or,
// after its own re-INVITE, over T.38, and writes DIR/<n>.tif. An offer of
// RTP/SAVP with an SDES key is answered with one of ours: SRTP. Real-time
// pacing (20 ms) per call: a test peer, not production code.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <spandsp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "digest_auth.hpp"
#include "fax_call.hpp"
#include "fax_receiver.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"
#include "sip_transport.hpp"
#include "srtp_session.hpp"
#include "t38_fax.hpp"

namespace umstore::test {

struct FaxTerminalOptions {
  std::filesystem::path out_dir = {};
  bool busy = false;       // 486 Busy Here
  bool no_answer = false;  // 180 Ringing until CANCEL
  bool no_fax = false;     // answers, sends no media, never runs T.30
  bool t38 = false;        // re-INVITEs to T.38 once answered
  bool refuse_t38 = false; // answers the caller's re-INVITE to T.38 with 488 (else: switches)
  bool refuse_srtp = false; // answers an RTP/SAVP offer with 488, as a gateway without SRTP does
  std::string auth_user = {}, auth_password = {};  // challenge with 401 first when set
  unsigned calls = 0;      // stop after this many calls; 0: never
  std::string station_id = "+15550199 TERMINAL";  // our CSI
  unsigned max_calls = 64;  // calls at once; an INVITE beyond gets 486 Busy Here
  bool tcp = false;         // also listen on TCP, the same port (one connection at a time)
  std::filesystem::path tls_certificate = {}, tls_key = {};  // set: that TCP port speaks TLS with them
  std::filesystem::path tls_client_ca = {};  // set: a TLS caller must present a certificate from these CAs
};

// SIP on 127.0.0.1: UDP, and TCP (or TLS) on the same port when asked. A
// message's peer is the UDP port it came from, or kTcp for the stream
// connection, and the answer goes back the same way.
class SipPort {
 public:
  static constexpr std::uint16_t kTcp = 0;

  SipPort(std::uint16_t port, bool tcp, const std::filesystem::path& certificate = {},
          const std::filesystem::path& key = {}, const std::filesystem::path& client_ca = {})
      : udp_(port) {
    if (!certificate.empty()) {
      tls_ = SSL_CTX_new(TLS_server_method());
      if (SSL_CTX_use_certificate_chain_file(tls_, certificate.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(tls_, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
          (!client_ca.empty() && SSL_CTX_load_verify_locations(tls_, client_ca.c_str(), nullptr) != 1)) {
        SSL_CTX_free(tls_);  // no destructor runs for a constructor that throws
        throw std::runtime_error("cannot load the TLS certificate " + certificate.string() + " or CA " +
                                 client_ca.string());
      }
      if (!client_ca.empty()) {
        SSL_CTX_set_client_CA_list(tls_, SSL_load_client_CA_file(client_ca.c_str()));
        SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      }
      tcp = true;
    }
    if (!tcp) return;
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int on = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    ::bind(listener_, reinterpret_cast<const sockaddr*>(&udp_.self), sizeof udp_.self);
    ::listen(listener_, 4);
  }
  ~SipPort() {
    if (ssl_) SSL_free(ssl_);
    if (connection_ >= 0) ::close(connection_);
    if (listener_ >= 0) ::close(listener_);
    if (tls_) SSL_CTX_free(tls_);
  }
  SipPort(const SipPort&) = delete;
  SipPort& operator=(const SipPort&) = delete;

  std::uint16_t port() const { return udp_.port(); }
  bool tcp() const { return listener_ >= 0; }
  bool tls() const { return tls_ != nullptr; }

  // The next whole message, waiting up to `wait` for one.
  std::optional<std::pair<std::string, std::uint16_t>> receive(std::chrono::milliseconds wait) {
    if (auto framed = next_framed()) return std::pair(std::move(*framed), kTcp);
    pollfd p[3] = {{udp_.fd, POLLIN, 0}, {listener_, POLLIN, 0}, {connection_, POLLIN, 0}};
    if (::poll(p, 3, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    if (p[0].revents & POLLIN) return udp_.receive_from();
    if (p[1].revents & POLLIN) {
      const int accepted = ::accept(listener_, nullptr, nullptr);
      const std::lock_guard lock(send_mutex_);
      if (ssl_) SSL_free(std::exchange(ssl_, nullptr));
      if (connection_ >= 0) ::close(connection_);
      connection_ = accepted;
      stream_.clear();
      if (tls_ && accepted >= 0) {  // the handshake blocks: a test peer with one caller
        ssl_ = SSL_new(tls_);
        SSL_set_fd(ssl_, accepted);
        if (SSL_accept(ssl_) != 1) {
          const char* reason = ERR_reason_error_string(ERR_peek_last_error());  // null for an unknown code
          std::cerr << "tls handshake failed: " << (reason ? reason : "no reason given") << std::endl;
          SSL_free(std::exchange(ssl_, nullptr));
          ::close(std::exchange(connection_, -1));
        } else {
          ::fcntl(accepted, F_SETFL, ::fcntl(accepted, F_GETFL) | O_NONBLOCK);
        }
      }
    }
    if (p[2].revents & (POLLIN | POLLHUP)) {
      const std::lock_guard lock(send_mutex_);
      char buf[4096];
      if (ssl_) {
        for (int n; (n = SSL_read(ssl_, buf, sizeof buf)) > 0;) stream_.append(buf, static_cast<std::size_t>(n));
      } else if (const auto n = ::recv(connection_, buf, sizeof buf, 0); n > 0) {
        stream_.append(buf, static_cast<std::size_t>(n));
      }
    }
    if (auto framed = next_framed()) return std::pair(std::move(*framed), kTcp);
    return std::nullopt;
  }

  void send_to(std::string_view text, std::uint16_t peer) {
    if (peer != kTcp) return udp_.send_to(text, peer);
    const std::lock_guard lock(send_mutex_);
    for (std::size_t sent = 0; sent < text.size() && connection_ >= 0;) {
      if (ssl_) {
        const int n = SSL_write(ssl_, text.data() + sent, static_cast<int>(text.size() - sent));
        if (n <= 0 && SSL_get_error(ssl_, n) != SSL_ERROR_WANT_WRITE) return;
        sent += static_cast<std::size_t>(std::max(n, 0));
        continue;
      }
      const auto n = ::send(connection_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

 private:
  // One message off the stream, framed by its Content-Length (or "l").
  std::optional<std::string> next_framed() {
    const auto end = stream_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    const std::size_t body = sip::content_length_of(std::string_view(stream_).substr(0, end + 2)).value_or(0);
    if (stream_.size() < end + 4 + body) return std::nullopt;
    std::string out = stream_.substr(0, end + 4 + body);
    stream_.erase(0, end + 4 + body);
    return out;
  }

  UdpPort udp_;
  SSL_CTX* tls_ = nullptr;
  SSL* ssl_ = nullptr;  // the TLS of `connection_`
  int listener_ = -1;
  int connection_ = -1;
  std::string stream_;
  std::mutex send_mutex_;
};

struct ReceivedFax {
  unsigned call = 0;
  std::string to, from;
  std::string result;  // T.30's text, or busy / cancelled / no fax / refused
  int code = -1;
  unsigned pages = 0;
  std::filesystem::path tiff;
  bool t38 = false;
  bool tcp = false;  // every SIP message of the call came over TCP (or TLS)
  bool tls = false;  // ... over TLS
  bool srtp = false; // the audio was SRTP
  std::string sub_address, remote_station;
  double invite_at = 0;  // Unix time (s) when the call's first INVITE arrived
  double ended_at = 0;   // and when the call was over

  std::string json() const {
    auto q = [](const std::string& s) {
      std::string out = "\"";
      for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
      }
      return out + "\"";
    };
    auto t = [](double seconds) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6f", seconds);
      return std::string(buf);
    };
    return "{\"call\": " + std::to_string(call) + ", \"to\": " + q(to) + ", \"from\": " + q(from) +
           ", \"result\": " + q(result) + ", \"code\": " + std::to_string(code) + ", \"pages\": " +
           std::to_string(pages) + ", \"tiff\": " + q(tiff.string()) + ", \"t38\": " + (t38 ? "true" : "false") +
           ", \"tls\": " + (tls ? "true" : "false") + ", \"srtp\": " + (srtp ? "true" : "false") +
           ", \"sub_address\": " + q(sub_address) + ", \"remote_station\": " + q(remote_station) +
           ", \"invite_at\": " + t(invite_at) + ", \"ended_at\": " + t(ended_at) + "}";
  }
};

class FaxTerminal {
 public:
  // SIP on 127.0.0.1:`sip_port` (0: any free port).
  explicit FaxTerminal(FaxTerminalOptions options, std::uint16_t sip_port = 0)
      : o_(std::move(options)), sip_(sip_port, o_.tcp, o_.tls_certificate, o_.tls_key, o_.tls_client_ca) {
    if (!o_.auth_user.empty()) {
      sip::DigestSettings settings;
      settings.realm = "fax-gateway";
      settings.users[o_.auth_user] = o_.auth_password;
      auth_.emplace(std::move(settings));
    }
  }
  std::uint16_t port() const { return sip_.port(); }

  // Until `stop` or `calls` calls; `report` gets each finished call, from
  // the call's thread, one at a time. Calls still going at `stop` end then.
  void run(const std::function<void(const ReceivedFax&)>& report, const std::atomic<bool>& stop) {
    report_ = &report;
    stop_ = &stop;
    unsigned n = 0;
    std::map<std::string, std::unique_ptr<Call>> active;  // by Call-ID
    std::map<std::string, std::uint32_t> finished;        // Call-ID: the CSeq of its last INVITE taken
    const auto finished_cseq = [&finished](const std::string& id) {
      const auto it = finished.find(id);
      return it == finished.end() ? 0 : it->second;
    };
    std::map<std::string, double> first_seen;             // challenged INVITEs: when the first came
    for (;;) {
      for (auto it = active.begin(); it != active.end();) {
        if (!it->second->done) {
          ++it;
          continue;
        }
        it->second->thread.join();
        finished[it->first] = it->second->invite.cseq_number();
        it = active.erase(it);
      }
      if (stop || (o_.calls != 0 && n >= o_.calls && active.empty())) break;
      const auto in = sip_.receive(std::chrono::milliseconds(5));
      if (!in) continue;
      const double arrived = unix_now();
      auto m = sip::SipMessage::parse(in->first);
      if (!m) continue;
      const std::string call_id = m->call_id();
      // A caller may try again under the same Call-ID after a final answer
      // (RFC 3261 8.1.3.5): an INVITE with a higher CSeq is a new call.
      const bool new_invite = m->is_request() && m->method() == "INVITE" && finished_cseq(call_id) < m->cseq_number();
      if (const auto it = active.find(call_id); it != active.end()) {
        if (new_invite && it->second->done && it->second->invite.cseq_number() < m->cseq_number()) {
          it->second->thread.join();
          finished[call_id] = it->second->invite.cseq_number();
          active.erase(it);
        } else {
          if (in->second != it->second->peer) it->second->strayed = true;
          it->second->deliver(std::move(*m));
          continue;
        }
      }
      if (!m->is_request()) continue;
      if (m->method() != "INVITE") {
        if (m->method() != "ACK") sip_.send_to(m->response(481, "Call/Transaction Does Not Exist", "t0"), in->second);
        continue;
      }
      if (!new_invite) continue;   // a late retransmission
      if (o_.calls != 0 && n >= o_.calls) continue;  // we take no more calls
      const double invite_at = first_seen.emplace(call_id, arrived).first->second;
      if (auth_) {
        const auto verdict = auth_->check("INVITE", m->authorization(), std::chrono::steady_clock::now());
        if (verdict.outcome == sip::DigestAuthenticator::Outcome::Challenge ||
            verdict.outcome == sip::DigestAuthenticator::Outcome::Stale) {
          sip_.send_to(m->response(401, "Unauthorized", "t401",
                                   auth_->challenge(verdict.outcome == sip::DigestAuthenticator::Outcome::Stale,
                                                    std::chrono::steady_clock::now())),
                       in->second);
          continue;
        }
        if (verdict.outcome == sip::DigestAuthenticator::Outcome::Refused) {
          sip_.send_to(m->response(403, "Forbidden", "t403"), in->second);
          finished[call_id] = m->cseq_number();
          first_seen.erase(call_id);
          publish(outcome(*m, ++n, "refused: " + verdict.reason, invite_at));
          continue;
        }
      }
      first_seen.erase(call_id);
      if (active.size() >= o_.max_calls) {
        sip_.send_to(m->response(486, "Busy Here", "tmax"), in->second);
        finished[call_id] = m->cseq_number();
        publish(outcome(*m, ++n, "busy: max calls", invite_at));
        continue;
      }
      auto call = std::make_unique<Call>(std::move(*m), ++n, in->second, invite_at);
      Call& c = *call;
      c.thread = std::thread([this, &c] {
        ReceivedFax r = take_call(c);
        r.tcp = c.peer == SipPort::kTcp && !c.strayed;
        r.tls = r.tcp && sip_.tls();
        publish(std::move(r));
        c.done = true;
      });
      active.emplace(call_id, std::move(call));
    }
    for (auto& [id, call] : active) call->thread.join();
  }

 private:
  // One call: its INVITE, its own media sockets and the SIP messages the
  // dispatcher hands it.
  struct Call {
    Call(sip::SipMessage m, unsigned number, std::uint16_t from_port, double at)
        : invite(std::move(m)), n(number), peer(from_port), invite_at(at), tag("term" + std::to_string(number)) {}
    sip::SipMessage invite;
    unsigned n;
    std::uint16_t peer;
    double invite_at;
    std::string tag;
    UdpPort media, udptl;
    bool bye_received = false;
    std::atomic<bool> strayed{false};  // a message of the call came another way than its INVITE
    std::unique_ptr<sip::SrtpSession> srtp_out, srtp_in;
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<sip::SipMessage> inbox;
    std::atomic<bool> done{false};
    std::thread thread;

    void deliver(sip::SipMessage m) {
      {
        const std::lock_guard lock(mutex);
        inbox.push_back(std::move(m));
      }
      arrived.notify_one();
    }
  };

  static double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  void publish(ReceivedFax r) {
    r.ended_at = unix_now();
    const std::lock_guard lock(report_mutex_);
    (*report_)(r);
  }

  ReceivedFax outcome(const sip::SipMessage& invite, unsigned n, std::string result, double invite_at) const {
    ReceivedFax r;
    r.call = n;
    r.to = invite.request_uri_user();
    r.from = invite.from().user;
    r.result = std::move(result);
    r.invite_at = invite_at;
    return r;
  }

  bool stopping() const { return *stop_; }

  ReceivedFax take_call(Call& c) {
    const sip::SipMessage& invite = c.invite;
    sip_.send_to(invite.response(100, "Trying", {}), c.peer);
    if (o_.busy) {
      sip_.send_to(invite.response(486, "Busy Here", c.tag), c.peer);
      return outcome(invite, c.n, "busy", c.invite_at);
    }
    sip_.send_to(invite.response(180, "Ringing", c.tag), c.peer);
    if (o_.no_answer) {
      for (const auto deadline = now() + std::chrono::seconds(120); now() < deadline && !stopping();)
        if (const auto m = next_request(c); m && m->is_request() && m->method() == "CANCEL") {
          sip_.send_to(m->response(200, "OK", c.tag), c.peer);
          sip_.send_to(invite.response(487, "Request Terminated", c.tag), c.peer);
          return outcome(invite, c.n, "cancelled", c.invite_at);
        }
      return outcome(invite, c.n, "never cancelled", c.invite_at);
    }
    const auto offer = sip::parse_audio_offer(invite.body());
    if (!offer || !offer->codec) {
      sip_.send_to(invite.response(488, "Not Acceptable Here", c.tag), c.peer);
      return outcome(invite, c.n, "no G.711 offered", c.invite_at);
    }
    sip::AudioAnswer a;
    a.address = "127.0.0.1";
    a.port = c.media.port();
    a.codec = *offer->codec;
    a.session_id = 42;
    if (offer->savp && o_.refuse_srtp) {
      sip_.send_to(invite.response(488, "Not Acceptable Here", c.tag), c.peer);
      return outcome(invite, c.n, "SRTP refused", c.invite_at);
    }
    if (offer->savp && !offer->crypto.empty()) {  // SRTP: the first key offered, and one of ours
      const auto& theirs = offer->crypto.front();
      a.savp = true;
      a.crypto = sip::SdesCrypto{theirs.tag, theirs.suite, sip::new_srtp_key()};
      c.srtp_in = sip::SrtpSession::create(theirs.suite, theirs.key_params, sip::SrtpSession::Direction::Inbound);
      c.srtp_out = sip::SrtpSession::create(a.crypto->suite, a.crypto->key_params, sip::SrtpSession::Direction::Outbound);
      if (!c.srtp_in || !c.srtp_out) {
        sip_.send_to(invite.response(488, "Not Acceptable Here", c.tag), c.peer);
        return outcome(invite, c.n, "unusable SRTP key", c.invite_at);
      }
    }
    const std::string ok = invite.response(200, "OK", c.tag, contact(), "application/sdp", sip::make_audio_answer(a));
    if (!await_ack(c, ok)) return outcome(invite, c.n, "no ACK", c.invite_at);
    ReceivedFax r = outcome(invite, c.n, "no fax", c.invite_at);
    r.srtp = c.srtp_in != nullptr;
    r.tiff = o_.out_dir / (std::to_string(c.n) + ".tif");
    if (o_.no_fax) {
      silence_until_bye(c);
    } else if (o_.t38) {
      r.t38 = receive_t38(c, r);
    } else {
      sip::FaxReceiver fax(r.tiff, o_.station_id);
      const auto image = run_g711(c, fax, *offer);
      if (image) {
        r.t38 = true;
        run_t38(c, r, *image);
      } else {
        collect(fax, r);
      }
    }
    if (!c.bye_received) send_bye(c);
    return r;
  }

  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  std::string contact() const {
    return "Contact: <sip:fax@127.0.0.1:" + std::to_string(sip_.port()) +
           (sip_.tls() ? ";transport=tls" : sip_.tcp() ? ";transport=tcp" : "") + ">\r\n";
  }

  // The call's next SIP message (waits up to `wait`); a BYE is answered here.
  std::optional<sip::SipMessage> next_request(Call& c,
                                              std::chrono::milliseconds wait = std::chrono::milliseconds(20)) {
    std::unique_lock lock(c.mutex);
    if (!c.arrived.wait_for(lock, wait, [&] { return !c.inbox.empty(); })) return std::nullopt;
    auto m = std::move(c.inbox.front());
    c.inbox.pop_front();
    lock.unlock();
    if (m.is_request() && m.method() == "BYE") {
      sip_.send_to(m.response(200, "OK", c.tag), c.peer);
      c.bye_received = true;
    }
    return m;
  }

  bool await_ack(Call& c, const std::string& ok) {
    sip_.send_to(ok, c.peer);
    auto resend = now() + std::chrono::milliseconds(500);
    for (const auto deadline = now() + std::chrono::seconds(8); now() < deadline && !stopping();) {
      const auto m = next_request(c);
      if (m && m->is_request() && m->method() == "ACK") return true;
      if ((m && m->is_request() && m->method() == "INVITE") || now() > resend) {
        sip_.send_to(ok, c.peer);
        resend = now() + std::chrono::milliseconds(500);
      }
    }
    return false;
  }

  // Towards the caller: its Contact, our tag on From.
  std::string in_dialog(const Call& c, std::string_view method, std::string_view branch, unsigned cseq) const {
    const auto contact_uri = c.invite.contact();
    return std::string(method) + " " + (contact_uri ? contact_uri->uri : c.invite.from().uri) +
           " SIP/2.0\r\nVia: SIP/2.0/" + (c.peer != SipPort::kTcp ? "UDP" : sip_.tls() ? "TLS" : "TCP") + " 127.0.0.1:" +
           std::to_string(sip_.port()) + ";branch=z9hG4bK" +
           std::string(branch) + c.tag + "\r\nFrom: " + c.invite.to_text() + ";tag=" + c.tag +
           "\r\nTo: " + c.invite.from_text() + "\r\nCall-ID: " + c.invite.call_id() + "\r\nCSeq: " +
           std::to_string(cseq) + " " + std::string(method) + "\r\nMax-Forwards: 70\r\n";
  }

  void send_bye(const Call& c) { sip_.send_to(in_dialog(c, "BYE", "bye", 2) + "Content-Length: 0\r\n\r\n", c.peer); }

  static void collect(sip::FaxSession& fax, ReceivedFax& r) {
    fax.terminate();
    r.code = fax.completion_code();
    r.result = fax.result();
    r.pages = fax.pages();
    r.remote_station = fax.remote_station();
    r.sub_address = fax.remote_sub_address();
  }

  // Paced at 20 ms until the caller's BYE, or 15 s after our T.30 ended,
  // or `on_request` says a request ends it.
  template <typename Step>
  void paced(Call& c, const std::function<bool()>& t30_done, Step step,
             const std::function<bool(const sip::SipMessage&)>& on_request = {}) {
    auto next = now();
    std::optional<std::chrono::steady_clock::time_point> give_up;
    const auto deadline = next + std::chrono::minutes(3);
    while (!c.bye_received && now() < deadline && (!give_up || now() < *give_up) && !stopping()) {
      step();
      while (const auto m = next_request(c, std::chrono::milliseconds(0)))
        if (on_request && m->is_request() && on_request(*m)) return;
      if (!give_up && t30_done()) give_up = now() + std::chrono::seconds(15);
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
  }

  static void send_audio(Call& c, const sip::AudioOffer& offer, std::span<const std::int16_t> samples) {
    const auto payload = sip::encode_g711(*offer.codec, samples);
    sip::RtpPacket p;
    p.payload_type = static_cast<std::uint8_t>(*offer.codec);
    p.sequence = c.sequence++;
    p.timestamp = c.timestamp;
    p.ssrc = 99;
    p.payload = payload;
    c.timestamp += 160;
    auto datagram = sip::build_rtp(p);
    if (c.srtp_out) c.srtp_out->protect(datagram);
    c.media.send_to(datagram, offer.port);
  }

  // Until T.30 ends, or the caller moves the call to T.38 (its re-INVITE,
  // answered here): then the caller's T.38 parameters.
  std::optional<sip::T38Offer> run_g711(Call& c, sip::FaxReceiver& fax, const sip::AudioOffer& offer) {
    std::optional<sip::T38Offer> image;
    paced(
        c, [&] { return fax.finished(); },
        [&] {
          const auto out = fax.transmit(160);
          send_audio(c, offer, out);
          while (auto in = c.media.receive()) {
            auto* bytes = reinterpret_cast<std::uint8_t*>(in->data());
            std::size_t length = in->size();
            if (c.srtp_in && !c.srtp_in->unprotect(bytes, length)) continue;
            if (const auto rtp = sip::parse_rtp(std::span<const std::uint8_t>(bytes, length)))
              fax.receive(sip::decode_g711(*offer.codec, rtp->payload));
          }
        },
        [&](const sip::SipMessage& m) {
          if (m.method() != "INVITE") return false;
          const auto t38 = sip::parse_t38_offer(m.body());
          if (!t38 || o_.refuse_t38) {
            sip_.send_to(m.response(488, "Not Acceptable Here", c.tag), c.peer);
            return false;
          }
          const std::string sdp = t38_sdp(c);
          if (!await_ack(c, m.response(200, "OK", c.tag, contact(), "application/sdp", sdp))) return false;
          image = t38;
          return true;
        });
    return image;
  }

  static std::string t38_sdp(const Call& c) {
    return "v=0\r\no=term 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image " +
           std::to_string(c.udptl.port()) +
           " udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
           "a=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n";
  }

  // Like a line whose far end went dead: no RTP at all.
  void silence_until_bye(Call& c) {
    paced(c, [] { return false; }, [&] {
      while (c.media.receive()) {
      }
    });
  }

  // Our re-INVITE to T.38 (as a gateway sends it on hearing the fax), then T.30 over UDPTL.
  bool receive_t38(Call& c, ReceivedFax& r) {
    const std::string sdp = t38_sdp(c);
    const std::string reinvite = in_dialog(c, "INVITE", "re", 1) + contact() +
                                 "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) +
                                 "\r\n\r\n" + sdp;
    sip_.send_to(reinvite, c.peer);
    std::optional<sip::T38Offer> image;
    auto resend = now() + std::chrono::milliseconds(500);
    for (const auto deadline = now() + std::chrono::seconds(8); !image && now() < deadline && !stopping();) {
      const auto m = next_request(c);
      if (m && !m->is_request() && m->cseq_method() == "INVITE" && m->cseq_number() == 1 && m->status() >= 200) {
        if (m->status() >= 300) return false;
        image = sip::parse_t38_offer(m->body());
        if (!image) return false;
      } else if (now() > resend) {
        sip_.send_to(reinvite, c.peer);
        resend = now() + std::chrono::milliseconds(500);
      }
    }
    if (!image) return false;
    sip_.send_to(in_dialog(c, "ACK", "ack", 1) + "Content-Length: 0\r\n\r\n", c.peer);
    run_t38(c, r, *image);
    return true;
  }

  // T.30 over UDPTL with the far end at `image`.
  void run_t38(Call& c, ReceivedFax& r, const sip::T38Offer& image) {
    sip::T38Answer agreed;
    agreed.version = 0;
    agreed.transferred_tcf = true;
    agreed.peer_max_datagram = image.max_datagram == 0 ? 400 : image.max_datagram;
    const auto udptl_peer = image.port;
    sip::T38FaxTerminal fax(r.tiff, agreed, [&](std::vector<std::uint8_t> d) { c.udptl.send_to(d, udptl_peer); },
                            o_.station_id);
    paced(c, [&] { return fax.finished(); }, [&] {
      fax.advance(160);
      while (const auto in = c.udptl.receive())
        fax.receive(std::span(reinterpret_cast<const std::uint8_t*>(in->data()), in->size()));
    });
    collect(fax, r);
  }

  FaxTerminalOptions o_;
  std::optional<sip::DigestAuthenticator> auth_;
  SipPort sip_;
  const std::function<void(const ReceivedFax&)>* report_ = nullptr;
  const std::atomic<bool>* stop_ = nullptr;
  std::mutex report_mutex_;
};

}  // namespace umstore::test
