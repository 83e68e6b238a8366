// Real calls from sipp (Debian sip-tester) against the SIP endpoint on
// 127.0.0.1: voicemail with G.711 RTP from a pcap, CANCEL, BYE during the
// greeting, unknown mailbox, refused gateway.
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <spandsp.h>
#include <sys/socket.h>
#include <tiffio.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "mailstore/message.hpp"
#include "sip_message.hpp"
#include "ingest/pipeline.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "fax_call.hpp"
#include "recording_file.hpp"
#include "rtp.hpp"
#include "sip/sip_server.hpp"
#include "sip_test_support.hpp"

namespace fs = std::filesystem;
using namespace umstore;
using namespace umstore::test;
using namespace std::chrono_literals;

namespace {

const char* kCancel = R"(
  <send><![CDATA[
CANCEL sip:%TARGET%@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-2]
From: "Bob Caller" <sip:+15550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:%TARGET%@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

  ]]></send>
)";

void write_greeting(const fs::path& path) {
  codecs::PcmAudio greeting;
  greeting.samples = sip::tone(500, 300);
  const auto wav = codecs::encode_wav_pcm16(greeting);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(wav.data()), static_cast<std::streamsize>(wav.size()));
}

// The server as a gateway meets it: a greeting and a short answer delay.
struct Fixture : test::SipServerFixture {
  explicit Fixture(std::vector<std::string> allowed = {"127.0.0.1"})
      : SipServerFixture([&allowed](sip::SipServerConfig& config) {
          const fs::path greeting = config.recordings_dir.parent_path() / "greeting.wav";
          write_greeting(greeting);
          config.allowed_gateways.clear();
          for (const auto& a : allowed) config.allowed_gateways.push_back(asio::ip::make_address(a));
          config.answer_delay = 300ms;
          config.greeting_for = [greeting](std::string_view) { return std::optional<fs::path>(greeting); };
        }) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sip_calls)

BOOST_AUTO_TEST_CASE(voicemail_from_forwarded_call_reaches_the_mailbox) {
  Fixture f;
  write_pcmu_pcap(f.dir / "audio.pcap", 3.0);
  const std::string body = invite("1", "%EXTRA%") +
                           R"(<recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
)" + ack("1") + R"(
  <pause milliseconds="1500"/>
  <nop><action><exec play_pcap_audio="%PCAP%"/></action></nop>
  <pause milliseconds="3400"/>
)" + bye("2");
  BOOST_TEST(f.run_sipp(body, "+15550999", {.extra_headers = "Diversion: <sip:+15550100@[local_ip]>;reason=no-answer\n"}) == 0);
  BOOST_REQUIRE(f.wait_for_delivery(1));
  const auto& r = f.delivered.front();
  BOOST_TEST(r.to_number == "+15550100");
  BOOST_TEST(r.caller.number == "+15550123");
  BOOST_TEST(r.caller.name == "Bob Caller");
  const auto audio = codecs::decode_audio(r.file, "recording.wav");
  BOOST_TEST(std::abs(audio.duration_seconds() - 3.0) < 0.3, "recorded " << audio.duration_seconds() << " s");
  const auto messages = f.inbox();
  BOOST_REQUIRE(messages.size() == 1u);
  BOOST_TEST(messages[0].find("Bob Caller") != std::string::npos);
  BOOST_TEST(messages[0].find("Caller-ID: 15550123") != std::string::npos);
  BOOST_TEST(messages[0].find("audio/32KADPCM") != std::string::npos);
  for (int i = 0; i < 50 && !fs::is_empty(f.dir / "recordings"); ++i) std::this_thread::sleep_for(20ms);
  BOOST_TEST(fs::is_empty(f.dir / "recordings"));
}

