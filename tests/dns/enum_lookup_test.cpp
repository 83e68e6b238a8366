#include <boost/test/unit_test.hpp>

#include "dns/enum_lookup.hpp"
#include "dns_peer_client.hpp"

using namespace umstore::dns;

namespace umstore::dns {
inline std::ostream& operator<<(std::ostream& out, EnumStatus v) { return out << to_string(v); }
}  // namespace umstore::dns

BOOST_AUTO_TEST_SUITE(enum_lookup)

BOOST_AUTO_TEST_CASE(domain_names_and_regexp_fields) {
  BOOST_TEST(*enum_domain("+15550100", "e164.arpa") == "0.0.1.0.5.5.5.1.e164.arpa");
  BOOST_TEST(*enum_domain("+44", "e164.example.net.") == "4.4.e164.example.net");
  BOOST_TEST(!enum_domain("15550100", "e164.arpa"));
  BOOST_TEST(!enum_domain("+1555x", "e164.arpa"));
  BOOST_TEST(!enum_domain("+1234567890123456", "e164.arpa"));  // 16 digits: longer than E.164

  BOOST_TEST(*apply_naptr_regexp("!^.*$!mailto:vm@example.org!", "+15550100") == "mailto:vm@example.org");
  BOOST_TEST(*apply_naptr_regexp("!^\\+(.*)$!mailto:+\\1@vm.example.org!", "+15550100") ==
             "mailto:+15550100@vm.example.org");
  BOOST_TEST(*apply_naptr_regexp("/^\\+1(555)(.*)$/mailto:\\2@\\1.example.org/", "+15550100") ==
             "mailto:0100@555.example.org");
  BOOST_TEST(*apply_naptr_regexp("!^\\+1555!mailto:x\\!y@example.org!", "+15550100") == "mailto:x!y@example.org");
  BOOST_TEST(!apply_naptr_regexp("!^\\+44!mailto:a@b!", "+15550100"));  // no match
  BOOST_TEST(!apply_naptr_regexp("!^(.*$!x!", "+15550100"));            // broken pattern
  BOOST_TEST(!apply_naptr_regexp("!^.*$!mailto:\\3@b!", "+15550100"));  // no such group
  BOOST_TEST(!apply_naptr_regexp("!^.*$!x!q", "+15550100"));            // unknown flag
  // What would let a record cost much is refused: back-references, counted repetitions.
  BOOST_TEST(!apply_naptr_regexp("!^\\+(1)\\1!x!", "+115550100"));
  BOOST_TEST(!apply_naptr_regexp("!^\\+1{1,2}!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^*********.*$!x!", "+15550100"));
  BOOST_TEST(*apply_naptr_regexp("!^(((.*)*)*)*0$!ok!", "+15550100") == "ok");  // explodes std::regex, not libc's
  // What makes libc's regcomp dear is refused: chains of empty transitions,
  // deep nesting, doubled operators, GNU escapes.
  BOOST_TEST(!apply_naptr_regexp("!^()+1!x!", "+15550100"));
  // Found by fuzzing (in this shape): regcomp ran for minutes on these 124 bytes, '+' doubling what it repeats.
  std::string doubling = "!" + std::string(8, '(');
  for (int i = 0; i < 50; ++i) doubling += "()";
  for (int i = 0; i < 8; ++i) doubling += ")+";
  BOOST_TEST(!apply_naptr_regexp(doubling + "!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^(|\\+)1!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^\\+1**!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^^^^^\\+1!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^(((((1)))))!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^\\w!x!", "+15550100"));
  BOOST_TEST(!apply_naptr_regexp("!^[[=a=]]!x!", "+15550100"));
  BOOST_TEST(*apply_naptr_regexp("!^\\+([[:digit:]]+)$!mailto:\\1@b!", "+15550100") == "mailto:15550100@b");

  BOOST_TEST(offers_service("E2U+vpim:mailto", kVpimService));
  BOOST_TEST(offers_service("e2u+voice:sip+VPIM:MAILTO", kVpimService));
  BOOST_TEST(!offers_service("E2U+ifax:mailto", kVpimService));
  BOOST_TEST(!offers_service("E2U+vpim:mailtox", kVpimService));
  BOOST_TEST(!offers_service("SIP+D2U", kVpimService));

  BOOST_TEST(*mailto_address("mailto:+15550100@vm.example.org") == "+15550100@vm.example.org");
  BOOST_TEST(*mailto_address("MAILTO:%2B15550100@vm.example.org?subject=x") == "+15550100@vm.example.org");
  BOOST_TEST(!mailto_address("sip:+15550100@example.org"));
  BOOST_TEST(!mailto_address("mailto:a@b,c@d"));      // one address only
  BOOST_TEST(!mailto_address("mailto:a@b%0D%0Ax"));   // no line breaks smuggled in
  BOOST_TEST(!mailto_address("mailto:nobody"));
}

