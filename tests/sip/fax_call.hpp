#pragma once
// A fax machine behind a SIP gateway, for the SIP tests and the fax
// benchmark: places a call to the endpoint and sends a TIFF with spandsp's
// T.30 calling terminal, over G.711 RTP or, after a re-INVITE to
// m=image udptl t38 as gateways send it, over T.38 with UDPTL redundancy.
// Plain POSIX sockets on 127.0.0.1, paced in real time (20 ms); SIP over
// UDP or TLS (tls_sip_stream.hpp), G.711 in RTP or SRTP keyed by SDES.
#include <netinet/in.h>
#include <spandsp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"
#include "srtp_session.hpp"
#include "tls_sip_stream.hpp"
#include "udptl.hpp"

namespace umstore::test {

struct UdpPort {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in self{};
  // `port` 0: any free one.
  explicit UdpPort(std::uint16_t port = 0) {
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    self.sin_port = htons(port);
    ::bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof self);
    socklen_t len = sizeof self;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len);
  }
  ~UdpPort() { ::close(fd); }
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  std::uint16_t port() const { return ntohs(self.sin_port); }
  void send_to(std::string_view data, std::uint16_t port) const {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  void send_to(std::span<const std::uint8_t> data, std::uint16_t port) const {
    send_to(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), port);
  }
  std::optional<std::string> receive() const {
    char buf[4096];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }
  // A datagram and the port it came from (peers are on 127.0.0.1).
  std::optional<std::pair<std::string, std::uint16_t>> receive_from() const {
    char buf[4096];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const auto n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return std::nullopt;
    return std::pair(std::string(buf, static_cast<std::size_t>(n)), ntohs(from.sin_port));
  }
};

struct FaxCallOptions {
  std::filesystem::path tiff = {};
  std::uint16_t server_port = 0;
  std::string to = "+15550100";
  std::string from = "+15550123";
  std::string call_id = "fax-call-1@127.0.0.1";
  bool t38 = false;
  unsigned drop_every = 0;           // T.38: drop every n-th UDPTL datagram sent (redundancy recovers them)
  unsigned hang_up_after_pages = 0;  // send BYE once this many pages went through (0: all of them)
  std::chrono::seconds timeout{90};
  std::filesystem::path tls_ca = {};  // set: SIP over TLS to server_port, its certificate verified with this CA
  bool srtp = false;                  // offer RTP/SAVP with an SDES key, and speak SRTP
};

struct FaxCallResult {
  bool answered = false;
  bool t38_accepted = false;
  bool bye_received = false;  // the endpoint hung up
  bool sender_done = false;   // the sender's T.30 reached phase E
  int code = -1;              // the sender's T.30 completion code
  int pages_sent = 0;
  std::string failure;        // why the call did not get going, for the test log
};

class FaxCall {
 public:
  explicit FaxCall(FaxCallOptions options) : o_(std::move(options)) {}