// A crash mid-call leaves <id>.json and <id>.pcm: the next start delivers
// what was said and cleans up, also after a crash before any audio came.
BOOST_AUTO_TEST_CASE(voicemail_left_by_a_crash_is_delivered_at_start) {
  const sip::RecordingMeta meta{"+15550100", "Alice Example", {"+15550123", "Bob Caller"},
                                std::chrono::system_clock::now()};
  test::SipServerFixture f([&meta](sip::SipServerConfig& config) {
    sip::RecordingFile spoken(config.recordings_dir, "spoken", meta);
    spoken.append(sip::tone(440, 1500));
    spoken.sync();
    sip::RecordingFile silent(config.recordings_dir, "silent", meta);
  });
  BOOST_REQUIRE(f.wait_for_delivery(1));
  const auto& r = f.delivered.front();
  BOOST_TEST(r.to_number == "+15550100");
  BOOST_TEST(r.caller.name == "Bob Caller");
  BOOST_TEST(std::abs(codecs::decode_audio(r.file, "recording.wav").duration_seconds() - 1.5) < 0.01);
  for (int i = 0; i < 50 && !fs::is_empty(f.dir / "recordings"); ++i) std::this_thread::sleep_for(20ms);
  BOOST_TEST(fs::is_empty(f.dir / "recordings"));
  BOOST_TEST(f.inbox().size() == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_before_answer_ends_the_call_without_a_message) {
  Fixture f;
  const std::string body = invite("1", "%EXTRA%") + R"(<recv response="100" optional="true"/>
  <recv response="180"/>
)" + kCancel + R"(
  <recv response="200"/>
  <recv response="487"/>
)" + ack("1");
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(f.server->active_calls() == 0u);
  BOOST_TEST(f.delivered.empty());
  BOOST_TEST(f.inbox().empty());
}

BOOST_AUTO_TEST_CASE(bye_during_the_greeting_leaves_no_message) {
  Fixture f;
  const std::string body = invite("1", "%EXTRA%") + R"(<recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
)" + ack("1") + R"(<pause milliseconds="200"/>)" + bye("2");
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(f.server->active_calls() == 0u);
  BOOST_TEST(f.delivered.empty());
  BOOST_TEST(f.inbox().empty());
}

// Over quota: the caller hears the notice (RTP arrives at the port the
// INVITE's SDP names), the endpoint hangs up, and nothing is recorded.
BOOST_AUTO_TEST_CASE(a_full_mailbox_plays_a_notice_hangs_up_and_stores_nothing) {
  Fixture f;
  f.store->user("+15550100")->set_count_limits(1, 0);
  f.store->deliver("+15550100", "Subject: fills it\r\n\r\nx\r\n");
  write_pcmu_pcap(f.dir / "audio.pcap", 2.0);
  const int media = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(media, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0);
  socklen_t length = sizeof at;
  ::getsockname(media, reinterpret_cast<sockaddr*>(&at), &length);
  const std::string body = replace_all(invite("1", "%EXTRA%"), "m=audio [media_port]",
                                       "m=audio " + std::to_string(ntohs(at.sin_port))) +
                           R"(<recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
)" + ack("1") + R"(
  <nop><action><exec play_pcap_audio="%PCAP%"/></action></nop>
  <recv request="BYE" timeout="15000"/>
)" + kOk;
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
  std::size_t packets = 0;
  std::uint8_t buffer[2048];
  while (::recv(media, buffer, sizeof buffer, 0) > 0) ++packets;
  ::close(media);
  BOOST_TEST(packets >= 150u, packets << " RTP packets of notice");  // 4 s at 20 ms
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(f.server->active_calls() == 0u);
  BOOST_TEST(f.delivered.empty());
  BOOST_TEST(f.inbox().size() == 1u);
  BOOST_TEST((!fs::exists(f.dir / "recordings") || fs::is_empty(f.dir / "recordings")));
}

BOOST_AUTO_TEST_CASE(unknown_mailbox_gets_404) {
  Fixture f;
  const std::string body = invite("1", "%EXTRA%") + R"(<recv response="100" optional="true"/>
  <recv response="404"/>
)" + ack("1");
  BOOST_TEST(f.run_sipp(body, "+15550777") == 0);
  BOOST_TEST(f.server->active_calls() == 0u);
}

