// mbsync (isync) as a real client: pull all folders holding voicemail and
// fax, push a flag change, a deletion and a new message back. Its own
// executable: client_main.cpp skips it (exit 77) without mbsync.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace fs = std::filesystem;

namespace {

std::string run_capture(const std::string& command, int& status) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  status = ::pclose(p);
  return out;
}

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for (const char* sub : {"cur", "new"})
    if (fs::exists(dir / sub))
      for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / sub)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mbsync)

BOOST_AUTO_TEST_CASE(mbsync_round_trip) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  inbox->append(text_message("first"));
  inbox->append(voice_message());
  inbox->append(crlf("From: \"Fax\" <non-mail-user@vm.example.net>\nTo: +15550100@vm.example.net\n"
                     "Subject: Fax from +1 555 0124\nMessage-ID: <fax1@vm.example.net>\nMIME-Version: 1.0\n"
                     "Content-Type: image/tiff; application=faxbw\nContent-Transfer-Encoding: base64\n\n"
                     "SUkqAAgAAAA=\n"));
  server.mailbox()->open("Sent")->append(text_message("sent one"), umstore::mailstore::kSeen);
  fs::path local = server.dir() / "local";
  fs::create_directories(local);
  fs::path conf = server.dir() / "mbsyncrc";
  std::ofstream(conf) << "IMAPAccount test\nHost 127.0.0.1\nPort " << server.port()
                      << "\nUser +15550100\nPass \"secret pass\"\nSSLType None\nAuthMechs PLAIN\n\n"
                         "IMAPStore remote\nAccount test\n\n"
                         "MaildirStore local\nPath " << local.string() << "/\nInbox " << (local / "INBOX").string()
                      << "\nSubFolders Verbatim\n\n"
                         "Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n"
                         "SyncState *\n";
  int status = 0;
  auto out = run_capture("mbsync -c " + conf.string() + " -a", status);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(count_files(local / "INBOX") == 3u, out);
  BOOST_TEST(count_files(local / "Sent") == 1u, out);

  // Mark the local voice and fax messages seen, delete the text one, add a draft.
  for (const auto& e : fs::directory_iterator(local / "INBOX" / "new")) {
    std::ifstream in(e.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("Subject: first") != std::string::npos) {
      fs::remove(e.path());
      continue;
    }
    fs::path to = local / "INBOX" / "cur" / (e.path().filename().string() + ":2,S");
    fs::rename(e.path(), to);
  }
  fs::create_directories(local / "Drafts" / "cur");
  fs::create_directories(local / "Drafts" / "new");
  fs::create_directories(local / "Drafts" / "tmp");
  std::ofstream(local / "Drafts" / "cur" / "1700000000.1.host:2,D") << text_message("draft");
  out = run_capture("mbsync -c " + conf.string() + " -a", status);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(inbox->status().unseen == 0u, out);
  BOOST_TEST(inbox->status().messages == 2u, out);  // the deletion reached the server
  for (const auto& m : inbox->snapshot()) BOOST_TEST(m.flags == umstore::mailstore::kSeen);
  auto drafts = server.mailbox()->open("Drafts");
  BOOST_TEST(drafts->status().messages == 1u, out);
}

BOOST_AUTO_TEST_SUITE_END()