  FaxCallResult run() {
    try {
      if (!o_.tls_ca.empty()) tls_ = std::make_unique<TlsSipStream>(o_.server_port, o_.tls_ca);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    send_invite();
    const auto answer = await_ok(1);
    if (!answer) return fail("no 200 OK to the INVITE");
    to_tag_ = answer->to().tag;
    const auto audio = sip::parse_audio_offer(answer->body());
    if (!audio || audio->port == 0) return fail("no audio in the answer");
    if (o_.srtp) {
      if (!audio->savp || audio->crypto.empty()) return fail("no SRTP key in the answer");
      srtp_in_ = sip::SrtpSession::create(audio->crypto[0].suite, audio->crypto[0].key_params,
                                          sip::SrtpSession::Direction::Inbound);
      if (!srtp_in_) return fail("the answer's SRTP key is not usable");
    }
    result_.answered = true;
    send_ack(1);
    return o_.t38 ? run_t38() : run_g711(audio->port);
  }

 private:
  FaxCallResult fail(std::string why) {
    result_.failure = std::move(why);
    return result_;
  }

  void send_sip(std::string_view message) {
    if (tls_) tls_->send(message);
    else sip_.send_to(message, o_.server_port);
  }
  std::optional<std::string> receive_sip() { return tls_ ? tls_->receive() : sip_.receive(); }

  std::string headers(std::string_view method, unsigned cseq, std::string_view branch) const {
    const std::string transport = tls_ ? ";transport=tls" : "";
    std::string out = std::string(method) + " sip:" + o_.to + "@127.0.0.1:" + std::to_string(o_.server_port) +
                      transport + " SIP/2.0\r\nVia: SIP/2.0/" + (tls_ ? "TLS" : "UDP") + " 127.0.0.1:" +
                      std::to_string(sip_.port()) + ";branch=z9hG4bK" +
                      std::string(branch) + "\r\nFrom: \"Fax Machine\" <sip:" + o_.from +
                      "@127.0.0.1>;tag=fx1\r\nTo: <sip:" + o_.to + "@127.0.0.1>";
    if (!to_tag_.empty()) out += ";tag=" + to_tag_;
    out += "\r\nCall-ID: " + o_.call_id + "\r\nCSeq: " + std::to_string(cseq) + " " + std::string(method) +
           "\r\nContact: <sip:fax@127.0.0.1:" + std::to_string(sip_.port()) + transport +
           ">\r\nMax-Forwards: 70\r\n";
    return out;
  }
  std::string with_sdp(std::string head, const std::string& sdp) const {
    return head + "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  }
  void send_invite() {
    std::string key;
    if (o_.srtp) {
      key = sip::new_srtp_key();
      srtp_out_ = sip::SrtpSession::create(sip::kSrtpSuite80, key, sip::SrtpSession::Direction::Outbound);
    }
    invite_ = with_sdp(headers("INVITE", 1, "inv1"),
                       "v=0\r\no=fax 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " +
                           std::to_string(media_.port()) + (o_.srtp ? " RTP/SAVP 0\r\n" : " RTP/AVP 0\r\n") +
                           "a=rtpmap:0 PCMU/8000\r\n" +
                           (o_.srtp ? "a=crypto:1 " + std::string(sip::kSrtpSuite80) + " inline:" + key + "\r\n" : ""));
    send_sip(invite_);
  }
  void send_reinvite() {
    invite_ = with_sdp(headers("INVITE", 2, "inv2"),
                       "v=0\r\no=fax 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                       "m=image " + std::to_string(udptl_.port()) + " udptl t38\r\n"
                       "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
                       "a=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n");
    send_sip(invite_);
  }
  void send_ack(unsigned cseq) {
    send_sip(headers("ACK", cseq, "ack" + std::to_string(cseq)) + "Content-Length: 0\r\n\r\n");
  }
  void send_bye() { send_sip(headers("BYE", 3, "bye3") + "Content-Length: 0\r\n\r\n"); }

  // Waits for the 2xx to INVITE `cseq`, retransmitting it (timer A).
  std::optional<sip::SipMessage> await_ok(unsigned cseq) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    auto resend = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (std::chrono::steady_clock::now() > resend) {
        if (!tls_) send_sip(invite_);  // a stream is reliable (RFC 3261 17.1.1.2)
        resend += std::chrono::milliseconds(500);
      }
      while (const auto datagram = receive_sip()) {
        auto m = sip::SipMessage::parse(*datagram);
        if (!m || m->is_request() || m->cseq_number() != cseq || m->cseq_method() != "INVITE") continue;
        if (m->status() >= 200 && m->status() < 300) return m;
        if (m->status() >= 300) return std::nullopt;
      }
    }
    return std::nullopt;
  }

  // Answers the endpoint's BYE; true once it came.
  bool poll_sip() {
    while (const auto in = receive_sip()) {
      const auto m = sip::SipMessage::parse(*in);
      if (m && m->is_request() && m->method() == "BYE") {
        send_sip(m->response(200, "OK", {}));
        result_.bye_received = true;
      }
    }
    return result_.bye_received;
  }

  void configure(t30_state_t* t30) {
    t30_set_tx_ident(t30, o_.from.c_str());
    t30_set_tx_file(t30, o_.tiff.c_str(), -1, -1);
    t30_set_ecm_capability(t30, 1);
    t30_set_phase_e_handler(
        t30,
        [](t30_state_t*, void* self, int c) {
          static_cast<FaxCall*>(self)->result_.sender_done = true;
          static_cast<FaxCall*>(self)->result_.code = c;
        },
        this);
  }

  // Hangs up like a gateway whose fax machine went away part-way; true once done.
  bool hang_up_early(t30_state_t* t30) {
    t30_stats_t stats{};
    t30_get_transfer_statistics(t30, &stats);
    result_.pages_sent = stats.pages_tx;
    if (hung_up_) return true;
    if (o_.hang_up_after_pages == 0 || stats.pages_tx < static_cast<int>(o_.hang_up_after_pages)) return false;
    send_bye();
    hung_up_ = true;
    return true;
  }

