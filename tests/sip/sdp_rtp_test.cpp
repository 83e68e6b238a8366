#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>

#include "call_routing.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"

using namespace umstore::sip;

BOOST_AUTO_TEST_CASE(sdp_offer_picks_first_g711_and_telephone_event) {
  const auto offer = parse_audio_offer(
      "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
      "m=audio 40000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
  BOOST_REQUIRE(offer);
  BOOST_TEST(offer->address == "10.0.0.1");
  BOOST_TEST(offer->port == 40000);
  BOOST_TEST((offer->codec == G711::Pcma));
  BOOST_TEST(offer->telephone_event_pt.value_or(0) == 101);
  const auto g729_only = parse_audio_offer("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n");
  BOOST_REQUIRE(g729_only);
  BOOST_TEST(!g729_only->codec);
}

BOOST_AUTO_TEST_CASE(reorder_buffer_restores_order_fills_loss_and_drops_duplicates) {
  std::vector<std::int16_t> sent;
  struct Pkt {
    std::uint16_t seq;
    std::uint32_t ts;
    std::vector<std::int16_t> samples;
  };
  std::vector<Pkt> packets;
  for (int i = 0; i < 50; ++i) {
    std::vector<std::int16_t> s(160, static_cast<std::int16_t>(i + 1));
    packets.push_back({static_cast<std::uint16_t>(65530 + i), static_cast<std::uint32_t>(4294960000u + 160u * i), s});
    sent.insert(sent.end(), s.begin(), s.end());
  }
  // Swap neighbours (jitter), lose packet 20, duplicate packet 30.
  std::vector<Pkt> wire;
  for (std::size_t i = 0; i + 1 < packets.size(); i += 2) {
    wire.push_back(packets[i + 1]);
    wire.push_back(packets[i]);
  }
  std::erase_if(wire, [](const Pkt& p) { return p.seq == static_cast<std::uint16_t>(65530 + 20); });
  wire.push_back(packets[30]);
  ReorderBuffer buffer(4);
  std::vector<std::int16_t> got;
  for (auto& p : wire) {
    auto out = buffer.push(p.seq, p.ts, p.samples);
    got.insert(got.end(), out.begin(), out.end());
  }
  auto tail = buffer.flush();
  got.insert(got.end(), tail.begin(), tail.end());
  std::fill(sent.begin() + 20 * 160, sent.begin() + 21 * 160, 0);  // the lost packet is silence
  BOOST_TEST(got.size() == sent.size());
  BOOST_TEST((got == sent));
  BOOST_TEST(buffer.dropped() == 1u);
  BOOST_TEST(buffer.lost() == 1u);
}

BOOST_AUTO_TEST_CASE(rtp_round_trip_and_g711) {
  const auto tone_in = tone(440, 20);
  const auto payload = encode_g711(G711::Pcmu, tone_in);
  RtpPacket p;
  p.payload_type = 0;
  p.sequence = 7;
  p.timestamp = 1234;
  p.ssrc = 99;
  p.payload = payload;
  const auto datagram = build_rtp(p);
  const auto back = parse_rtp(datagram);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->sequence == 7);
  BOOST_TEST(back->timestamp == 1234u);
  const auto decoded = decode_g711(G711::Pcmu, back->payload);
  BOOST_REQUIRE(decoded.size() == tone_in.size());
  for (std::size_t i = 0; i < decoded.size(); ++i) BOOST_TEST(std::abs(decoded[i] - tone_in[i]) < 300);
  BOOST_TEST(!parse_rtp(std::vector<std::uint8_t>(5, 0x80)));
}

BOOST_AUTO_TEST_CASE(mailbox_and_caller_from_forwarded_invite) {
  const std::string invite =
      "INVITE sip:voicemail@10.0.0.9 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\n"
      "From: \"Bob Caller\" <sip:+15550123@10.0.0.1>;tag=1\r\n"
      "To: <sip:+15550999@10.0.0.9>\r\n"
      "Call-ID: x1@10.0.0.1\r\nCSeq: 1 INVITE\r\n"
      "Diversion: <sip:+1 555 0100@10.0.0.1>;reason=no-answer, <sip:+15550111@10.0.0.1>\r\n"
      "P-Asserted-Identity: \"Robert Caller\" <sip:+15550124@10.0.0.1>\r\n"
      "Content-Length: 0\r\n\r\n";
  const auto m = SipMessage::parse(invite);
  BOOST_REQUIRE(m);
  const auto candidates = mailbox_candidates(*m);
  BOOST_REQUIRE(candidates.size() >= 2);
  BOOST_TEST(candidates[0] == "+15550100");
  BOOST_TEST(candidates.back() == "+15550999");
  const auto caller = caller_of(*m);
  BOOST_TEST(caller.number == "+15550124");
  BOOST_TEST(caller.name == "Robert Caller");
  const auto response = m->response(404, "Not Found", "tg");
  BOOST_TEST(response.starts_with("SIP/2.0 404 Not Found\r\n"));
  BOOST_TEST(response.find("tag=tg") != std::string::npos);
  BOOST_TEST(response.find("Call-ID: x1@10.0.0.1") != std::string::npos);
  BOOST_TEST(!SipMessage::parse("garbage\r\n\r\n"));
}