BOOST_AUTO_TEST_CASE(gateway_not_on_the_allow_list_gets_403) {
  Fixture f({"127.0.0.2"});
  const std::string body = invite("1", "%EXTRA%") + R"(<recv response="403"/>
)" + ack("1");
  BOOST_TEST(f.run_sipp(body, "+15550100") == 0);
  BOOST_TEST(f.server->active_calls() == 0u);
}

namespace {

using test::FaxCall;
using test::FaxCallOptions;
using test::UdpPort;

const fs::path kSampleFax = fs::path(UMSTORE_TEST_DATA) / ".." / ".." / "samples" / "fax.tif";

codecs::FaxDocument inspect_file(const fs::path& tiff) {
  std::ifstream in(tiff, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  return codecs::inspect_tiff(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                              tiff.filename().string());
}


// Share of pixels that differ over the rows both pages have.
double pixels_differing(const Page& a, const Page& b) {
  std::size_t differ = 0, total = 0;
  for (std::size_t row = 0; row < std::min(a.size(), b.size()); ++row)
    for (std::size_t x = 0; x < std::min(a[row].size(), b[row].size()); ++x) {
      differ += a[row][x] != b[row][x];
      ++total;
    }
  return total == 0 ? 1.0 : static_cast<double>(differ) / static_cast<double>(total);
}

std::size_t black_pixels(const Page& page) {
  std::size_t n = 0;
  for (const auto& row : page)
    for (const auto p : row) n += p;
  return n;
}

// The received fax has the first `pages` sent pages: width, length (a few
// lines of slack for end-of-page handling) and the same pixels.
void check_pages_match(const ingest::Recording& r, std::size_t pages, const fs::path& scratch) {
  BOOST_TEST((r.kind == ingest::Kind::Fax));
  BOOST_TEST(r.caller.number == "+15550123");
  const auto sent = inspect_file(kSampleFax);
  const auto received = codecs::inspect_tiff(r.file, r.file_name);
  BOOST_REQUIRE(received.pages.size() == pages);
  std::ofstream(scratch, std::ios::binary)
      .write(reinterpret_cast<const char*>(r.file.data()), static_cast<std::streamsize>(r.file.size()));
  const auto sent_pixels = decode_pages(kSampleFax);
  const auto got_pixels = decode_pages(scratch);
  BOOST_REQUIRE(got_pixels.size() == pages);
  for (std::size_t i = 0; i < pages; ++i) {
    BOOST_TEST(received.pages[i].width == sent.pages[i].width);
    BOOST_TEST(std::abs(static_cast<long>(received.pages[i].length) - static_cast<long>(sent.pages[i].length)) < 8);
    BOOST_TEST(black_pixels(got_pixels[i]) > 1000u);  // a page with text on it, not a blank one
    BOOST_TEST(pixels_differing(sent_pixels[i], got_pixels[i]) < 0.001, "page " << i + 1);
  }
}

}  // namespace

namespace {

// Sends samples/fax.tif as a gateway would and checks what reached the
// mailbox: every page when the sender finished, else those that arrived,
// with a note saying the fax ended early.
void check_fax_call(FaxCallOptions o) {
  Fixture f;
  o.tiff = kSampleFax;
  o.server_port = f.server->local_endpoint().port();
  const auto result = FaxCall(o).run();
  if (o.t38) BOOST_TEST_REQUIRE(result.t38_accepted, result.failure);
  else BOOST_TEST_REQUIRE(result.answered, result.failure);
  BOOST_REQUIRE(f.wait_for_delivery(1));
  const auto& fax = f.delivered.front();
  if (o.hang_up_after_pages == 0) {
    BOOST_TEST(result.sender_done);
    BOOST_TEST(result.code == T30_ERR_OK, "sender T.30 result: " << t30_completion_code_to_str(result.code));
    BOOST_TEST(result.bye_received);
    check_pages_match(fax, 2, f.dir / "received.tif");
    BOOST_TEST(fax.note.empty(), fax.note);
    const auto messages = f.inbox();
    BOOST_REQUIRE(messages.size() == 1u);
    BOOST_TEST(messages[0].find("image/tiff") != std::string::npos);
  } else {
    BOOST_TEST(result.pages_sent == o.hang_up_after_pages);
    check_pages_match(fax, o.hang_up_after_pages, f.dir / "received.tif");
    BOOST_TEST(fax.note.find("ended early, after 1 page") != std::string::npos, fax.note);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(fax_over_g711_is_detected_received_and_delivered) { check_fax_call({}); }

BOOST_AUTO_TEST_CASE(fax_over_t38_after_the_gateways_reinvite_is_received_and_delivered) {
  check_fax_call({.t38 = true, .drop_every = 9});  // UDPTL redundancy has to bring the dropped ones back
}

// The gateway hangs up after the first page (the sending machine gave up):
// the page that arrived is still delivered.
BOOST_AUTO_TEST_CASE(fax_cut_off_after_one_page_delivers_that_page_g711) {
  check_fax_call({.hang_up_after_pages = 1});
}

BOOST_AUTO_TEST_CASE(fax_cut_off_after_one_page_delivers_that_page_t38) {
  check_fax_call({.t38 = true, .hang_up_after_pages = 1});
}

namespace {

// Receives for up to 10 s, answering every request (our NOTIFYs) with 200 OK,
// until a message for which `wanted` is true.
template <typename Wanted>
std::optional<sip::SipMessage> receive_until(const UdpPort& port, std::uint16_t server_port, Wanted wanted) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto datagram = port.receive();
    if (!datagram) {
      std::this_thread::sleep_for(10ms);
      continue;
    }
    auto m = sip::SipMessage::parse(*datagram);
    if (!m) continue;
    if (m->is_request()) port.send_to(m->response(200, "OK", {}), server_port);
    if (wanted(*m)) return m;
  }
  return std::nullopt;
}

// Waits for a NOTIFY whose body contains `expected`.
bool wait_for_notify(const UdpPort& port, std::uint16_t server_port, std::string_view expected,
                     std::string& last_body) {
  return receive_until(port, server_port, [&](const sip::SipMessage& m) {
           if (!m.is_request() || m.method() != "NOTIFY") return false;
           last_body = m.body();
           return last_body.find(expected) != std::string::npos;
         }).has_value();
}

std::string subscribe_request(const UdpPort& phone, std::string_view call_id, std::string_view expires) {
  return "SUBSCRIBE sip:+15550100@127.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(phone.port()) + ";branch=z9hG4bK" + std::string(call_id) +
         "\r\nFrom: <sip:+15550100@127.0.0.1>;tag=ph1\r\nTo: <sip:+15550100@127.0.0.1>\r\n"
         "Call-ID: " + std::string(call_id) + "\r\nCSeq: 1 SUBSCRIBE\r\n"
         "Contact: <sip:phone@127.0.0.1:" + std::to_string(phone.port()) + ">\r\n"
         "Event: message-summary\r\nExpires: " + std::string(expires) + "\r\nContent-Length: 0\r\n\r\n";
}

// The final response to the request with `call_id`.
std::optional<sip::SipMessage> wait_for_final_response(const UdpPort& port, std::uint16_t server_port,
                                                       std::string_view call_id) {
  return receive_until(port, server_port, [&](const sip::SipMessage& m) {
    return !m.is_request() && m.call_id() == call_id && m.status() >= 200;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(message_summary_expires_is_clamped_and_a_non_number_refused) {
  Fixture f;
  UdpPort phone;
  const auto server_port = f.server->local_endpoint().port();
  phone.send_to(subscribe_request(phone, "mwi-bad@127.0.0.1", "soon"), server_port);
  const auto refused = wait_for_final_response(phone, server_port, "mwi-bad@127.0.0.1");
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->status() == 400);

  phone.send_to(subscribe_request(phone, "mwi-short@127.0.0.1", "5"), server_port);
  const auto accepted = wait_for_final_response(phone, server_port, "mwi-short@127.0.0.1");
  BOOST_REQUIRE(accepted);
  BOOST_TEST(accepted->status() == 200);
  BOOST_TEST(accepted->header("expires") == "60");
}

// A source at its cap gets 503 with Retry-After for a new subscription, while
// the ones it holds are still refreshed; ending one makes room again.
BOOST_AUTO_TEST_CASE(message_summary_subscriptions_are_capped_per_address_and_in_all) {
  for (const bool per_address : {true, false}) {
    test::SipServerFixture f([per_address](sip::SipServerConfig& config) {
      config.max_subscriptions = per_address ? 100 : 2;
      config.max_subscriptions_per_address = per_address ? 2 : 100;
    });
    UdpPort phone;
    const auto server_port = f.server->local_endpoint().port();
    const auto answer = [&](std::string_view call_id, std::string_view expires) {
      phone.send_to(subscribe_request(phone, call_id, expires), server_port);
      const auto response = wait_for_final_response(phone, server_port, call_id);
      BOOST_REQUIRE(response);
      return *response;
    };
    BOOST_TEST(answer("cap-1@127.0.0.1", "600").status() == 200);
    BOOST_TEST(answer("cap-2@127.0.0.1", "600").status() == 200);
    const auto refused = answer("cap-3@127.0.0.1", "600");
    BOOST_TEST(refused.status() == 503);
    BOOST_TEST(refused.header("retry-after") == "60");
    BOOST_TEST(answer("cap-1@127.0.0.1", "600").status() == 200);  // a refresh of one held
    BOOST_TEST(answer("cap-2@127.0.0.1", "0").status() == 200);    // ended: room for one more
    BOOST_TEST(answer("cap-3@127.0.0.1", "600").status() == 200);
  }
}

BOOST_AUTO_TEST_CASE(message_summary_subscriber_sees_the_lamp_go_on_and_off) {
  Fixture f;
  UdpPort phone;
  const auto server_port = f.server->local_endpoint().port();
  phone.send_to("SUBSCRIBE sip:+15550100@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(phone.port()) + ";branch=z9hG4bKsub1\r\n"
                "From: <sip:+15550100@127.0.0.1>;tag=ph1\r\nTo: <sip:+15550100@127.0.0.1>\r\n"
                "Call-ID: mwi-1@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\n"
                "Contact: <sip:phone@127.0.0.1:" + std::to_string(phone.port()) + ">\r\n"
                "Event: message-summary\r\nAccept: application/simple-message-summary\r\nExpires: 600\r\n"
                "Content-Length: 0\r\n\r\n",
                server_port);
  std::string body;
  BOOST_REQUIRE_MESSAGE(wait_for_notify(phone, server_port, "Messages-Waiting: no", body), body);

  ingest::Recording r;
  r.to_number = "+15550100";
  r.caller = {"+15550123", "Bob Caller"};
  r.file_name = "vm.wav";
  codecs::PcmAudio audio;
  audio.samples = sip::tone(440, 500);
  r.file = codecs::encode_wav_pcm16(audio);
  const auto message = ingest::compose(r, test::vm_settings());
  f.store->deliver("+15550100", message.rfc822);
  BOOST_TEST(wait_for_notify(phone, server_port, "Messages-Waiting: yes", body), body);
  BOOST_TEST(body.find("Voice-Message: 1/0") != std::string::npos, body);

  auto inbox = f.store->user("+15550100")->open("INBOX");
  std::vector<std::uint32_t> uids;
  for (const auto& info : inbox->snapshot()) uids.push_back(info.uid);
  inbox->change_flags(uids, mailstore::FlagChange::Add, mailstore::kSeen);
  BOOST_TEST(wait_for_notify(phone, server_port, "Messages-Waiting: no", body), body);
  BOOST_TEST(body.find("Voice-Message: 0/1") != std::string::npos, body);
}

BOOST_AUTO_TEST_SUITE_END()
