// SIP over TCP, digest authentication and per-source rate limits against the
// real endpoint on 127.0.0.1: sipp (Debian sip-tester) over TCP (-t t1) and
// UDP, and a raw TCP socket for framing, keep-alives and the idle timeout.
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "codecs/audio.hpp"
#include "ingest/pipeline.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/message.hpp"
#include "rtp.hpp"
#include "sip_message.hpp"
#include "sip/sip_server.hpp"
#include "sip_test_support.hpp"

namespace fs = std::filesystem;
using namespace umstore;
using namespace umstore::test;
using namespace std::chrono_literals;

namespace {

// The answer sipp sends to a request from the server (BYE, NOTIFY).

struct Fixture : test::SipServerFixture {
  using SipServerFixture::SipServerFixture;

  void deliver_voicemail() {
    ingest::Recording r;
    r.to_number = "+15550100";
    r.caller = {"+15550123", "Bob Caller"};
    r.file_name = "vm.wav";
    codecs::PcmAudio audio;
    audio.samples = sip::tone(440, 500);
    r.file = codecs::encode_wav_pcm16(audio);
    store->deliver("+15550100", ingest::compose(r, test::vm_settings()).rfc822);
  }
};

// A plain TCP client on 127.0.0.1 with POSIX calls.
struct TcpClient {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  explicit TcpClient(std::uint16_t port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  }
  ~TcpClient() { ::close(fd); }
  void send(std::string_view data) const {
    while (!data.empty()) {
      const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close while we write
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads until `done(text)` or the peer closes or `timeout`; returns what arrived.
  std::string read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout,
                         bool* closed = nullptr) const {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(text)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
  }
};

std::size_t count_of(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string options_request(std::uint16_t port, int n, std::string_view body = {}, std::string_view length = {}) {
  return "OPTIONS sip:umstore@127.0.0.1:" + std::to_string(port) + " SIP/2.0\r\n"
         "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKopt" + std::to_string(n) + "\r\n"
         "From: <sip:probe@127.0.0.1>;tag=p" + std::to_string(n) + "\r\nTo: <sip:umstore@127.0.0.1>\r\n"
         "Call-ID: options-" + std::to_string(n) + "@127.0.0.1\r\nCSeq: " + std::to_string(n) + " OPTIONS\r\n"
         "Max-Forwards: 70\r\nContent-Length: " + (length.empty() ? std::to_string(body.size()) : std::string(length)) +
         "\r\n\r\n" + std::string(body);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sip_tcp)

BOOST_AUTO_TEST_CASE(voicemail_over_tcp_and_the_servers_bye_on_the_same_connection) {
  Fixture f([](sip::SipServerConfig& c) {
    c.max_silence = 2s;  // the server ends the call: its BYE must come over TCP
    // (the built-in greeting and the beep take about 1.5 s before recording starts)
  });
  write_pcmu_pcap(f.dir / "audio.pcap", 2.0);
  const std::string body = invite("1") + R"(<recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200">
    <action><ereg regexp="Contact: .sip:umstore@127.0.0.1:[0-9]+;transport=tcp>" search_in="msg" check_it="true" assign_to="c"/></action>
  </recv>
)" + ack("1") + R"(
  <pause milliseconds="2500"/>
  <nop><action><exec play_pcap_audio="%PCAP%"/></action></nop>
  <recv request="BYE" timeout="20000">
    <action><ereg regexp="Via: SIP/2.0/TCP " search_in="msg" check_it="true" assign_to="v"/></action>
  </recv>
)" + kOk;
  BOOST_TEST(f.run_sipp(body, "+15550100", {.options = "-m 1 -t t1"}) == 0);
  BOOST_REQUIRE(f.wait_for_delivery(1));
  const auto& r = f.delivered.front();
  BOOST_TEST(r.to_number == "+15550100");
  BOOST_TEST(r.caller.number == "+15550123");
  const auto audio = codecs::decode_audio(r.file, "recording.wav");
  BOOST_TEST(std::abs(audio.duration_seconds() - 2.0) < 0.3, "recorded " << audio.duration_seconds() << " s");
}

BOOST_AUTO_TEST_CASE(message_summary_subscription_over_tcp_gets_its_notifies) {
  Fixture f;
  const std::string body = R"(
  <send><![CDATA[
SUBSCRIBE sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+15550100@[local_ip]>;tag=[pid]SIPpTag[call_number]
To: <sip:+15550100@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 SUBSCRIBE
Contact: <sip:phone@[local_ip]:[local_port];transport=tcp>
Event: message-summary
Accept: application/simple-message-summary
Expires: 600
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200"/>
  <recv request="NOTIFY">
    <action><ereg regexp="Via: SIP/2.0/TCP " search_in="msg" check_it="true" assign_to="v"/></action>
  </recv>
)" + std::string(kOk) + R"(
  <recv request="NOTIFY">
    <action><ereg regexp="Messages-Waiting: yes" search_in="body" check_it="true" assign_to="w"/></action>
  </recv>
)" + kOk;
  auto sipp = std::async(std::launch::async, [&] { return f.run_sipp(body, "+15550100", {.options = "-m 1 -t t1"}); });
  // The first NOTIFY reports the empty mailbox; then a voicemail arrives.
  std::this_thread::sleep_for(2s);
  f.deliver_voicemail();
  BOOST_TEST(sipp.get() == 0);
}

BOOST_AUTO_TEST_CASE(notify_opens_a_new_connection_when_the_phone_closed_its_own) {
  Fixture f;
  // The phone's own listening port, named in its Contact.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in self{};
  self.sin_family = AF_INET;
  self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&self), sizeof self) == 0);
  socklen_t len = sizeof self;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&self), &len);
  ::listen(listener, 4);
  const auto contact_port = std::to_string(ntohs(self.sin_port));
  {
    TcpClient phone(f.port());
    phone.send("SUBSCRIBE sip:+15550100@127.0.0.1 SIP/2.0\r\n"
               "Via: SIP/2.0/TCP 127.0.0.1:" + contact_port + ";branch=z9hG4bKsubtcp\r\n"
               "From: <sip:+15550100@127.0.0.1>;tag=ph1\r\nTo: <sip:+15550100@127.0.0.1>\r\n"
               "Call-ID: mwi-tcp-1@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\n"
               "Contact: <sip:phone@127.0.0.1:" + contact_port + ";transport=tcp>\r\n"
               "Event: message-summary\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n");
    const auto text =
        phone.read_until([](const std::string& t) { return t.find("Messages-Waiting: no") != std::string::npos; }, 10s);
    BOOST_TEST(text.find("SIP/2.0 200 OK") != std::string::npos, text);
    BOOST_TEST(text.find("Messages-Waiting: no") != std::string::npos, text);
  }  // the phone closes its connection
  std::this_thread::sleep_for(200ms);
  f.deliver_voicemail();
  pollfd p{listener, POLLIN, 0};
  BOOST_REQUIRE_MESSAGE(::poll(&p, 1, 10000) == 1, "no new connection for the NOTIFY");
  const int fd = ::accept(listener, nullptr, nullptr);
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (text.find("Messages-Waiting: yes") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd q{fd, POLLIN, 0};
    if (::poll(&q, 1, 500) != 1) continue;
    char buf[4096];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  BOOST_TEST(text.starts_with("NOTIFY sip:phone@127.0.0.1:" + contact_port), text);
  BOOST_TEST(text.find("Via: SIP/2.0/TCP ") != std::string::npos, text);
  BOOST_TEST(text.find("Messages-Waiting: yes") != std::string::npos, text);
  ::close(fd);
  ::close(listener);
}

