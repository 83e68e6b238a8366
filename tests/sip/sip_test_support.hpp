#pragma once
// What the SIP tests share: a SipServer on 127.0.0.1 over a real account
// store and Maildir in a temporary directory (recordings it hands over are
// composed and stored as serve does), sipp runs, and RTP audio for sipp.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ingest/pipeline.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/message.hpp"
#include "rtp.hpp"
#include "sip/sip_server.hpp"

namespace umstore::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline ingest::IngestSettings vm_settings() {
  ingest::IngestSettings settings;
  settings.domain = "vm.example.net";
  return settings;
}

// Free for both UDP and TCP: sipp over TCP binds its -p port for both.
inline std::uint16_t free_port() {
  for (;;) {
    asio::io_context io;
    asio::ip::udp::socket u(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = u.local_endpoint().port();
    std::error_code ec;
    asio::ip::tcp::acceptor t(io);
    t.open(asio::ip::tcp::v4());
    t.bind(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return port;
  }
}

inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

namespace pcap_detail {
inline void put16(std::ofstream& out, std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); }
inline void put32(std::ofstream& out, std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); }
inline void put_be16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
}  // namespace pcap_detail

// A pcap (Ethernet/IPv4/UDP) of `seconds` of 440 Hz PCMU in 20 ms RTP
// packets, the form sipp's play_pcap_audio replays.
inline void write_pcmu_pcap(const fs::path& path, double seconds) {
  using namespace pcap_detail;
  std::ofstream out(path, std::ios::binary);
  put32(out, 0xa1b2c3d4);
  put16(out, 2);
  put16(out, 4);
  put32(out, 0);
  put32(out, 0);
  put32(out, 65535);
  put32(out, 1);  // LINKTYPE_ETHERNET
  const auto packets = static_cast<int>(std::lround(seconds * 50));
  const auto audio = sip::tone(440, static_cast<unsigned>(packets * 20), 12000);
  for (int i = 0; i < packets; ++i) {
    const auto payload = sip::encode_g711(sip::G711::Pcmu, std::span(audio).subspan(std::size_t(i) * 160, 160));
    sip::RtpPacket p;
    p.payload_type = 0;
    p.sequence = static_cast<std::uint16_t>(1000 + i);
    p.timestamp = 8000u + 160u * static_cast<std::uint32_t>(i);
    p.ssrc = 0x1234;
    p.payload = payload;
    const auto rtp = sip::build_rtp(p);
    std::string frame(12, '\0');  // MAC addresses
    put_be16(frame, 0x0800);
    std::string ip = "\x45";
    ip += '\0';
    put_be16(ip, static_cast<std::uint16_t>(20 + 8 + rtp.size()));
    ip += std::string("\0\0\x40\0\x40\x11\0\0\x7f\0\0\x01\x7f\0\0\x01", 16);
    std::string udp;
    put_be16(udp, 40000);
    put_be16(udp, 40002);
    put_be16(udp, static_cast<std::uint16_t>(8 + rtp.size()));
    put_be16(udp, 0);
    frame += ip + udp + std::string(rtp.begin(), rtp.end());
    put32(out, static_cast<std::uint32_t>(i / 50));
    put32(out, static_cast<std::uint32_t>((i % 50) * 20000));
    put32(out, static_cast<std::uint32_t>(frame.size()));
    put32(out, static_cast<std::uint32_t>(frame.size()));
    out.write(frame.data(), static_cast<std::streamsize>(frame.size()));
  }
}

// sipp scenario steps of a caller: %TARGET% is the called user, `extra`
// headers go into the INVITE as they are.
inline std::string invite(std::string_view cseq, std::string_view extra = {}) {
  return R"(
  <send retrans="500"><![CDATA[
INVITE sip:%TARGET%@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bob Caller" <sip:+15550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:%TARGET%@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: )" + std::string(cseq) + R"( INVITE
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
)" + std::string(extra) + R"(Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000

  ]]></send>
)";
}

// sipp's 200 OK to the request it received last (a BYE from the endpoint).
inline constexpr const char* kOk = R"(
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

  ]]></send>
)";

