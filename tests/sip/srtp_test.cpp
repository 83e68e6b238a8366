// SDES keys in SDP (RFC 4568) and SRTP (RFC 3711) through libsrtp2: what
// one side protects with a key, the other unprotects with the same key;
// anything altered, replayed or keyed otherwise is dropped.
#include <boost/test/unit_test.hpp>

#include <random>

#include "rtp.hpp"
#include "sdp.hpp"
#include "srtp_session.hpp"

using namespace umstore::sip;

BOOST_AUTO_TEST_CASE(sdes_keys_are_read_from_the_offer_and_written_in_the_answer) {
  const auto offer = parse_audio_offer(
      "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 40000 RTP/SAVP 0\r\n"
      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
      "a=crypto:2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r\n");
  BOOST_REQUIRE(offer);
  BOOST_TEST(offer->savp);
  BOOST_REQUIRE(offer->crypto.size() == 2u);
  BOOST_TEST(offer->crypto[0].suite == "AES_CM_128_HMAC_SHA1_80");
  BOOST_TEST(offer->crypto[0].key_params == "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4");
  BOOST_TEST(srtp_suite_supported(offer->crypto[0].suite));
  BOOST_TEST(!srtp_suite_supported(offer->crypto[1].suite));

  AudioAnswer a;
  a.address = "10.0.0.2";
  a.port = 50000;
  a.savp = true;
  a.crypto = SdesCrypto{1, "AES_CM_128_HMAC_SHA1_80", "KEY"};
  const auto sdp = make_audio_answer(a);
  BOOST_TEST(sdp.find("m=audio 50000 RTP/SAVP 0\r\n") != std::string::npos);
  BOOST_TEST(sdp.find("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(srtp_round_trip_and_forgeries_dropped) {
  const std::string key = new_srtp_key();
  BOOST_TEST(key.size() == 40u);  // 30 octets in base64
  auto sender = SrtpSession::create(kSrtpSuite80, key, SrtpSession::Direction::Outbound);
  auto receiver = SrtpSession::create(kSrtpSuite80, key + "|2^31", SrtpSession::Direction::Inbound);
  auto stranger = SrtpSession::create(kSrtpSuite80, new_srtp_key(), SrtpSession::Direction::Inbound);
  BOOST_REQUIRE(sender && receiver && stranger);
  BOOST_TEST(!SrtpSession::create(kSrtpSuite80, "c2hvcnQ=", SrtpSession::Direction::Inbound));  // not 30 octets
  BOOST_TEST(!SrtpSession::create("NULL_HMAC_SHA1_80", key, SrtpSession::Direction::Inbound));

  RtpStream stream;
  std::mt19937 rng(7);
  stream.start(rng);
  const std::vector<std::int16_t> tone(160, 1000);
  const auto plain = stream.next(G711::Pcmu, tone);
  auto packet = plain;
  BOOST_REQUIRE(sender->protect(packet));
  BOOST_TEST(packet.size() == plain.size() + 10);  // the 80-bit tag
  BOOST_TEST(!std::equal(plain.begin() + 12, plain.end(), packet.begin() + 12));  // the payload is encrypted

  auto copy = packet;
  std::size_t length = copy.size();
  BOOST_TEST(!stranger->unprotect(copy.data(), length));  // another key

  auto forged = packet;
  forged[20] ^= 1;
  length = forged.size();
  BOOST_TEST(!receiver->unprotect(forged.data(), length));  // altered

  copy = packet;
  length = copy.size();
  BOOST_REQUIRE(receiver->unprotect(copy.data(), length));
  BOOST_TEST(length == plain.size());
  BOOST_TEST(std::equal(plain.begin(), plain.end(), copy.begin()));

  copy = packet;
  length = copy.size();
  BOOST_TEST(!receiver->unprotect(copy.data(), length));  // replayed
}
