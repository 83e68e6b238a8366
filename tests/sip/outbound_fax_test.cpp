// Faxes sent from mail (SipServer::send_fax) to a receiving fax terminal
// behind a "gateway" on 127.0.0.1 (fax_terminal.hpp): sent over G.711 and
// T.38 with every page arriving intact, with digest authentication, with
// the gateway's SIP over TCP, and the
// calls that do not get through: busy, no answer, no fax at the far end,
// wrong password, nobody there. Faxes over G.711 run in real time, so every
// call is placed at once when the suite starts and each case waits for its
// own result.
#include <boost/test/unit_test.hpp>

#include <spandsp.h>
#include <tiffio.h>

#include <future>
#include <map>

#include "fax_terminal.hpp"
#include "outbound_call.hpp"
#include "sip/fax_dialer.hpp"
#include "sip_test_support.hpp"

namespace fs = std::filesystem;
using namespace umstore;
using namespace umstore::test;
using namespace std::chrono_literals;

namespace {

const fs::path kSampleFax = fs::path(UMSTORE_TEST_DATA) / ".." / ".." / "samples" / "fax.tif";  // 2 pages
const std::string kTerminalCsi = "+15550199 TERMINAL";

// One scenario: a terminal on its own port, the fax sent to it, the results.
struct Scenario {
  std::unique_ptr<FaxTerminal> terminal;
  std::jthread thread;
  std::atomic<bool> stop{false};
  std::promise<ReceivedFax> received;
  std::future<ReceivedFax> terminal_result = received.get_future();
  std::promise<sip::FaxCallResult> sent;
  std::future<sip::FaxCallResult> result = sent.get_future();
  fs::path out;
};

// Every call, placed when the first case asks for any of them.
struct OutboundCalls {
  // Before the server: it is stopped first, and the calls it abandons then
  // still have their scenario to report to.
  std::map<std::string, std::unique_ptr<Scenario>> scenarios;
  SipServerFixture server;

  OutboundCalls() {
    add("g711", {}, {});
    add("busy", {.busy = true}, {});
    add("no_answer", {.no_answer = true}, {.ring_timeout = 2s});
    add("no_fax", {.no_fax = true}, {});
    add("digest", {.auth_user = "gw-user", .auth_password = "gw-secret"}, {.user = "gw-user", .password = "gw-secret"});
    add("wrong_password", {.auth_user = "gw-user", .auth_password = "gw-secret"},
        {.user = "gw-user", .password = "not-it"});
    add("t38", {.t38 = true}, {});
    add("t38_offered", {}, {.t38 = sip::FaxGateway::T38::offer});
    add("t38_offer_refused", {.refuse_t38 = true}, {.t38 = sip::FaxGateway::T38::offer});
    add("tcp", {.t38 = true, .tcp = true}, {});
    // Nobody at this port: the INVITE goes unanswered until Timer B (32 s).
    const auto nobody = free_port();
    auto& s = *scenarios.emplace("unreachable", std::make_unique<Scenario>()).first->second;
    send(s, "sip:127.0.0.1:" + std::to_string(nobody), {});
  }

  void add(const std::string& name, FaxTerminalOptions options, sip::FaxGateway gateway) {
    auto& s = *scenarios.emplace(name, std::make_unique<Scenario>()).first->second;
    s.out = server.dir / ("terminal-" + name);
    fs::create_directories(s.out);
    options.out_dir = s.out;
    options.calls = 1;
    options.station_id = kTerminalCsi;
    s.terminal = std::make_unique<FaxTerminal>(options);
    s.thread = std::jthread([&s] {
      s.terminal->run([&s](const ReceivedFax& r) { s.received.set_value(r); }, s.stop);
    });
    send(s, "sip:127.0.0.1:" + std::to_string(s.terminal->port()) + (options.tcp ? ";transport=tcp" : ""),
         std::move(gateway));
  }