BOOST_AUTO_TEST_CASE(finds_the_service_by_order_and_preference_across_trees) {
  test::publish("e164.test", R"(
; +15550100: voice by VPIM, fax by Internet fax, SIP first in order
0.0.1.0.5.5.5.1 NAPTR 10 10 "u" "E2U+sip" "!^.*$!sip:+15550100@sip.example.org!" .
0.0.1.0.5.5.5.1 NAPTR 20 20 "u" "E2U+vpim:mailto" "!^.*$!mailto:second@vm.example.org!" .
0.0.1.0.5.5.5.1 NAPTR 20 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:+\\1@vm.example.org!" .
0.0.1.0.5.5.5.1 NAPTR 30 10 "u" "E2U+ifax:mailto" "!^.*$!mailto:fax@fax.example.org!" .
; +15550101: delegated by a non-terminal rule to a carrier's tree
1.0.1.0.5.5.5.1 NAPTR 10 10 "" "" "" carrier.e164.test.
carrier         NAPTR 10 10 "u" "E2U+vpim:mailto" "!^.*$!mailto:carrier@vm.example.org!" .
; +15550102: a loop of non-terminal rules
2.0.1.0.5.5.5.1 NAPTR 10 10 "" "" "" loop.e164.test.
loop            NAPTR 10 10 "" "" "" 2.0.1.0.5.5.5.1.e164.test.
)");
  test::publish("private.test", R"(
3.0.1.0.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^.*$!mailto:private@vm.example.org!" .
)");
  EnumLookup lookup(std::make_shared<Resolver>(test::peer_dns()), {"e164.test", "private.test"});

  auto vpim = lookup.find("+15550100", kVpimService);
  BOOST_TEST(vpim.status == EnumStatus::found);
  BOOST_TEST(vpim.uri == "mailto:+15550100@vm.example.org");
  BOOST_TEST(vpim.domain == "0.0.1.0.5.5.5.1.e164.test");
  BOOST_TEST(vpim.ttl > 0u);
  BOOST_TEST(lookup.find("+15550100", kIfaxService).uri == "mailto:fax@fax.example.org");

  BOOST_TEST(lookup.find("+15550101", kVpimService).uri == "mailto:carrier@vm.example.org");
  BOOST_TEST(lookup.find("+15550102", kVpimService).status == EnumStatus::no_route);
  // Not in the first tree (NXDOMAIN there): the second answers.
  BOOST_TEST(lookup.find("+15550103", kVpimService).uri == "mailto:private@vm.example.org");

  const auto none = lookup.find("+15550199", kVpimService);
  BOOST_TEST(none.status == EnumStatus::no_route);
  BOOST_TEST(none.reason == "no E2U+vpim:mailto record for +15550199");
  BOOST_TEST(lookup.find("+15550103", kIfaxService).status == EnumStatus::no_route);

  const auto listing = lookup.list("+15550100");
  BOOST_TEST(listing.errors.empty());
  BOOST_REQUIRE_EQUAL(listing.records.size(), 4u);
  BOOST_TEST(listing.records[0].naptr.services == "E2U+sip");
  BOOST_TEST(*listing.records[0].uri == "sip:+15550100@sip.example.org");
}

BOOST_AUTO_TEST_CASE(a_server_that_does_not_answer_is_a_temporary_failure) {
  test::publish("down.test", R"(
0.0.1.0.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^.*$!mailto:a@b.example!" .
)");
  EnumLookup lookup(std::make_shared<Resolver>(test::peer_dns(std::chrono::milliseconds(300))), {"down.test"});
  test::stop_dns();
  const auto answer = lookup.find("+15550177", kVpimService);
  test::start_dns();
  BOOST_TEST(answer.status == EnumStatus::temporary_failure);
  BOOST_TEST(answer.reason.find("7.7.1.0.5.5.5.1.down.test") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