inline std::string ack(std::string_view cseq) {
  return R"(
  <send><![CDATA[
ACK sip:%TARGET%@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bob Caller" <sip:+15550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:%TARGET%@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: )" + std::string(cseq) + R"( ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
)";
}

inline std::string bye(std::string_view cseq) {
  return R"(
  <send retrans="500"><![CDATA[
BYE sip:%TARGET%@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bob Caller" <sip:+15550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:%TARGET%@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: )" + std::string(cseq) + R"( BYE
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200"/>
)";
}

struct SippRun {
  std::string options = "-m 1";        // calls, rate, transport (-t t1)
  std::string local_ip = "127.0.0.1";  // the gateway address sipp calls from
  std::string extra_headers = {};      // replaces %EXTRA% in the scenario
};

struct SipServerFixture {
  fs::path dir;
  fs::path db = prepare(dir);
  mailstore::SqliteAccountStore accounts{db};
  std::unique_ptr<mailstore::MailStore> store = mailstore::open_maildir_store(dir / "mail");
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<sip::SipServer> server;
  std::vector<std::jthread> threads;
  std::mutex mutex;
  std::condition_variable delivered_cv;
  std::vector<ingest::Recording> delivered;

  // Mailbox +15550100 exists; `adjust` changes the configuration before the server starts.
  explicit SipServerFixture(const std::function<void(sip::SipServerConfig&)>& adjust = {})
      : dir(fs::temp_directory_path() / ("umstore-sip-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++))) {
    accounts.add({"+15550100", "Alice Example", "", 0}, "secret");
    sip::SipServerConfig config;
    config.listen = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    config.allowed_gateways = {asio::ip::make_address("127.0.0.1")};
    config.recordings_dir = dir / "recordings";
    config.deliver = [this](ingest::Recording r) {
      const auto message = ingest::compose(r, vm_settings());
      store->deliver(message.recipient_number, message.rfc822);
      std::lock_guard lock(mutex);
      delivered.push_back(std::move(r));
      delivered_cv.notify_all();
    };
    if (adjust) adjust(config);
    server = std::make_unique<sip::SipServer>(io, std::move(config), accounts, *store);
    server->start();
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }

  ~SipServerFixture() {
    server->stop();
    work.reset();
    io.stop();
    threads.clear();
    server.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  SipServerFixture(const SipServerFixture&) = delete;
  SipServerFixture& operator=(const SipServerFixture&) = delete;

  std::uint16_t port() const { return server->local_endpoint().port(); }

  // Runs sipp with the scenario body; returns its exit status (0: every call passed).
  int run_sipp(const std::string& body, const std::string& target, const SippRun& run = {}) {
    static int scenario_number = 0;
    const auto scenario_file = dir / ("scenario" + std::to_string(++scenario_number) + ".xml");
    // Variables that only serve check_it must still be referenced, or sipp refuses the scenario.
    std::string references;
    for (auto at = body.find("assign_to=\""); at != std::string::npos; at = body.find("assign_to=\"", at + 1)) {
      const auto start = at + 11;
      references += (references.empty() ? "" : ",") + body.substr(start, body.find('"', start) - start);
    }
    std::string xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"umstore\">\n" + body +
                      (references.empty() ? "" : "<Reference variables=\"" + references + "\"/>\n") + "</scenario>\n";
    xml = replace_all(xml, "%TARGET%", target);
    xml = replace_all(xml, "%EXTRA%", run.extra_headers);
    xml = replace_all(xml, "%PCAP%", (dir / "audio.pcap").string());
    std::ofstream(scenario_file) << xml;
    const auto out = dir / ("sipp" + std::to_string(scenario_number) + ".out");
    const std::string cmd = "cd " + dir.string() + " && sipp 127.0.0.1:" + std::to_string(port()) + " -sf " +
                            scenario_file.string() + " " + run.options + " -i " + run.local_ip + " -p " +
                            std::to_string(free_port()) + " -mi " + run.local_ip + " -mp " +
                            std::to_string(free_port()) + " -timeout 30s -timeout_error -nostdin > " + out.string() +
                            " 2>&1 < /dev/null";
    const int status = std::system(cmd.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) BOOST_TEST_MESSAGE("sipp output:\n" << read_text(out));
    return code;
  }

  bool wait_for_delivery(std::size_t count, std::chrono::seconds timeout = 15s) {
    std::unique_lock lock(mutex);
    return delivered_cv.wait_for(lock, timeout, [&] { return delivered.size() >= count; });
  }

  std::vector<std::string> inbox() {
    auto folder = store->user("+15550100")->open("INBOX");
    std::vector<std::string> out;
    for (const auto& info : folder->snapshot())
      if (auto data = folder->open_message(info.uid)) out.emplace_back(data->bytes());
    return out;
  }

 private:
  static fs::path prepare(const fs::path& d) {
    fs::create_directories(d);
    return d / "accounts.db";
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

// Every page decoded by libtiff: one byte per pixel, 1 for black.
using Page = std::vector<std::vector<std::uint8_t>>;
inline std::vector<Page> decode_pages(const std::filesystem::path& path) {
  std::vector<Page> pages;
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  BOOST_REQUIRE(tif);
  do {
    std::uint32_t width = 0, length = 0;
    std::uint16_t photometric = PHOTOMETRIC_MINISWHITE;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &length);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    std::vector<std::uint8_t> line(static_cast<std::size_t>(TIFFScanlineSize(tif)));
    Page page;
    for (std::uint32_t row = 0; row < length; ++row) {
      if (TIFFReadScanline(tif, line.data(), row, 0) < 0) break;
      std::vector<std::uint8_t> pixels(width);
      for (std::uint32_t x = 0; x < width; ++x) {
        const bool bit = (line[x / 8] >> (7 - x % 8)) & 1;
        pixels[x] = (photometric == PHOTOMETRIC_MINISWHITE) ? bit : !bit;
      }
      page.push_back(std::move(pixels));
    }
    pages.push_back(std::move(page));
  } while (TIFFReadDirectory(tif));
  TIFFClose(tif);
  return pages;
}

}  // namespace umstore::test