  void send(Scenario& s, std::string uri, sip::FaxGateway gateway) {
    gateway.uri = std::move(uri);
    sip::OutboundFax fax;
    fax.number = "+12025550123";
    fax.sub_address = "4711";
    fax.caller_id = "+15550100";
    fax.station_id = "+15550100 UMSTORE";
    fax.page_header = "umstore test fax";
    fax.tiff = kSampleFax;
    server.server->send_fax(std::move(fax), std::move(gateway),
                            [&s](sip::FaxCallResult r) { s.sent.set_value(std::move(r)); });
  }

  ~OutboundCalls() {
    for (auto& [name, s] : scenarios) s->stop = true;
  }
};

OutboundCalls& calls() {
  static OutboundCalls all;
  return all;
}

sip::FaxCallResult result_of(const std::string& name, std::chrono::seconds timeout = 120s) {
  auto& f = calls().scenarios.at(name)->result;
  BOOST_REQUIRE_MESSAGE(f.wait_for(timeout) == std::future_status::ready, name << ": no result");
  const auto r = f.get();
  BOOST_TEST_MESSAGE(name << ": " << sip::to_string(r.outcome) << ", SIP " << r.sip_status << " " << r.sip_reason
                          << ", T.30 " << r.t30_code << " " << r.t30_result << ", pages " << r.pages_sent << "/"
                          << r.pages_total << ", " << r.duration.count() << " ms");
  return r;
}

ReceivedFax terminal_result_of(const std::string& name) {
  auto& f = calls().scenarios.at(name)->terminal_result;
  BOOST_REQUIRE_MESSAGE(f.wait_for(30s) == std::future_status::ready, name << ": the terminal reported nothing");
  return f.get();
}


// A fax that went: both ends agree on the pages, and the pages are the ones
// sent. Returns what the terminal reported.
ReceivedFax check_sent(const std::string& name, bool t38) {
  const auto r = result_of(name);
  const auto got = terminal_result_of(name);
  BOOST_TEST(sip::to_string(r.outcome) == "sent");
  BOOST_TEST(r.sip_status == 200);
  BOOST_TEST(r.t30_code == T30_ERR_OK, r.t30_result);
  BOOST_TEST(r.t38 == t38);
  BOOST_TEST(!r.retry_may_help());
  BOOST_TEST(r.pages_total == 2u);
  BOOST_TEST(r.pages_sent == r.pages_total);
  BOOST_TEST(got.pages == r.pages_total);
  BOOST_TEST(got.code == T30_ERR_OK, got.result);
  BOOST_TEST(got.t38 == t38);
  BOOST_TEST(r.remote_station == kTerminalCsi);
  BOOST_TEST(got.remote_station == "+15550100 UMSTORE");
  BOOST_TEST(got.sub_address == "4711");
  BOOST_TEST(got.to == "+12025550123");
  BOOST_TEST(got.from == "+15550100");
  BOOST_TEST(r.duration > 5s);
  // The page header line comes on top of each page: the rows below it are the sent page's.
  const auto sent_pages = decode_pages(kSampleFax);
  const auto received = decode_pages(got.tiff);
  BOOST_REQUIRE(received.size() == sent_pages.size());
  for (std::size_t i = 0; i < sent_pages.size(); ++i) {
    BOOST_REQUIRE(received[i].size() >= sent_pages[i].size());
    const std::size_t header = received[i].size() - sent_pages[i].size();
    BOOST_TEST((header > 0 && header < 100), "page " << i + 1 << ": " << header << " rows of header");
    std::size_t differing = 0, header_black = 0;
    for (std::size_t row = 0; row < header; ++row)
      for (const auto pixel : received[i][row]) header_black += pixel;
    BOOST_TEST(header_black > 100u, "page " << i + 1 << ": the header line is blank");
    for (std::size_t row = 0; row < sent_pages[i].size(); ++row) {
      BOOST_TEST_REQUIRE(received[i][header + row].size() == sent_pages[i][row].size());
      differing += received[i][header + row] != sent_pages[i][row];
    }
    BOOST_TEST(differing == 0u, "page " << i + 1 << ": " << differing << " rows differ");
  }
  return got;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound_fax)

BOOST_AUTO_TEST_CASE(gateway_uris_are_parsed_and_answers_mapped) {
  const auto udp = sip::parse_gateway_uri("sip:127.0.0.1:5070");
  BOOST_REQUIRE(udp);
  BOOST_TEST(udp->host == "127.0.0.1");
  BOOST_TEST(udp->port == 5070);
  BOOST_TEST(!udp->tcp);
  const auto tcp = sip::parse_gateway_uri("sip:gw.example.net;transport=TCP");
  BOOST_REQUIRE(tcp);
  BOOST_TEST(tcp->host == "gw.example.net");
  BOOST_TEST(tcp->port == 5060);
  BOOST_TEST(tcp->tcp);
  const auto v6 = sip::parse_gateway_uri("sip:[::1]:5080");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  // TLS: sips: or ;transport=tls, port 5061 unless given; sips: over anything but TLS is not a thing.
  const auto sips = sip::parse_gateway_uri("sips:gw.example.net");
  BOOST_REQUIRE(sips);
  BOOST_TEST((sips->tls && sips->tcp && sips->sips && sips->port == 5061));
  const auto tls = sip::parse_gateway_uri("sip:gw.example.net:5071;transport=TLS");
  BOOST_REQUIRE(tls);
  BOOST_TEST((tls->tls && !tls->sips && tls->port == 5071));
  BOOST_TEST(!sip::parse_gateway_uri("sips:gw.example.net;transport=udp"));
  BOOST_TEST(!sip::parse_gateway_uri("sip:gw.example.net;transport=sctp"));
  BOOST_TEST(!sip::parse_gateway_uri("sip:gw:99999"));
  BOOST_TEST(sip::to_string(sip::outcome_of_status(486)) == "busy");
  BOOST_TEST(sip::to_string(sip::outcome_of_status(600)) == "busy");
  BOOST_TEST(sip::to_string(sip::outcome_of_status(480)) == "no_answer");
  BOOST_TEST(sip::to_string(sip::outcome_of_status(503)) == "unreachable");
  BOOST_TEST(sip::to_string(sip::outcome_of_status(404)) == "refused");
  BOOST_TEST(sip::to_string(sip::outcome_of_status(603)) == "refused");
  // RFC 3263 §4.2: a domain without a port is looked up by SRV; an address or a port is used as it is.
  BOOST_TEST(sip::gateway_srv_name("sip:gw.example.net").value() == "_sip._udp.gw.example.net");
  BOOST_TEST(sip::gateway_srv_name("sip:gw.example.net;transport=tcp").value() == "_sip._tcp.gw.example.net");
  BOOST_TEST(sip::gateway_srv_name("sips:gw.example.net").value() == "_sips._tcp.gw.example.net");
  BOOST_TEST(!sip::gateway_srv_name("sip:gw.example.net:5070"));
  BOOST_TEST(!sip::gateway_srv_name("sip:192.0.2.10"));
  BOOST_TEST(!sip::gateway_srv_name("sip:[2001:db8::1]"));
  BOOST_TEST(!sip::gateway_srv_name("mailto:gw@example.net"));
}

BOOST_AUTO_TEST_CASE(a_fax_over_g711_arrives_page_for_page) {
  calls();  // places every call of the suite
  check_sent("g711", false);
}

BOOST_AUTO_TEST_CASE(a_fax_after_the_gateways_reinvite_to_t38_arrives_page_for_page) { check_sent("t38", true); }

BOOST_AUTO_TEST_CASE(a_gateway_asking_for_digest_credentials_gets_them) { check_sent("digest", false); }

BOOST_AUTO_TEST_CASE(a_fax_after_our_reinvite_to_t38_arrives_page_for_page) { check_sent("t38_offered", true); }

BOOST_AUTO_TEST_CASE(a_gateway_refusing_our_t38_offer_gets_the_fax_over_g711) {
  check_sent("t38_offer_refused", false);
}

// The INVITE, the gateway's re-INVITE to T.38 and both BYEs' exchanges on one TCP connection.
BOOST_AUTO_TEST_CASE(a_gateway_reached_over_tcp_gets_the_fax) {
  BOOST_TEST(check_sent("tcp", true).tcp);
}

BOOST_AUTO_TEST_CASE(a_busy_line_is_busy_and_worth_a_retry) {
  const auto r = result_of("busy");
  BOOST_TEST(sip::to_string(r.outcome) == "busy");
  BOOST_TEST(r.sip_status == 486);
  BOOST_TEST(r.retry_may_help());
  BOOST_TEST(terminal_result_of("busy").result == "busy");
}

BOOST_AUTO_TEST_CASE(a_call_nobody_answers_is_cancelled_after_the_ring_timeout) {
  const auto r = result_of("no_answer");
  BOOST_TEST(sip::to_string(r.outcome) == "no_answer");
  BOOST_TEST(r.sip_status == 487);
  BOOST_TEST(r.retry_may_help());
  BOOST_TEST(terminal_result_of("no_answer").result == "cancelled");
}

BOOST_AUTO_TEST_CASE(an_answer_without_a_fax_machine_is_a_t30_failure) {
  const auto r = result_of("no_fax");
  BOOST_TEST(sip::to_string(r.outcome) == "t30_failed");
  BOOST_TEST(r.sip_status == 200);
  BOOST_TEST(r.t30_code != T30_ERR_OK);
  BOOST_TEST(r.pages_sent == 0u);
  BOOST_TEST(r.retry_may_help());
}

BOOST_AUTO_TEST_CASE(a_wrong_password_is_refused_for_good) {
  const auto r = result_of("wrong_password");
  BOOST_TEST(sip::to_string(r.outcome) == "refused");
  BOOST_TEST(r.sip_status == 403);
  BOOST_TEST(!r.retry_may_help());
}

BOOST_AUTO_TEST_CASE(a_gateway_that_never_answers_is_unreachable) {
  const auto r = result_of("unreachable");
  BOOST_TEST(sip::to_string(r.outcome) == "unreachable");
  BOOST_TEST(r.sip_status == 0);
  BOOST_TEST(r.sip_reason.find("no response from 127.0.0.1:") == 0u, r.sip_reason);
  BOOST_TEST(r.retry_may_help());
}

BOOST_AUTO_TEST_CASE(a_missing_tiff_is_refused_before_any_call) {
  std::promise<sip::FaxCallResult> p;
  sip::OutboundFax fax;
  fax.number = "+12025550123";
  fax.tiff = "/nonexistent/fax.tif";
  calls().server.server->send_fax(fax, {.uri = "sip:127.0.0.1:9"}, [&p](sip::FaxCallResult r) { p.set_value(r); });
  auto f = p.get_future();
  BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  const auto r = f.get();
  BOOST_TEST(sip::to_string(r.outcome) == "refused");
  BOOST_TEST(r.sip_reason.find("cannot read the TIFF /nonexistent/fax.tif") == 0u, r.sip_reason);
}

// The queue hears of every fax it handed over, also of those the stop cut short.
BOOST_AUTO_TEST_CASE(a_call_ringing_when_the_server_stops_is_reported_as_stopped) {
  SipServerFixture server;
  std::atomic<bool> stop{false};
  FaxTerminal terminal({.out_dir = server.dir, .no_answer = true, .calls = 1});
  std::promise<ReceivedFax> cancelled;
  std::jthread peer([&] { terminal.run([&](const ReceivedFax& r) { cancelled.set_value(r); }, stop); });
  std::promise<sip::FaxCallResult> p;
  sip::OutboundFax fax;
  fax.number = "+12025550123";
  fax.tiff = kSampleFax;
  server.server->send_fax(fax, {.uri = "sip:127.0.0.1:" + std::to_string(terminal.port())},
                          [&p](sip::FaxCallResult r) { p.set_value(r); });
  std::this_thread::sleep_for(1s);  // ringing by now
  server.server->stop();
  auto f = p.get_future();
  BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
  const auto r = f.get();
  BOOST_TEST(sip::to_string(r.outcome) == "unreachable");
  BOOST_TEST(r.sip_reason == "stopped");
  BOOST_TEST(r.retry_may_help());
  auto terminal_saw = cancelled.get_future();
  BOOST_REQUIRE(terminal_saw.wait_for(10s) == std::future_status::ready);
  BOOST_TEST(terminal_saw.get().result == "cancelled");  // the CANCEL went out as the server stopped
  stop = true;
}

BOOST_AUTO_TEST_SUITE_END()
