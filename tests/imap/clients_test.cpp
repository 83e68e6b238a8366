// Real clients against the real server: Python imaplib and curl.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;

namespace {

struct Output {
  int status = -1;
  std::string text;
};

Output run(const std::string& command) {
  Output out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  out.status = ::pclose(p);
  return out;
}

constexpr const char* kImaplibScript = R"PY(
import imaplib, sys
port = int(sys.argv[1])
m = imaplib.IMAP4("127.0.0.1", port)
assert "IDLE" in m.capabilities and "UIDPLUS" in m.capabilities, m.capabilities
typ, _ = m.login("+15550100", "secret pass")
assert typ == "OK"
typ, boxes = m.list()
names = [b.decode() for b in boxes]
assert any(n.endswith(' INBOX') for n in names), names
assert any('\\Trash' in n for n in names), names
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"3", data
typ, data = m.search(None, "UNSEEN")
assert data[0] == b"2 3", data
typ, data = m.search(None, 'FROM', '"Voice Mail"')
assert data[0] == b"3", data
typ, data = m.fetch("1:3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subjects = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
assert subjects == ["Subject: first", "Subject: second", "Subject: Voice message from +1 555 0123"], subjects
typ, data = m.fetch("3", "(BODYSTRUCTURE)")
bs = data[0].decode()
assert '"AUDIO" "32KADPCM"' in bs and '"VOICE-MESSAGE" ("VERSION" "2.0"' in bs, bs
typ, data = m.fetch("3", "(BODY.PEEK[2])")
assert data[0][1] == b"AAECAwQFBgcICQoLDA0ODw==", data
typ, data = m.fetch("3", "(BODY[1])")
assert data[0][1].startswith(b"Voice message from"), data
assert b"\\Seen" in data[0][0] or any(b"\\Seen" in d for d in data if isinstance(d, bytes)), data
typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
assert len([d for d in data if d]) == 3, data
typ, data = m.store("2", "+FLAGS", "(\\Seen \\Deleted)")
assert typ == "OK" and b"\\Deleted" in data[0], data
typ, data = m.expunge()
assert data == [b"2"], data
typ, data = m.search(None, "ALL")
assert data[0] == b"1 2", data
typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
assert b"MESSAGES 2" in data[0], data
m.create("Voicemail/Saved")
typ, data = m.copy("2", "Voicemail/Saved")
assert typ == "OK", data
typ, data = m.append("Voicemail/Saved", "(\\Seen)", None, b"Subject: hi\r\n\r\nbody\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
m.close()
typ, data = m.logout()
assert typ == "BYE", (typ, data)
print("IMAPLIB-OK")
)PY";

void fill_inbox(TestServer& server) {
  auto inbox = server.mailbox()->open("INBOX");
  inbox->append(text_message("first"), ms::kSeen);
  inbox->append(text_message("second"));
  inbox->append(voice_message());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clients)

BOOST_AUTO_TEST_CASE(python_imaplib_session) {
  TestServer server;
  fill_inbox(server);
  auto script = server.dir() / "client.py";
  std::ofstream(script) << kImaplibScript;
  auto out = run("python3 " + script.string() + " " + std::to_string(server.port()));
  BOOST_TEST_MESSAGE(out.text);
  BOOST_TEST(out.status == 0);
  BOOST_TEST(contains(out.text, "IMAPLIB-OK"), out.text);
  BOOST_TEST(server.mailbox()->open("Voicemail/Saved")->status().messages == 2u);
}

BOOST_AUTO_TEST_CASE(curl_fetch_bodystructure_and_message) {
  TestServer server;
  fill_inbox(server);
  std::string url = "imap://127.0.0.1:" + std::to_string(server.port());
  std::string auth = " --max-time 20 -s -u '+15550100:secret pass' ";
  auto bs = run("curl" + auth + "'" + url + "/INBOX' -X 'FETCH 1:* BODYSTRUCTURE'");
  BOOST_TEST(bs.status == 0, bs.text);
  BOOST_TEST(contains(bs.text, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\""), bs.text);
  BOOST_TEST(contains(bs.text, "* 3 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\")"), bs.text);
  BOOST_TEST(contains(bs.text, "\"VOICE-MESSAGE\" (\"VERSION\" \"2.0\" \"BOUNDARY\" \"VM-BOUNDARY\")"), bs.text);
  auto msg = run("curl" + auth + "'" + url + "/INBOX;UID=3'");
  BOOST_TEST(msg.status == 0, msg.text);
  BOOST_TEST(msg.text == voice_message());
  auto part = run("curl" + auth + "'" + url + "/INBOX;UID=3;SECTION=2'");
  BOOST_TEST(part.text == "AAECAwQFBgcICQoLDA0ODw==");
  auto list = run("curl" + auth + "'" + url + "/'");
  BOOST_TEST(contains(list.text, "INBOX"), list.text);
  auto bad = run("curl --max-time 20 -s -u '+15550100:wrong' '" + url + "/INBOX' -X NOOP");
  BOOST_TEST(bad.status != 0);
}

BOOST_AUTO_TEST_SUITE_END()
