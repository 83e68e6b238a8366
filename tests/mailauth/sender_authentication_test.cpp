#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "dns_peer_client.hpp"
#include "mailauth/sender_authentication.hpp"

using namespace umstore::mailauth;

namespace {

constexpr const char* good_ip = "192.0.2.10";
constexpr const char* other_ip = "198.51.100.7";

// Keys made once, published in the zones below for every test case.
struct Zones {
  DkimKeyPair rsa = make_dkim_key(DkimAlgorithm::rsa_sha256, "sender.test", "rsa");
  DkimKeyPair ed = make_dkim_key(DkimAlgorithm::ed25519_sha256, "sender.test", "ed");

  Zones() {
    test::publish("sender.test", "@ TXT \"v=spf1 ip4:192.0.2.10 -all\"\n"
                                 "soft TXT \"v=spf1 ip4:192.0.2.10 ~all\"\n"
                                 "nospf A 192.0.2.10\n"
                                 "viamx TXT \"v=spf1 mx -all\"\n"
                                 "viamx MX 10 mail.sender.test.\n"
                                 "mail A 192.0.2.10\n"
                                 "_dmarc TXT \"v=DMARC1; p=reject\"\n" +
                                     rsa.zone_line() + "\n" + ed.zone_line() + "\n");
    test::publish("quarantine.test", "@ TXT \"v=spf1 ip4:192.0.2.10 -all\"\n"
                                     "_dmarc TXT \"v=DMARC1; p=quarantine\"\n");
    test::publish("nodmarc.test", "@ TXT \"v=spf1 ip4:192.0.2.10 -all\"\n");
  }
};

Zones& zones() {
  static Zones instance;
  return instance;
}

std::string message(const std::string& from, const std::string& body = "Hello from the tests.\r\n") {
  return "From: Sender <" + from + ">\r\nTo: rcpt@umstore.test\r\nSubject: mailauth test\r\n"
         "Date: Sat, 05 Dec 2026 12:00:00 +0000\r\nMessage-ID: <t1@sender.test>\r\n\r\n" + body;
}

std::string signed_message(const DkimSigningKey& key, const std::string& from) {
  const std::string plain = message(from);
  return dkim_signature_field(key, plain) + plain;
}

// python3-dkim's verdict on `text` with keys from the test's DNS server.
int independent_verify(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("mailauth-" + std::to_string(::getpid()) + ".eml");
  std::ofstream(path, std::ios::binary) << text;
  const std::string command = std::string("/usr/bin/python3 ") + UMSTORE_TEST_DKIM_VERIFIER + " " +
                              test::env("UMSTORE_TEST_DNS_PORT") + " " + path.string();
  const int status = std::system(command.c_str());
  std::filesystem::remove(path);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) != 2, "python3-dkim is missing (install-deps.sh)");
  return WEXITSTATUS(status);
}

