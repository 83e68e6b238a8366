// STARTTLS and LOGINDISABLED, with Python imaplib as the client.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include "net/tls.hpp"
#include "test_server.hpp"

using namespace umstore::imap::test;

namespace {

constexpr const char* kStartTlsScript = R"PY(
import imaplib, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
assert "AUTH=PLAIN" not in m.capabilities, m.capabilities
typ, data = m._simple_command("LOGIN", "+15550100", '"secret pass"')
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m.starttls(ssl_context=ctx)
assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities, m.capabilities
m.login("+15550100", "secret pass")
typ, data = m.select("INBOX")
assert typ == "OK"
m.logout()
print("STARTTLS-OK")
)PY";

}  // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(starttls_then_login) {
  auto dir = std::filesystem::temp_directory_path() / "umstore-imap-tls-test";
  std::filesystem::create_directories(dir);
  umstore::net::ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "localhost");
  umstore::imap::ImapServerConfig config;
  config.tls = umstore::net::make_server_tls_context(dir / "cert.pem", dir / "key.pem");
  config.login_requires_tls = true;
  TestServer server(config);
  {
    Client c(server.port());
    BOOST_TEST(contains(c.command("t1", "LOGIN +15550100 \"secret pass\""), "t1 NO [PRIVACYREQUIRED]"));
    BOOST_TEST(contains(c.command("t2", "AUTHENTICATE PLAIN ACsxNTU1MDEwMABzZWNyZXQgcGFzcw=="), "t2 NO"));
  }
  auto script = server.dir() / "starttls.py";
  std::ofstream(script) << kStartTlsScript;
  FILE* p = ::popen(("python3 " + script.string() + " " + std::to_string(server.port()) + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(p);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  BOOST_TEST(::pclose(p) == 0, out);
  BOOST_TEST(contains(out, "STARTTLS-OK"), out);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