BOOST_AUTO_TEST_CASE(framing_pipelining_keepalive_and_oversized_messages) {
  Fixture f;
  {
    TcpClient c(f.port());
    // Two requests in one segment, the second split across two writes.
    const std::string second = options_request(f.port(), 2);
    c.send(options_request(f.port(), 1) + second.substr(0, 40));
    std::this_thread::sleep_for(50ms);
    c.send(second.substr(40) + "\r\n\r\n");
    const auto text = c.read_until([](const std::string& t) { return count_of(t, "SIP/2.0 200 OK") >= 2 && t.ends_with("\r\n\r\n\r\n"); }, 5s);
    BOOST_TEST(count_of(text, "SIP/2.0 200 OK") == 2u, text);
    BOOST_TEST(text.find("CSeq: 2 OPTIONS") != std::string::npos, text);
    BOOST_TEST(text.ends_with("\r\n\r\n\r\n"), "the CRLF pong after the last response");
  }
  {
    TcpClient c(f.port());
    c.send(options_request(f.port(), 3, {}, "10000000"));
    bool closed = false;
    const auto text = c.read_until([](const std::string&) { return false; }, 5s, &closed);
    BOOST_TEST(text.starts_with("SIP/2.0 413 "), text);
    BOOST_TEST(text.find("CSeq: 3 OPTIONS") != std::string::npos, text);
    BOOST_TEST(closed);
  }
  {
    TcpClient c(f.port());
    c.send(std::string(20000, 'x'));  // no end of headers within the limit
    bool closed = false;
    const auto text = c.read_until([](const std::string&) { return false; }, 5s, &closed);
    BOOST_TEST(closed);
    BOOST_TEST(text.empty());
  }
  {
    TcpClient c(f.port());
    c.send("OPTIONS sip:umstore@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKx\r\n\r\n");
    bool closed = false;
    const auto text = c.read_until([](const std::string&) { return false; }, 5s, &closed);
    BOOST_TEST(text.starts_with("SIP/2.0 400 "), text);
    BOOST_TEST(closed);
  }
}

