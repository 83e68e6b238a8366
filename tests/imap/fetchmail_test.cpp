// fetchmail as a real client: retrieves a voicemail and a fax over IMAP
// and hands them to an MDA; "keep" leaves them on the server, seen.
// Its own executable: client_main.cpp skips it (exit 77) without fetchmail.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(fetchmail)

BOOST_AUTO_TEST_CASE(fetchmail_retrieves_voice_and_fax) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  inbox->append(voice_message());
  inbox->append(crlf("From: \"Fax\" <non-mail-user@vm.example.net>\nTo: +15550100@vm.example.net\n"
                     "Subject: Fax from +1 555 0124\nMIME-Version: 1.0\n"
                     "Content-Type: image/tiff; application=faxbw\nContent-Transfer-Encoding: base64\n\n"
                     "SUkqAAgAAAA=\n"));
  const fs::path out = server.dir() / "delivered.mbox";
  const fs::path rc = server.dir() / "fetchmailrc";
  std::ofstream(rc) << "poll 127.0.0.1 protocol IMAP port " << server.port()
                    << " auth password\n  user \"+15550100\" password \"secret pass\" sslproto '' keep fetchall\n"
                    << "  mda \"/bin/sh -c 'cat >> " << out.string() << "'\"\n";
  ::chmod(rc.c_str(), 0600);
  const std::string command = "HOME=" + server.dir().string() + " fetchmail -f " + rc.string() + " --pidfile " +
                              (server.dir() / "fetchmail.pid").string() + " --nosyslog 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(p);
  std::string log;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
  const int status = ::pclose(p);
  BOOST_TEST(status == 0, log);
  std::ifstream in(out);
  const std::string mail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(contains(mail, "Content-Type: audio/32KADPCM"), log);
  BOOST_TEST(contains(mail, "application=faxbw"), log);
  BOOST_TEST(inbox->status().messages == 2u);  // kept
  BOOST_TEST(inbox->status().unseen == 0u);    // and marked seen by the fetch
}

BOOST_AUTO_TEST_SUITE_END()