SenderAuthentication authenticate(const std::string& ip, const std::string& mail_from, const std::string& text) {
  umstore::dns::Resolver resolver(test::peer_dns());
  return authenticate_sender(resolver, "mx.umstore.test", {ip, "client.sender.test", mail_from}, text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dkim)

BOOST_AUTO_TEST_CASE(rsa_and_ed25519_signatures_verify_independently_and_here) {
  for (const DkimKeyPair* pair : {&zones().rsa, &zones().ed}) {
    BOOST_TEST_CONTEXT(to_string(pair->key.algorithm)) {
      const std::string text = signed_message(pair->key, "alice@sender.test");
      BOOST_TEST(text.find("c=relaxed/relaxed") != std::string::npos);
      BOOST_TEST(independent_verify(text) == 0);
      umstore::dns::Resolver resolver(test::peer_dns());
      const auto verdicts = dkim_verify(resolver, text);
      BOOST_REQUIRE_EQUAL(verdicts.size(), 1u);
      BOOST_TEST(verdicts[0].result == AuthResult::pass);
      BOOST_TEST(verdicts[0].domain == "sender.test");
      BOOST_TEST(verdicts[0].algorithm == std::string(to_string(pair->key.algorithm)));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_message_altered_after_signing_fails) {
  for (const DkimKeyPair* pair : {&zones().rsa, &zones().ed}) {
    BOOST_TEST_CONTEXT(to_string(pair->key.algorithm)) {
      std::string text = signed_message(pair->key, "alice@sender.test");
      text.replace(text.find("Hello"), 5, "Howdy");
      BOOST_TEST(independent_verify(text) == 1);
      umstore::dns::Resolver resolver(test::peer_dns());
      const auto verdicts = dkim_verify(resolver, text);
      BOOST_REQUIRE_EQUAL(verdicts.size(), 1u);
      BOOST_TEST(verdicts[0].result == AuthResult::fail);

      std::string header_changed = signed_message(pair->key, "alice@sender.test");
      header_changed.replace(header_changed.find("mailauth test"), 8, "MAILAUTH");
      BOOST_TEST(dkim_verify(resolver, header_changed).at(0).result == AuthResult::fail);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_message_with_bare_lf_is_signed_as_its_crlf_form) {
  const std::string crlf = message("alice@sender.test", "Line one\r\nLine two\r\n");
  std::string lf = crlf;
  std::erase(lf, '\r');
  const std::string field = dkim_signature_field(zones().rsa.key, lf);
  BOOST_TEST(independent_verify(field + crlf) == 0);
}

BOOST_AUTO_TEST_CASE(keys_load_from_pem_files_with_their_algorithm) {
  for (const DkimKeyPair* pair : {&zones().rsa, &zones().ed}) {
    const auto path = std::filesystem::temp_directory_path() / ("mailauth-key-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(path) << pair->key.private_key_pem;
    const DkimSigningKey loaded = load_dkim_key("sender.test", pair->key.selector, path);
    std::filesystem::remove(path);
    BOOST_TEST(loaded.algorithm == pair->key.algorithm);
    umstore::dns::Resolver resolver(test::peer_dns());
    BOOST_TEST(dkim_verify(resolver, signed_message(loaded, "alice@sender.test")).at(0).result == AuthResult::pass);
  }
  BOOST_CHECK_THROW(load_dkim_key("sender.test", "x", "/nonexistent/key.pem"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(the_author_domain_or_its_nearest_parent_picks_the_key) {
  DkimSigningKey parent = zones().rsa.key;
  DkimSigningKey child = zones().ed.key;
  child.domain = "fax.sender.test";
  child.selector = "child";
  const std::vector<DkimSigningKey> keys{parent, child};
  const auto signer = [&](const std::string& from) {
    const std::string field = dkim_signature_for_author(keys, message(from));
    if (field.empty()) return std::string("unsigned");
    const auto d = field.find(" d=");
    return field.substr(d + 3, field.find(';', d) - d - 3);
  };
  BOOST_TEST(signer("alice@sender.test") == "sender.test");
  BOOST_TEST(signer("alice@SENDER.test") == "sender.test");
  BOOST_TEST(signer("gw@fax.sender.test") == "fax.sender.test");
  BOOST_TEST(signer("gw@voice.sender.test") == "sender.test");  // relaxed alignment accepts the parent's
  BOOST_TEST(signer("mallory@notsender.test") == "unsigned");
  BOOST_TEST(signer("bob@elsewhere.test") == "unsigned");
  // What it signs verifies independently.
  const std::string text = message("alice@sender.test");
  BOOST_TEST(independent_verify(dkim_signature_for_author(keys, text) + text) == 0);
}

BOOST_AUTO_TEST_CASE(the_txt_record_splits_into_strings_of_255_octets) {
  const DkimKeyPair& rsa = zones().rsa;
  BOOST_TEST(rsa.dns_name == "rsa._domainkey.sender.test");
  BOOST_TEST(rsa.dns_txt.rfind("v=DKIM1; k=rsa; p=", 0) == 0);
  BOOST_TEST(rsa.dns_txt.size() > 255u);
  BOOST_TEST(rsa.zone_line().find("\" \"") != std::string::npos);
  BOOST_TEST(zones().ed.dns_txt.rfind("v=DKIM1; k=ed25519; p=", 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(spf)

BOOST_AUTO_TEST_CASE(pass_fail_softfail_none) {
  zones();
  umstore::dns::Resolver resolver(test::peer_dns());
  BOOST_TEST(check_spf(resolver, good_ip, "h.test", "a@sender.test").result == AuthResult::pass);
  BOOST_TEST(check_spf(resolver, other_ip, "h.test", "a@sender.test").result == AuthResult::fail);
  BOOST_TEST(check_spf(resolver, other_ip, "h.test", "a@soft.sender.test").result == AuthResult::softfail);
  BOOST_TEST(check_spf(resolver, other_ip, "h.test", "a@nospf.sender.test").result == AuthResult::none);
  // The mx mechanism: MX, then A lookups through the same resolver.
  BOOST_TEST(check_spf(resolver, good_ip, "h.test", "a@viamx.sender.test").result == AuthResult::pass);
  BOOST_TEST(check_spf(resolver, other_ip, "h.test", "a@viamx.sender.test").result == AuthResult::fail);
  const SpfVerdict bounce = check_spf(resolver, good_ip, "sender.test", "");
  BOOST_TEST(bounce.result == AuthResult::pass);
  BOOST_TEST(bounce.from_helo);
  BOOST_TEST(bounce.domain == "sender.test");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dmarc)

BOOST_AUTO_TEST_CASE(pass_by_aligned_spf_or_dkim) {
  zones();
  const auto by_spf = authenticate(good_ip, "alice@sender.test", message("alice@sender.test"));
  BOOST_TEST(by_spf.dmarc.result == AuthResult::pass);
  BOOST_TEST(by_spf.dmarc.policy == DmarcPolicy::reject);
  // From another address, signed: DKIM alone aligns.
  const auto by_dkim = authenticate(other_ip, "list@elsewhere.test", signed_message(zones().ed.key, "alice@sender.test"));
  BOOST_TEST(by_dkim.spf.result != AuthResult::pass);
  BOOST_TEST(by_dkim.dmarc.result == AuthResult::pass);
  BOOST_TEST(!by_dkim.temporary_failure());
  BOOST_TEST(by_dkim.header.find("dkim=pass header.d=sender.test header.s=ed header.a=ed25519-sha256") !=
             std::string::npos, by_dkim.header);
}

BOOST_AUTO_TEST_CASE(spoofed_from_fails_with_the_domains_policy) {
  zones();
  const auto rejected = authenticate(other_ip, "alice@sender.test", message("alice@sender.test"));
  BOOST_TEST(rejected.spf.result == AuthResult::fail);
  BOOST_TEST(rejected.dmarc.result == AuthResult::fail);
  BOOST_TEST(rejected.dmarc.policy == DmarcPolicy::reject);
  BOOST_TEST(!rejected.temporary_failure());

  const auto quarantined = authenticate(other_ip, "bob@quarantine.test", message("bob@quarantine.test"));
  BOOST_TEST(quarantined.dmarc.result == AuthResult::fail);
  BOOST_TEST(quarantined.dmarc.policy == DmarcPolicy::quarantine);

  // SPF passes for the envelope's domain, but that is not the From: domain.
  const auto unaligned = authenticate(good_ip, "x@nodmarc.test", message("alice@sender.test"));
  BOOST_TEST(unaligned.spf.result == AuthResult::pass);
  BOOST_TEST(unaligned.dmarc.result == AuthResult::fail);
}

BOOST_AUTO_TEST_CASE(an_ipv4_client_on_a_dual_stack_listener_is_its_ipv4_address) {
  zones();
  const auto mapped = authenticate(std::string("::ffff:") + good_ip, "alice@sender.test", message("alice@sender.test"));
  BOOST_TEST(mapped.spf.result == AuthResult::pass);
  BOOST_TEST(mapped.dmarc.result == AuthResult::pass);
}

BOOST_AUTO_TEST_CASE(no_record_is_none) {
  zones();
  const auto none = authenticate(other_ip, "carol@nodmarc.test", message("carol@nodmarc.test"));
  BOOST_TEST(none.dmarc.result == AuthResult::none);
  BOOST_TEST(none.dmarc.policy == DmarcPolicy::absent);
}

BOOST_AUTO_TEST_CASE(authentication_results_header) {
  zones();
  const auto result = authenticate(good_ip, "alice@sender.test", signed_message(zones().rsa.key, "alice@sender.test"));
  BOOST_TEST(result.header ==
                 "Authentication-Results: mx.umstore.test;\r\n"
                 "\tspf=pass smtp.mailfrom=sender.test;\r\n"
                 "\tdkim=pass header.d=sender.test header.s=rsa header.a=rsa-sha256;\r\n"
                 "\tdmarc=pass (p=reject) header.from=sender.test\r\n",
             result.header);
  const auto failed = authenticate(other_ip, "alice@sender.test", message("alice@sender.test"));
  BOOST_TEST(failed.header.find("\tspf=fail (") != std::string::npos, failed.header);
  BOOST_TEST(failed.header.find("\tdkim=none;") != std::string::npos, failed.header);
  BOOST_TEST(failed.header.find("\tdmarc=fail (p=reject) header.from=sender.test") != std::string::npos, failed.header);
}

BOOST_AUTO_TEST_CASE(dns_server_stopped_is_temperror_not_a_refusal) {
  const std::string text = signed_message(zones().rsa.key, "alice@sender.test");
  test::stop_dns();
  SenderAuthentication result;
  try {
    result = authenticate(other_ip, "alice@sender.test", text);
  } catch (...) {
    test::start_dns();
    throw;
  }
  test::start_dns();
  BOOST_TEST(result.spf.result == AuthResult::temperror);
  BOOST_REQUIRE_EQUAL(result.dkim.size(), 1u);
  BOOST_TEST(result.dkim[0].result == AuthResult::temperror);
  BOOST_TEST(result.dmarc.result == AuthResult::temperror);
  BOOST_TEST(result.temporary_failure());
  BOOST_TEST(result.header.find("dmarc=temperror") != std::string::npos, result.header);
}

BOOST_AUTO_TEST_CASE(from_domain_of_the_header) {
  BOOST_TEST(from_domain("From: \"A, B\" <a@Example.TEST>\r\n\r\nbody") == "example.test");
  BOOST_TEST(from_domain("from: a@x.test\nTo: b@y.test\n\n") == "x.test");
  BOOST_TEST(from_domain("From:\r\n a@folded.test\r\n\r\n") == "folded.test");
  BOOST_TEST(from_domain("From: a@x.test, b@y.test\r\n\r\n").empty());
  BOOST_TEST(from_domain("From: a@x.test\r\nFrom: b@y.test\r\n\r\n").empty());
  BOOST_TEST(from_domain("To: a@x.test\r\n\r\nFrom: b@y.test\r\n").empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(results_header)

BOOST_AUTO_TEST_CASE(forged_results_with_our_id_are_removed_and_others_kept) {
  const std::string body = "\r\nAuthentication-Results: mx.umstore.test; in the body stays\r\n";
  const std::string text = "Authentication-Results: MX.umstore.test; dkim=pass header.d=bank.test\r\n"
                           "Received: from a\r\n"
                           "Authentication-Results:\r\n mx.umstore.test;\r\n\tspf=pass\r\n"
                           "Authentication-Results: mx.umstore.test.evil; spf=pass\r\n"
                           "Authentication-Results: other.test; dkim=pass\r\n"
                           "Subject: hi\r\n" + body;
  const std::string cleaned = without_our_authentication_results(text, "mx.umstore.test");
  BOOST_TEST(cleaned == "Received: from a\r\n"
                        "Authentication-Results: mx.umstore.test.evil; spf=pass\r\n"
                        "Authentication-Results: other.test; dkim=pass\r\n"
                        "Subject: hi\r\n" + body);
  BOOST_TEST(without_our_authentication_results("Subject: none\r\n\r\nbody\r\n", "mx.umstore.test") ==
             "Subject: none\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(exempt_senders_get_none_or_auth) {
  BOOST_TEST(exempt_authentication_results_field("mx.umstore.test", "") ==
             "Authentication-Results: mx.umstore.test; none (trusted network)\r\n");
  BOOST_TEST(exempt_authentication_results_field("mx.umstore.test", "+15550100") ==
             "Authentication-Results: mx.umstore.test;\r\n\tauth=pass smtp.auth=+15550100\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
