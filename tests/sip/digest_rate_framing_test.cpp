// Digest authentication (RFC 2617/7616 vectors), the per-source rate limit
// and TCP framing helpers, without sockets.
#include <boost/test/unit_test.hpp>

#include "digest_auth.hpp"
#include "request_admission.hpp"
#include "sip_transport.hpp"

using namespace umstore::sip;
using namespace std::chrono_literals;

namespace {

std::string response_for(std::string_view algorithm, std::string_view user, std::string_view realm,
                         std::string_view password, std::string_view method, std::string_view uri,
                         std::string_view nonce, std::string_view nc, std::string_view cnonce) {
  const auto ha1 = digest_hex(algorithm, std::string(user) + ":" + std::string(realm) + ":" + std::string(password));
  const auto ha2 = digest_hex(algorithm, std::string(method) + ":" + std::string(uri));
  return digest_hex(algorithm, ha1 + ":" + std::string(nonce) + ":" + std::string(nc) + ":" + std::string(cnonce) +
                                   ":auth:" + ha2);
}

std::string nonce_of(const std::string& challenge) {
  const auto params = parse_digest_params(challenge.substr(challenge.find(':') + 1, challenge.find("\r\n") - challenge.find(':') - 1));
  return params.at("nonce");
}

std::string credentials(std::string_view algorithm, std::string_view password, const std::string& nonce,
                        std::string_view nc) {
  const std::string uri = "sip:+15550100@127.0.0.1";
  return "Digest username=\"gw1\", realm=\"vm.example.net\", nonce=\"" + nonce + "\", uri=\"" + uri +
         "\", response=\"" +
         response_for(algorithm, "gw1", "vm.example.net", password, "INVITE", uri, nonce, nc, "c0ffee") +
         "\", algorithm=" + std::string(algorithm) + ", qop=auth, nc=" + std::string(nc) + ", cnonce=\"c0ffee\"";
}

DigestSettings settings() {
  DigestSettings s;
  s.realm = "vm.example.net";
  s.users["gw1"] = "right password";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(digest_auth)

BOOST_AUTO_TEST_CASE(md5_matches_the_rfc_2617_example) {
  BOOST_TEST(response_for("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
                          "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b") ==
             "6629fae49393a05397450978507c4ef1");
}

BOOST_AUTO_TEST_CASE(sha256_matches_the_rfc_7616_example) {
  BOOST_TEST(response_for("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
                          "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
                          "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ") ==
             "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

BOOST_AUTO_TEST_CASE(parameters_are_parsed_with_quotes_and_commas) {
  const auto p = parse_digest_params(R"(Digest username="a, \"b\"", realm=r, qop=auth,nc=00000002)");
  BOOST_TEST(p.at("") == "Digest");
  BOOST_TEST(p.at("username") == "a, \"b\"");
  BOOST_TEST(p.at("realm") == "r");
  BOOST_TEST(p.at("nc") == "00000002");
}

BOOST_AUTO_TEST_CASE(challenge_offers_sha256_then_md5_with_qop_auth) {
  DigestAuthenticator auth(settings());
  const auto text = auth.challenge(false, DigestAuthenticator::Clock::now());
  const auto sha = text.find("algorithm=SHA-256");
  const auto md5 = text.find("algorithm=MD5");
  BOOST_TEST(sha != std::string::npos);
  BOOST_TEST(md5 != std::string::npos);
  BOOST_TEST(sha < md5);
  BOOST_TEST(text.find("qop=\"auth\"") != std::string::npos);
  BOOST_TEST(text.find("stale") == std::string::npos);
  BOOST_TEST(auth.challenge(true, DigestAuthenticator::Clock::now()).find("stale=true") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(valid_credentials_pass_once_per_nonce_count) {
  DigestAuthenticator auth(settings());
  const auto now = DigestAuthenticator::Clock::now();
  BOOST_TEST((auth.check("INVITE", "", now).outcome == DigestAuthenticator::Outcome::Challenge));
  for (const std::string algorithm : {"SHA-256", "MD5"}) {
    const auto nonce = nonce_of(auth.challenge(false, now));
    BOOST_TEST((auth.check("INVITE", credentials(algorithm, "right password", nonce, "00000001"), now).outcome ==
                DigestAuthenticator::Outcome::Accepted));
    // The same nonce count again is a replay.
    BOOST_TEST((auth.check("INVITE", credentials(algorithm, "right password", nonce, "00000001"), now).outcome ==
                DigestAuthenticator::Outcome::Refused));
    BOOST_TEST((auth.check("INVITE", credentials(algorithm, "right password", nonce, "00000002"), now).outcome ==
                DigestAuthenticator::Outcome::Accepted));
  }
}

BOOST_AUTO_TEST_CASE(wrong_password_forged_nonce_and_expiry) {
  DigestAuthenticator auth(settings());
  const auto now = DigestAuthenticator::Clock::now();
  const auto nonce = nonce_of(auth.challenge(false, now));
  BOOST_TEST((auth.check("INVITE", credentials("MD5", "wrong password", nonce, "00000001"), now).outcome ==
              DigestAuthenticator::Outcome::Refused));
  auto forged = nonce;
  forged.back() = forged.back() == '0' ? '1' : '0';
  BOOST_TEST((auth.check("INVITE", credentials("MD5", "right password", forged, "00000001"), now).outcome ==
              DigestAuthenticator::Outcome::Challenge));
  BOOST_TEST((auth.check("INVITE", credentials("MD5", "right password", nonce, "00000001"), now + 301s).outcome ==
              DigestAuthenticator::Outcome::Stale));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(source_rate_limit)

BOOST_AUTO_TEST_CASE(refuses_beyond_the_limit_until_the_window_ends) {
  SourceRateLimit limit(3, 10s);
  const auto a = asio::ip::make_address("192.0.2.1");
  const auto b = asio::ip::make_address("192.0.2.2");
  const auto t0 = SourceRateLimit::Clock::now();
  for (int i = 0; i < 3; ++i) BOOST_TEST(limit.take(a, t0 + 1s).allowed);
  const auto first = limit.take(a, t0 + 2s);
  BOOST_TEST(!first.allowed);
  BOOST_TEST(first.first_refusal);
  BOOST_TEST(first.retry_after.count() == 9);  // the window began with the first request
  const auto second = limit.take(a, t0 + 3s);
  BOOST_TEST(!second.allowed);
  BOOST_TEST(!second.first_refusal);  // logged once per window
  BOOST_TEST(limit.take(b, t0 + 3s).allowed);  // per source
  BOOST_TEST(limit.take(a, t0 + 12s).allowed);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stream_framing)

BOOST_AUTO_TEST_CASE(content_length_long_and_compact_forms) {
  BOOST_TEST(content_length_of("INVITE sip:a@b SIP/2.0\r\nContent-Length: 12\r\n").value() == 12u);
  BOOST_TEST(content_length_of("INVITE sip:a@b SIP/2.0\r\nl:0\r\n").value() == 0u);
  BOOST_TEST(!content_length_of("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"));
  BOOST_TEST(!content_length_of("INVITE sip:a@b SIP/2.0\r\nContent-Length: 12x\r\n"));
  BOOST_TEST(!content_length_of("INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n"));
  BOOST_TEST(!content_length_of("INVITE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n"));
}

BOOST_AUTO_TEST_CASE(response_from_headers_copies_the_transaction_headers) {
  const auto r = response_from_headers(
      "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\n"
      "To: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 99999999\r\n",
      413, "Request Entity Too Large");
  BOOST_TEST(r.starts_with("SIP/2.0 413 Request Entity Too Large\r\n"));
  BOOST_TEST(r.find("Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\n") != std::string::npos);
  BOOST_TEST(r.find("f: <sip:x@y>;tag=1\r\n") != std::string::npos);
  BOOST_TEST(r.find("CSeq: 1 INVITE\r\n") != std::string::npos);
  BOOST_TEST(r.find("99999999") == std::string::npos);
  BOOST_TEST(r.ends_with("Content-Length: 0\r\n\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
