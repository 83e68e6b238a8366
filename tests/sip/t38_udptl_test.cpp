// UDPTL framing and the T.38 SDP of the gateway's re-INVITE.
#include <boost/test/unit_test.hpp>

#include "sdp.hpp"
#include "udptl.hpp"

using namespace umstore::sip;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<std::uint8_t> out;
  for (const int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(t38_udptl)

// Bytes as the T.38 Annex A ASN.1 encodes them (aligned PER): sequence
// number, primary IFP as an open type, 0x00 for redundancy, the count and
// the earlier packets newest first.
BOOST_AUTO_TEST_CASE(udptl_packet_has_the_annex_a_layout) {
  UdptlPacket p;
  p.sequence = 0x0102;
  p.primary = bytes({0x00, 0x06});  // t30-indicator: v21-preamble
  p.secondary = {bytes({0x00, 0x01}), bytes({0x00, 0x00})};
  const auto encoded = encode_udptl(p);
  BOOST_TEST(encoded == bytes({0x01, 0x02, 0x02, 0x00, 0x06, 0x00, 0x02, 0x02, 0x00, 0x01, 0x02, 0x00, 0x00}),
             boost::test_tools::per_element());
  const auto decoded = decode_udptl(encoded);
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->sequence == 0x0102);
  BOOST_TEST(decoded->primary == p.primary);
  BOOST_REQUIRE(decoded->secondary.size() == 2u);
  BOOST_TEST(decoded->secondary[1] == p.secondary[1]);
}

BOOST_AUTO_TEST_CASE(udptl_lengths_of_128_and_more_take_two_octets) {
  UdptlPacket p;
  p.primary.assign(300, 0xaa);
  const auto encoded = encode_udptl(p);
  BOOST_TEST(encoded[2] == 0x81);
  BOOST_TEST(encoded[3] == 0x2c);
  const auto decoded = decode_udptl(encoded);
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->primary.size() == 300u);
}

BOOST_AUTO_TEST_CASE(udptl_rejects_truncated_and_oversized_datagrams) {
  BOOST_TEST(!decode_udptl(bytes({0x00})));
  BOOST_TEST(!decode_udptl(bytes({0x00, 0x01, 0x05, 0x00})));              // open type longer than the datagram
  BOOST_TEST(!decode_udptl(bytes({0x00, 0x01, 0x01, 0x00, 0x00, 0x01})));  // secondary count with no packet
  BOOST_TEST(!decode_udptl(bytes({0x00, 0x01, 0x01, 0x00, 0x00, 0x40})));  // secondaries beyond the limit
  BOOST_TEST(!decode_udptl(bytes({0x00, 0x01, 0xc1, 0x00})));              // fragmented length
  // FEC error recovery: the primary is still good.
  const auto fec = decode_udptl(bytes({0x00, 0x07, 0x01, 0x00, 0x80, 0x01, 0x03, 0x00}));
  BOOST_REQUIRE(fec);
  BOOST_TEST(fec->sequence == 7);
}

// A sender with redundancy 3 and a lossy path: every packet arrives once, in
// order, as long as no more than 3 datagrams in a row are lost; late and
// repeated datagrams add nothing.
BOOST_AUTO_TEST_CASE(udptl_redundancy_recovers_lost_datagrams_in_order) {
  UdptlSender sender(3);
  UdptlReceiver receiver;
  std::vector<std::uint16_t> seen;
  std::vector<std::vector<std::uint8_t>> datagrams;
  for (int i = 0; i < 40; ++i) datagrams.push_back(sender.next(bytes({0x00, i})));
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    if (i % 5 == 2 || (i >= 20 && i <= 22)) continue;  // lost
    for (const auto& ifp : receiver.receive(datagrams[i])) {
      BOOST_TEST(ifp.data[1] == (ifp.sequence & 0xff));
      seen.push_back(ifp.sequence);
    }
    if (i == 10) BOOST_TEST(receiver.receive(datagrams[9]).empty());  // late duplicate
  }
  BOOST_REQUIRE(seen.size() == 40u);
  for (std::size_t i = 0; i < seen.size(); ++i) BOOST_TEST(seen[i] == i);
  BOOST_TEST(receiver.lost() == 0u);
  BOOST_TEST(receiver.recovered() > 0u);
}

BOOST_AUTO_TEST_CASE(udptl_sender_leaves_out_repeats_beyond_the_peers_max_datagram) {
  UdptlSender sender(3, 100);
  const std::vector<std::uint8_t> big(60, 0x11);
  sender.next(big);
  const auto second = sender.next(big);
  BOOST_TEST(second.size() <= 100u);
  const auto decoded = decode_udptl(second);
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->secondary.empty());
}

BOOST_AUTO_TEST_CASE(t38_reinvite_offer_is_parsed_and_answered_with_our_port) {
  const auto offer = parse_t38_offer(
      "v=0\r\no=gw 1 2 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
      "m=audio 0 RTP/AVP 0\r\n"
      "m=image 4600 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\n"
      "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxBuffer:200\r\na=T38FaxMaxDatagram:176\r\n"
      "a=t38faxudpec:t38UDPRedundancy\r\na=T38FaxFillBitRemoval\r\n");
  BOOST_REQUIRE(offer);
  BOOST_TEST(offer->address == "10.0.0.9");
  BOOST_TEST(offer->port == 4600);
  BOOST_TEST(offer->max_bit_rate == 9600u);
  BOOST_TEST(offer->transferred_tcf);
  BOOST_TEST(offer->max_datagram == 176u);
  BOOST_TEST((offer->error_correction == T38ErrorCorrection::Redundancy));
  BOOST_TEST(offer->fill_bit_removal);
  BOOST_REQUIRE(offer->media.size() == 2u);
  BOOST_TEST(offer->media[0] == "m=audio 0 RTP/AVP 0");

  T38Answer a;
  a.address = "10.0.0.1";
  a.port = 5004;
  a.media = offer->media;
  a.session_id = 7;
  a.session_version = 8;
  const auto sdp = make_t38_answer(a);
  // The answer keeps the offer's m= lines in order, the audio one declined.
  BOOST_TEST(sdp.find("o=umstore 7 8 IN IP4 10.0.0.1\r\n") != std::string::npos);
  BOOST_TEST(sdp.find("m=audio 0 RTP/AVP 0\r\n") < sdp.find("m=image 5004 udptl t38\r\n"));
  BOOST_TEST(sdp.find("a=T38FaxUdpEC:t38UDPRedundancy\r\n") != std::string::npos);
  const auto again = parse_t38_offer(sdp);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->port == 5004);

  BOOST_TEST(!parse_t38_offer("v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 4000 RTP/AVP 0\r\n"));
  BOOST_TEST(!parse_t38_offer("v=0\r\nc=IN IP4 10.0.0.9\r\nm=image 0 udptl t38\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
