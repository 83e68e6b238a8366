#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <thread>
#include <vector>

#include "dns_peer_client.hpp"
#include "dns/resolver.hpp"

using namespace umstore::dns;

BOOST_AUTO_TEST_SUITE(resolver)

BOOST_AUTO_TEST_CASE(typed_records_nxdomain_and_no_data) {
  test::publish("resolver.test", R"(
@      MX   10 mx1.resolver.test.
@      MX   20 mx2.resolver.test.
mx1    A    192.0.2.1
mx1    AAAA 2001:db8::1
long   TXT  "part one " "part two"
_25._tcp.mx1 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
_sip._udp  SRV  10 60 5070 mx1.resolver.test.
_sip._tcp  SRV  0 0 0 .
)");
  test::publish("3.2.1.e164.arpa", R"(
4 NAPTR 100 10 "u" "E2U+ifax:mailto" "!^.*$!mailto:fax@resolver.test!" .
)");
  Resolver resolver(test::peer_dns());

  auto mx = resolver.mx("resolver.test");
  BOOST_REQUIRE(mx.found());
  BOOST_REQUIRE_EQUAL(mx.records.size(), 2u);
  std::sort(mx.records.begin(), mx.records.end(), [](auto& a, auto& b) { return a.preference < b.preference; });
  BOOST_TEST(mx.records[0].exchange == "mx1.resolver.test");
  BOOST_TEST(mx.records[1].preference == 20);

  auto v4 = resolver.addresses("mx1.resolver.test", RrType::a);
  BOOST_REQUIRE(v4.found());
  BOOST_TEST(v4.records.at(0) == "192.0.2.1");
  auto v6 = resolver.addresses("mx1.resolver.test", RrType::aaaa);
  BOOST_REQUIRE(v6.found());
  BOOST_TEST(v6.records.at(0) == "2001:db8::1");

  auto txt = resolver.txt("long.resolver.test");
  BOOST_REQUIRE(txt.found());
  BOOST_TEST(txt.records.at(0) == "part one part two");
  BOOST_TEST(txt.ttl <= 60u);

  auto tlsa = resolver.tlsa("_25._tcp.mx1.resolver.test");
  BOOST_REQUIRE(tlsa.found());
  BOOST_TEST(tlsa.records.at(0).usage == 3);
  BOOST_TEST(tlsa.records.at(0).data.size() == 32u);

  auto naptr = resolver.naptr("4.3.2.1.e164.arpa");
  BOOST_REQUIRE(naptr.found());
  BOOST_TEST(naptr.records.at(0).services == "E2U+ifax:mailto");
  BOOST_TEST(naptr.records.at(0).regexp == "!^.*$!mailto:fax@resolver.test!");
  BOOST_TEST(naptr.records.at(0).flags == "u");

  auto srv = resolver.srv("_sip._udp.resolver.test");
  BOOST_REQUIRE(srv.found());
  BOOST_TEST(srv.records.at(0).priority == 10);
  BOOST_TEST(srv.records.at(0).weight == 60);
  BOOST_TEST(srv.records.at(0).port == 5070);
  BOOST_TEST(srv.records.at(0).target == "mx1.resolver.test");
  BOOST_TEST(resolver.srv("_sip._tcp.resolver.test").records.at(0).target == "");  // "." : no service

  BOOST_TEST(resolver.txt("missing.resolver.test").status == DnsStatus::nxdomain);
  BOOST_TEST(resolver.txt("mx1.resolver.test").status == DnsStatus::no_data);
}

BOOST_AUTO_TEST_CASE(answers_are_cached_for_their_ttl) {
  test::publish("cache.test", "@ 300 TXT \"first\"\n");
  Resolver cached(test::peer_dns());
  BOOST_REQUIRE(cached.txt("cache.test").found());
  test::publish("cache.test", "@ 300 TXT \"second\"\n");
  // The same resolver answers from its cache; a new one asks the server.
  BOOST_TEST(cached.txt("cache.test").records.at(0) == "first");
  Resolver fresh(test::peer_dns());
  BOOST_TEST(fresh.txt("cache.test").records.at(0) == "second");
}

BOOST_AUTO_TEST_CASE(one_resolver_answers_many_threads_each_its_own_answers) {
  std::string zone;
  for (int i = 0; i < 40; ++i) zone += "n" + std::to_string(i) + " TXT \"value " + std::to_string(i) + "\"\n";
  test::publish("many.test", zone);
  Resolver resolver(test::peer_dns());
  std::vector<std::thread> threads;
  std::vector<int> wrong(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 40; ++k) {
        const int i = (t * 7 + k) % 40;
        const auto answer = resolver.txt("n" + std::to_string(i) + ".many.test");
        if (!answer.found() || answer.records.at(0) != "value " + std::to_string(i)) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) BOOST_TEST(wrong[t] == 0, "thread " << t);
}

BOOST_AUTO_TEST_CASE(a_stopped_server_is_a_temporary_failure_within_the_timeout) {
  test::publish("down.test", "@ TXT \"up\"\n");
  Resolver resolver(test::peer_dns(std::chrono::milliseconds(1500)));
  test::stop_dns();
  const auto started = std::chrono::steady_clock::now();
  const auto answer = resolver.txt("down.test");
  const auto waited = std::chrono::steady_clock::now() - started;
  // Several threads timing out together each get their own failure.
  std::vector<DnsStatus> statuses(4, DnsStatus::found);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < statuses.size(); ++t) {
    threads.emplace_back([&, t] { statuses[t] = resolver.txt("t" + std::to_string(t) + ".down.test").status; });
  }
  for (auto& thread : threads) thread.join();
  test::start_dns();
  for (DnsStatus status : statuses) BOOST_TEST(status == DnsStatus::temporary_failure);
  BOOST_TEST(answer.status == DnsStatus::temporary_failure);
  BOOST_TEST(!answer.error.empty());
  BOOST_TEST(waited < std::chrono::seconds(10));  // bounded by the timeout, not by libunbound's minutes of retries
}

BOOST_AUTO_TEST_SUITE_END()