BOOST_AUTO_TEST_CASE(idle_connections_are_closed) {
  Fixture f([](sip::SipServerConfig& c) { c.tcp_idle_timeout = 1s; });
  TcpClient c(f.port());
  c.send(options_request(f.port(), 1));
  bool closed = false;
  const auto text = c.read_until([](const std::string&) { return false; }, 10s, &closed);
  BOOST_TEST(text.starts_with("SIP/2.0 200 OK"), text);
  BOOST_TEST(closed, "the idle connection was not closed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sip_digest_auth)

void require_auth(sip::SipServerConfig& c) {
  c.auth_realm = "vm.example.net";
  c.auth_users = {{"gw1", "s3cret-pass"}};
}

BOOST_AUTO_TEST_CASE(invite_with_digest_credentials_is_answered) {
  // sipp computes MD5 only, so MD5 is offered first here (SHA-256 has unit tests).
  Fixture f([](sip::SipServerConfig& c) {
    require_auth(c);
    c.auth_algorithms = {"MD5", "SHA-256"};
  });
  const std::string body = invite("1") + R"(<recv response="100" optional="true"/>
  <recv response="401" auth="true">
    <action><ereg regexp="qop=\"auth\"" search_in="msg" check_it="true" assign_to="q"/></action>
  </recv>
)" + ack("1") + invite("2", "[authentication username=gw1 password=s3cret-pass]\n") +
                           R"(<recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
)" + ack("2") + R"(<pause milliseconds="200"/>)" + bye("3");
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
}

BOOST_AUTO_TEST_CASE(wrong_password_gets_403) {
  Fixture f([](sip::SipServerConfig& c) {
    require_auth(c);
    c.auth_algorithms = {"MD5"};
  });
  const std::string body = invite("1") + R"(<recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
)" + ack("1") + invite("2", "[authentication username=gw1 password=wrong]\n") +
                           R"(<recv response="100" optional="true"/>
  <recv response="403"/>
)" + ack("2");
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
  BOOST_TEST(f.server->active_calls() == 0u);
}

BOOST_AUTO_TEST_CASE(subscribe_without_credentials_is_challenged_and_allow_list_still_applies) {
  Fixture f(require_auth);
  const std::string subscribe = R"(
  <send><![CDATA[
SUBSCRIBE sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+15550100@[local_ip]>;tag=[pid]SIPpTag[call_number]
To: <sip:+15550100@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 SUBSCRIBE
Contact: <sip:phone@[local_ip]:[local_port]>
Event: message-summary
Expires: 600
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="401">
    <action><ereg regexp="WWW-Authenticate: Digest realm=\"vm.example.net\", nonce=\"[0-9a-f]+\", algorithm=SHA-256" search_in="msg" check_it="true" assign_to="a"/></action>
  </recv>
)";
  BOOST_TEST(f.run_sipp(subscribe, "+15550100") == 0);
  // Credentials or not, an address off the allow-list is refused outright.
  Fixture g([](sip::SipServerConfig& c) {
    require_auth(c);
    c.allowed_gateways = {asio::ip::make_address("127.0.0.2")};
  });
  const std::string body = invite("1") + R"(<recv response="403"/>
)" + ack("1");
  BOOST_TEST(g.run_sipp(body, "+15550100") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sip_rate_limit)

BOOST_AUTO_TEST_CASE(one_source_over_its_limit_gets_503_others_go_on) {
  Fixture f([](sip::SipServerConfig& c) {
    c.requests_per_window = 10;
    c.rate_window = 60s;
    c.allowed_gateways = {asio::ip::make_address("127.0.0.1"), asio::ip::make_address("127.0.0.2")};
  });
  // 10 calls at 200 calls/s reach routing (404: no such mailbox); the next
  // 20 from the same address get 503 with Retry-After; another address is not affected.
  const std::string routed = invite("1") + R"(<recv response="100" optional="true"/>
  <recv response="404"/>
)" + ack("1");
  const std::string refused = invite("1") + R"(<recv response="100" optional="true"/>
  <recv response="503">
    <action><ereg regexp="Retry-After: [0-9]+" search_in="msg" check_it="true" assign_to="r"/></action>
  </recv>
)" + ack("1");
  BOOST_TEST(f.run_sipp(routed, "+15550777", {.options = "-m 10 -r 200 -l 10"}) == 0);
  BOOST_TEST(f.run_sipp(refused, "+15550777", {.options = "-m 20 -r 200 -l 20"}) == 0);
  BOOST_TEST(f.run_sipp(routed, "+15550777", {.local_ip = "127.0.0.2"}) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
