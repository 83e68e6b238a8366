// TOTP against RFC 6238's own test vectors, the router, sessions and the
// SQLite admin store on a real database file.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <thread>

#include "admin/admin_store.hpp"
#include "admin/totp.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "mailstore/password_hash.hpp"
#include "sessions.hpp"

using namespace umstore;

BOOST_AUTO_TEST_CASE(totp_matches_rfc_6238_vectors) {
  // RFC 6238 Appendix B, SHA-1 key "12345678901234567890": the last six of each eight-digit code.
  const std::string key = "12345678901234567890";
  const std::pair<std::int64_t, const char*> vectors[] = {
      {59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}};
  for (const auto& [time, code] : vectors) {
    const auto step = admin::totp_step(key, code, time);
    BOOST_TEST_REQUIRE(step.has_value(), "code " << code << " at " << time);
    BOOST_TEST(*step == time / 30);
  }
  BOOST_TEST(admin::totp_step(key, "287082", 59 + 30).value() == 1);  // one step of drift is accepted
  BOOST_TEST(!admin::totp_step(key, "287082", 59 + 90).has_value());  // three are not
  BOOST_TEST(!admin::totp_step(key, "28708", 59).has_value());
  BOOST_TEST(!admin::totp_step(key, "28708x", 59).has_value());
  BOOST_TEST(admin::base32(key) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

BOOST_AUTO_TEST_CASE(qr_code_is_svg) {
  const std::string svg = admin::qr_svg(admin::otpauth_uri("alice", admin::new_totp_secret()));
  BOOST_TEST(svg.starts_with("<svg "));
  BOOST_TEST(svg.find("<path d=\"M") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(router_matches_method_and_path) {
  http::Router<int> router;
  router.add("GET", "/api/mailboxes", 1);
  router.add("GET", "/api/mailboxes/{}", 2);
  router.add("DELETE", "/api/mailboxes/{}", 3);
  auto m = router.match("GET", "/api/mailboxes/%2B15550100");
  BOOST_TEST_REQUIRE(m.handler != nullptr);
  BOOST_TEST(*m.handler == 2);
  BOOST_TEST(m.params.at(0) == "+15550100");
  BOOST_TEST(*router.match("HEAD", "/api/mailboxes").handler == 1);
  BOOST_TEST(router.match("POST", "/api/mailboxes/1").status == 405);
  BOOST_TEST(router.match("GET", "/api/other").status == 404);
  BOOST_TEST(router.match("GET", "/api/mailboxes/1/x").status == 404);
}

BOOST_AUTO_TEST_CASE(request_query_and_cookie) {
  http::Request r;
  r.target = "/api/mailboxes?q=Carol+C%C3%A9&limit=5";
  r.headers["cookie"] = "a=1; umstore_admin=abc; b=2";
  BOOST_TEST(r.path() == "/api/mailboxes");
  BOOST_TEST(r.query("q").value() == "Carol C\xc3\xa9");
  BOOST_TEST(r.query("limit").value() == "5");
  BOOST_TEST(!r.query("none").has_value());
  BOOST_TEST(r.cookie("umstore_admin").value() == "abc");
  BOOST_TEST(!r.cookie("umstore").has_value());
}

BOOST_AUTO_TEST_CASE(sessions_expire_and_codes_are_used_once) {
  admin::SessionTable table(std::chrono::hours(1), std::chrono::hours(2));
  const admin::AdminUser user{"alice", admin::Role::Admin, "", "", true};
  const auto s = table.open(user, false);
  BOOST_TEST(s.id.size() == 64u);
  BOOST_TEST(s.csrf != s.id);
  BOOST_TEST(table.find(s.id).has_value());
  table.close(s.id);
  BOOST_TEST(!table.find(s.id).has_value());
  admin::SessionTable short_lived(std::chrono::seconds(0), std::chrono::hours(2));
  const auto gone = short_lived.open(user, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_TEST(!short_lived.find(gone.id).has_value());
  BOOST_TEST(table.claim_totp_step("alice", 100));
  BOOST_TEST(!table.claim_totp_step("alice", 100));
  BOOST_TEST(!table.claim_totp_step("alice", 99));
  BOOST_TEST(table.claim_totp_step("bob", 100));
  BOOST_TEST(table.claim_totp_step("alice", 101));
}

BOOST_AUTO_TEST_CASE(sqlite_store_keeps_admins_and_audit) {
  const auto dir = std::filesystem::temp_directory_path() / ("admin-test-" + admin::random_token().substr(0, 8));
  std::filesystem::create_directories(dir);
  {
    auto store = admin::open_sqlite_admin_store(dir / "accounts.db");
    const admin::AdminUser alice{"alice", admin::Role::Helpdesk, mailstore::hash_password("pw one"),
                                 admin::new_totp_secret(), false};
    store->add(alice);
    BOOST_CHECK_THROW(store->add(alice), admin::AdminError);
    BOOST_CHECK_THROW(store->add({"bad name", admin::Role::Admin, "x", "y", false}), admin::AdminError);
    store->confirm_totp("alice");
    for (int i = 0; i < 3; ++i) store->record({0, 1000 + i, "alice", "mailbox.edit", std::to_string(i), "127.0.0.1", "ok"});
  }
  auto reopened = admin::open_sqlite_admin_store(dir / "accounts.db");
  const auto alice = reopened->find("alice");
  BOOST_TEST_REQUIRE(alice.has_value());
  BOOST_TEST(alice->totp_confirmed);
  BOOST_TEST(alice->totp_secret.size() == admin::kTotpSecretBytes);
  BOOST_TEST(mailstore::password_matches(alice->password_hash, "pw one"));
  BOOST_TEST(!mailstore::password_matches(alice->password_hash, "pw two"));
  BOOST_TEST(!mailstore::password_matches("", "pw one"));
  const auto newest = reopened->audit(2);
  BOOST_TEST_REQUIRE(newest.size() == 2u);
  BOOST_TEST(newest[0].target == "2");
  BOOST_TEST(newest[1].target == "1");
  const auto older = reopened->audit(10, newest[1].id);
  BOOST_TEST_REQUIRE(older.size() == 1u);
  BOOST_TEST(older[0].target == "0");
  std::filesystem::remove_all(dir);
}