  // The sender's T.30 finishes just after ours (it sends DCN last): keep
  // going until both the BYE and its own result have arrived.
  bool over() const { return result_.bye_received && result_.sender_done; }

  FaxCallResult run_g711(std::uint16_t rtp_port) {
    fax_state_t* fax = fax_init(nullptr, 1);
    fax_set_transmit_on_idle(fax, 1);
    configure(fax_get_t30_state(fax));
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
    auto next = std::chrono::steady_clock::now();
    const auto deadline = next + o_.timeout;
    while (!over() && std::chrono::steady_clock::now() < deadline) {
      std::int16_t out[160];
      const int n = fax_tx(fax, out, 160);
      std::fill(out + std::max(n, 0), out + 160, std::int16_t{0});
      const auto payload = sip::encode_g711(sip::G711::Pcmu, std::span<const std::int16_t>(out, 160));
      sip::RtpPacket p;
      p.sequence = sequence++;
      p.timestamp = timestamp;
      p.ssrc = 77;
      p.payload = payload;
      timestamp += 160;
      auto datagram = sip::build_rtp(p);
      if (srtp_out_) srtp_out_->protect(datagram);
      media_.send_to(datagram, rtp_port);
      while (auto in = media_.receive()) {
        auto* bytes = reinterpret_cast<std::uint8_t*>(in->data());
        std::size_t length = in->size();
        if (srtp_in_ && !srtp_in_->unprotect(bytes, length)) continue;
        if (const auto rtp = sip::parse_rtp(std::span<const std::uint8_t>(bytes, length))) {
          auto samples = sip::decode_g711(sip::G711::Pcmu, rtp->payload);
          fax_rx(fax, samples.data(), static_cast<int>(samples.size()));
        }
      }
      poll_sip();
      if (hang_up_early(fax_get_t30_state(fax))) break;
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
    hang_up_early(fax_get_t30_state(fax));
    fax_free(fax);
    return result_;
  }

  static int on_ifp(t38_core_state_t*, void* self, const uint8_t* buf, int len, int count) {
    auto* me = static_cast<FaxCall*>(self);
    for (int i = 0; i < std::max(count, 1); ++i) {
      const auto datagram = me->udptl_tx_.next(std::span(buf, static_cast<std::size_t>(len)));
      if (me->o_.drop_every != 0 && ++me->sent_ % me->o_.drop_every == 0) continue;  // lost on the way
      me->udptl_.send_to(datagram, me->udptl_peer_);
    }
    return 0;
  }

  FaxCallResult run_t38() {
    send_reinvite();
    const auto answer = await_ok(2);
    if (!answer) return fail("re-INVITE to T.38 not accepted");
    const auto image = sip::parse_t38_offer(answer->body());
    if (!image) return fail("no m=image in the answer to the re-INVITE");
    result_.t38_accepted = true;
    udptl_peer_ = image->port;
    send_ack(2);
    t38_terminal_state_t* terminal = t38_terminal_init(nullptr, 1, &FaxCall::on_ifp, this);
    t38_core_state_t* core = t38_terminal_get_t38_core_state(terminal);
    t38_set_t38_version(core, 0);
    t38_set_data_rate_management_method(core, T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF);
    t38_set_max_datagram_size(core, 400);
    configure(t38_terminal_get_t30_state(terminal));
    sip::UdptlReceiver udptl_rx;
    auto next = std::chrono::steady_clock::now();
    const auto deadline = next + o_.timeout;
    while (!over() && std::chrono::steady_clock::now() < deadline) {
      t38_terminal_send_timeout(terminal, 160);
      while (const auto in = udptl_.receive()) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(in->data());
        for (auto& ifp : udptl_rx.receive(std::span(bytes, in->size())))
          t38_core_rx_ifp_packet(core, ifp.data.data(), static_cast<int>(ifp.data.size()), ifp.sequence);
      }
      poll_sip();
      if (hang_up_early(t38_terminal_get_t30_state(terminal))) break;
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
    hang_up_early(t38_terminal_get_t30_state(terminal));
    t38_terminal_free(terminal);
    return result_;
  }

  FaxCallOptions o_;
  UdpPort sip_, media_, udptl_;
  std::unique_ptr<TlsSipStream> tls_;
  std::unique_ptr<sip::SrtpSession> srtp_out_, srtp_in_;
  std::string invite_, to_tag_;
  std::uint16_t udptl_peer_ = 0;
  sip::UdptlSender udptl_tx_{3, 400};
  unsigned sent_ = 0;
  bool hung_up_ = false;
  FaxCallResult result_;
};

}  // namespace umstore::test
