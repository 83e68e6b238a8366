// MTA-STS (RFC 8461) records and policies as the queue runner reads them;
// the fetch over HTTPS and the enforcement are in tests/e2e/test_trust_mta_sts.py.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "smtp/mta_sts.hpp"

using umstore::smtp::MtaStsPolicy;
using umstore::smtp::parse_mta_sts_policy;
using umstore::smtp::sts_record_id;

BOOST_AUTO_TEST_SUITE(mta_sts)

BOOST_AUTO_TEST_CASE(txt_record_gives_the_id) {
  const std::vector<std::string> one{"v=spf1 -all", "v=STSv1; id=20261207T1200"};
  BOOST_TEST(sts_record_id(one).value_or("") == "20261207T1200");
  const std::vector<std::string> spaced{"v=STSv1;  id=abc123 ; ext=1"};
  BOOST_TEST(sts_record_id(spaced).value_or("") == "abc123");
  // §3.1: no record, two records, no id or a bad id: no policy
  BOOST_TEST(!sts_record_id(std::vector<std::string>{"v=spf1 -all"}));
  BOOST_TEST(!sts_record_id(std::vector<std::string>{"v=STSv1; id=1", "v=STSv1; id=2"}));
  BOOST_TEST(!sts_record_id(std::vector<std::string>{"v=STSv1;"}));
  BOOST_TEST(!sts_record_id(std::vector<std::string>{"v=STSv1; id=not_alnum!"}));
  BOOST_TEST(!sts_record_id(std::vector<std::string>{"v=STSv1; id=" + std::string(33, 'a')}));
}

BOOST_AUTO_TEST_CASE(policy_file_is_parsed) {
  const auto parsed = parse_mta_sts_policy(
      "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.mail.example.net.\r\nmax_age: 86400\r\n"
      "future_key: whatever\r\n");
  BOOST_REQUIRE(std::holds_alternative<MtaStsPolicy>(parsed));
  const auto& policy = std::get<MtaStsPolicy>(parsed);
  BOOST_TEST((policy.mode == MtaStsPolicy::Mode::Enforce));
  BOOST_TEST(policy.max_age == 86400u);
  BOOST_TEST(policy.mx.size() == 2u);
  // LF line ends, a max_age over a year is capped
  const auto lf = parse_mta_sts_policy("version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 99999999999\n");
  BOOST_TEST(std::holds_alternative<std::string>(lf));  // not a 32-bit number: invalid
  const auto capped = parse_mta_sts_policy("version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 40000000\n");
  BOOST_REQUIRE(std::holds_alternative<MtaStsPolicy>(capped));
  BOOST_TEST(std::get<MtaStsPolicy>(capped).max_age == 31557600u);
  // mode none needs no mx
  BOOST_TEST(std::holds_alternative<MtaStsPolicy>(parse_mta_sts_policy("version: STSv1\nmode: none\nmax_age: 1\n")));
}

BOOST_AUTO_TEST_CASE(bad_policies_are_refused) {
  BOOST_TEST(std::holds_alternative<std::string>(parse_mta_sts_policy("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n")));
  BOOST_TEST(std::holds_alternative<std::string>(parse_mta_sts_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n")));
  BOOST_TEST(std::holds_alternative<std::string>(parse_mta_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1\n")));
  BOOST_TEST(std::holds_alternative<std::string>(parse_mta_sts_policy("version: STSv1\nmode: enforce\nmx: a\n")));
  BOOST_TEST(std::holds_alternative<std::string>(parse_mta_sts_policy("<html>not found</html>")));
}

BOOST_AUTO_TEST_CASE(mx_patterns_match_as_section_4_1_says) {
  MtaStsPolicy policy;
  policy.mx = {"mx1.example.net", "*.mail.example.net"};
  BOOST_TEST(policy.allows("mx1.example.net"));
  BOOST_TEST(policy.allows("MX1.Example.NET."));
  BOOST_TEST(policy.allows("a.mail.example.net"));
  BOOST_TEST(!policy.allows("mail.example.net"));     // the wildcard needs a label
  BOOST_TEST(!policy.allows("a.b.mail.example.net"));  // exactly one label
  BOOST_TEST(!policy.allows("mx2.example.net"));
  BOOST_TEST(!policy.allows("evilmx1.example.net"));
}

BOOST_AUTO_TEST_SUITE_END()
