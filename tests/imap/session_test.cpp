// Scripted protocol exchanges over real TCP sockets, one area per test case.
#include <boost/test/unit_test.hpp>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(greeting_capability_noop_logout_and_errors) {
  TestServer server;
  Client c(server.port());
  BOOST_TEST(c.greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "));
  BOOST_TEST(contains(c.greeting, "AUTH=PLAIN"));
  auto caps = c.command("a1", "CAPABILITY");
  BOOST_TEST(contains(caps, "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT"));
  BOOST_TEST(contains(caps, "a1 OK"));
  BOOST_TEST(!contains(caps, "STARTTLS"));  // no TLS configured
  BOOST_TEST(contains(c.command("a2", "NOOP"), "a2 OK"));
  BOOST_TEST(contains(c.command("a3", "FROBNICATE"), "a3 BAD"));
  BOOST_TEST(contains(c.command("a4", "SELECT INBOX"), "a4 BAD"));  // not logged in
  BOOST_TEST(contains(c.command("a5", "LOGIN \"unterminated"), "a5 BAD"));
  c.send("(((\r\n");
  BOOST_TEST(c.line().starts_with("* BAD"));
  c.send("a6 NOOP " + std::string(70000, 'x') + "\r\n");
  BOOST_TEST(contains(c.line(), "BAD [TOOBIG]"));
  BOOST_TEST(contains(c.command("a7", "ID (\"name\" \"test\")"), "* ID (\"name\" \"umstore\""));
  auto bye = c.command("a8", "LOGOUT");
  BOOST_TEST(contains(bye, "* BYE"));
  BOOST_TEST(contains(bye, "a8 OK"));
  BOOST_TEST(c.line().empty());
  BOOST_TEST(c.closed());
}

BOOST_AUTO_TEST_CASE(login_forms_and_failures) {
  TestServer server;
  {
    Client c(server.port());
    auto bad = c.command("b1", "LOGIN +15550100 wrong");
    BOOST_TEST(contains(bad, "b1 NO [AUTHENTICATIONFAILED]"));
    // synchronising literal for the user name, LITERAL+ for the password
    c.send("b2 LOGIN {9}\r\n");
    BOOST_TEST(c.line().starts_with("+ "));
    c.send("+15550100 {11+}\r\nsecret pass\r\n");
    auto ok = c.until_tagged("b2");
    BOOST_TEST(contains(ok, "b2 OK"));
    BOOST_TEST(contains(c.command("b3", "LOGIN +15550100 x"), "b3 BAD"));  // already logged in
    BOOST_TEST(contains(c.command("b4", "NAMESPACE"), "* NAMESPACE ((\"\" \"/\")) NIL NIL"));
    BOOST_TEST(contains(c.command("b5", "ENABLE CONDSTORE"), "* ENABLED"));
  }
  {
    Client c(server.port());  // SASL-IR: base64("\0+15550100\0secret pass")
    auto ok = c.command("c1", "AUTHENTICATE PLAIN ACsxNTU1MDEwMABzZWNyZXQgcGFzcw==");
    BOOST_TEST(contains(ok, "c1 OK"));
  }
  {
    Client c(server.port());
    c.send("d1 AUTHENTICATE PLAIN\r\n");
    BOOST_TEST(c.line() == "+ ");
    c.send("ACsxNTU1MDEwMABzZWNyZXQgcGFzcw==\r\n");
    BOOST_TEST(contains(c.until_tagged("d1"), "d1 OK"));
  }
  {
    Client c(server.port());
    c.send("e1 AUTHENTICATE PLAIN\r\n");
    BOOST_TEST(c.line() == "+ ");
    c.send("*\r\n");
    BOOST_TEST(contains(c.until_tagged("e1"), "e1 BAD"));
    BOOST_TEST(contains(c.command("e2", "AUTHENTICATE CRAM-MD5"), "e2 NO"));
  }
}

BOOST_AUTO_TEST_CASE(mailbox_management_and_list) {
  TestServer server;
  Client c(server.port());
  c.login();
  auto list = c.command("l1", "LIST \"\" \"*\"");
  BOOST_TEST(contains(list, "* LIST (\\HasNoChildren) \"/\" INBOX"));
  BOOST_TEST(contains(list, "\\Sent) \"/\" Sent"));
  BOOST_TEST(contains(list, "\\Trash) \"/\" Trash"));
  BOOST_TEST(contains(c.command("l2", "LIST \"\" \"\""), "* LIST (\\Noselect) \"/\" \"\""));
  BOOST_TEST(contains(c.command("l3", "CREATE Archive/2026"), "l3 OK"));
  BOOST_TEST(contains(c.command("l4", "CREATE Entw&APw-rfe"), "l4 OK"));
  BOOST_TEST(contains(c.command("l5", "CREATE INBOX"), "l5 NO [ALREADYEXISTS]"));
  BOOST_TEST(contains(c.command("l5b", "CREATE ../escape"), "l5b NO [CANNOT]"));
  list = c.command("l6", "LIST \"\" \"%\"");
  BOOST_TEST(contains(list, "\"/\" Entw&APw-rfe"));
  BOOST_TEST(contains(list, "(\\HasChildren) \"/\" Archive"));
  BOOST_TEST(!contains(list, "Archive/2026"));
  BOOST_TEST(contains(c.command("l7", "LIST Archive/ %"), "\"/\" Archive/2026"));
  BOOST_TEST(contains(c.command("l8", "SUBSCRIBE Archive/2026"), "l8 OK"));
  auto lsub = c.command("l9", "LSUB \"\" \"*\"");
  BOOST_TEST(contains(lsub, "* LSUB"));
  BOOST_TEST(contains(lsub, "Archive/2026"));
  auto sub = c.command("la", "SUBSCRIBE Nope");
  BOOST_TEST((contains(sub, "la OK") || contains(sub, "la NO [NONEXISTENT]")), sub);
  auto special = c.command("lj", "LIST (SPECIAL-USE) \"\" \"*\"");
  BOOST_TEST(contains(special, "\\Sent) \"/\" Sent"));
  BOOST_TEST(!contains(special, "INBOX"));
  auto returned = c.command("lk", "LIST \"\" \"Archive/*\" RETURN (SUBSCRIBED CHILDREN)");
  BOOST_TEST(contains(returned, "(\\HasNoChildren \\Subscribed) \"/\" Archive/2026"));
  BOOST_TEST(contains(c.command("ll", "LIST (BOGUS) \"\" \"*\""), "ll BAD"));
  BOOST_TEST(contains(c.command("lb", "RENAME Archive/2026 Archive/Old"), "lb OK"));
  BOOST_TEST(contains(c.command("lc", "LIST \"\" Archive/*"), "Archive/Old"));
  BOOST_TEST(contains(c.command("ld", "DELETE Archive/Old"), "ld OK"));
  BOOST_TEST(contains(c.command("le", "DELETE Archive/Old"), "le NO [NONEXISTENT]"));
  BOOST_TEST(contains(c.command("lf", "DELETE INBOX"), "lf NO"));
  BOOST_TEST(contains(c.command("lg", "SELECT Nope"), "lg NO [NONEXISTENT]"));
  server.mailbox()->open("INBOX")->append(text_message("one"));
  auto status = c.command("lh", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)");
  BOOST_TEST(contains(status, "* STATUS INBOX (MESSAGES 1 UNSEEN 1 UIDNEXT 2 UIDVALIDITY "));
  BOOST_TEST(contains(c.command("li", "STATUS Nope (MESSAGES)"), "li NO [NONEXISTENT]"));
}

BOOST_AUTO_TEST_CASE(select_fetch_store_search) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  inbox->append(text_message("first"), ms::kSeen);
  inbox->append(text_message("second", "Please call me back about the invoice.\n"));
  inbox->append(voice_message());
  Client c(server.port());
  c.login();
  auto sel = c.command("s1", "SELECT INBOX");
  BOOST_TEST(contains(sel, "* 3 EXISTS"));
  BOOST_TEST(contains(sel, "* 3 RECENT"));  // this session is the first to see them
  BOOST_TEST(contains(sel, "* OK [UNSEEN 2]"));
  BOOST_TEST(contains(sel, "* OK [UIDVALIDITY "));
  BOOST_TEST(contains(sel, "* OK [UIDNEXT 4]"));
  BOOST_TEST(contains(sel, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"));
  BOOST_TEST(contains(sel, "s1 OK [READ-WRITE]"));

  auto fast = c.command("f1", "FETCH 1:* (UID FLAGS RFC822.SIZE)");
  BOOST_TEST(contains(fast, "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) RFC822.SIZE "));
  BOOST_TEST(contains(fast, "* 3 FETCH (UID 3 FLAGS (\\Recent) RFC822.SIZE "));
  auto env = c.command("f2", "FETCH 2 ENVELOPE");
  BOOST_TEST(contains(env, "ENVELOPE (\"Sat, 21 Nov 2026 19:40:01 +0000\" \"second\" "
                           "((\"Bob Caller\" NIL \"bob\" \"example.org\"))"));
  BOOST_TEST(contains(env, "((NIL NIL \"+15550100\" \"vm.example.net\")(\"Carol\" NIL \"carol\" \"example.org\"))"));
  auto bs = c.command("f3", "FETCH 3 BODYSTRUCTURE");
  BOOST_TEST(contains(bs, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" "));
  BOOST_TEST(contains(bs, "(\"AUDIO\" \"32KADPCM\" NIL NIL NIL \"BASE64\" "));
  BOOST_TEST(contains(bs, "\"VOICE-MESSAGE\" (\"VERSION\" \"2.0\" \"BOUNDARY\" \"VM-BOUNDARY\")"));
  BOOST_TEST(contains(bs, "(\"INLINE\" (\"VOICE\" \"Voice-Message\" \"FILENAME\" \"msg.726\"))"));
  auto body = c.command("f4", "FETCH 3 BODY");
  BOOST_TEST(contains(body, "\"VOICE-MESSAGE\")"));

  auto part = c.command("f5", "FETCH 3 (BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1]<0.5>)");
  BOOST_TEST(contains(part, "BODY[2] {24}\r\nAAECAwQFBgcICQoLDA0ODw=="));
  BOOST_TEST(contains(part, "BODY[2.MIME] {"));
  BOOST_TEST(contains(part, "Content-Type: audio/32KADPCM\r\n"));
  BOOST_TEST(contains(part, "BODY[1]<0> {5}\r\nVoice"));
  BOOST_TEST(!contains(part, "FLAGS"));
  auto fields = c.command("f6", "FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject FROM)]");
  BOOST_TEST(contains(fields, "BODY[HEADER.FIELDS (SUBJECT FROM)] {"));
  BOOST_TEST(contains(fields, "From: \"Bob Caller\" <bob@example.org>\r\nSubject: second\r\n\r\n"));
  BOOST_TEST(!contains(fields, "Message-ID"));
  auto notfields = c.command("f7", "FETCH 2 BODY.PEEK[HEADER.FIELDS.NOT (Subject)]");
  BOOST_TEST(contains(notfields, "Message-ID: <second@example.org>"));
  BOOST_TEST(!contains(notfields, "Subject:"));
  auto text = c.command("f8", "FETCH 2 BODY[TEXT]");  // not PEEK: sets \Seen
  BOOST_TEST(contains(text, "BODY[TEXT] {40}\r\nPlease call me back about the invoice.\r\n"));
  BOOST_TEST(contains(text, "FLAGS (\\Seen \\Recent)"));
  auto rfc = c.command("f9", "UID FETCH 1 (RFC822.HEADER INTERNALDATE)");
  BOOST_TEST(contains(rfc, "* 1 FETCH (UID 1 RFC822.HEADER {"));
  BOOST_TEST(contains(rfc, "INTERNALDATE \""));
  // Header-only fetches of a multipart message (served without parsing its
  // body structure) answer exactly as the full parse does.
  auto top = c.command("fe", "FETCH 3 (BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)] BODY.PEEK[HEADER] BODY.PEEK[])");
  const std::string voice = voice_message();
  const std::string voice_header = voice.substr(0, voice.find("\r\n\r\n") + 4);
  BOOST_TEST(contains(top, "Content-Type: multipart/voice-message; version=2.0; boundary=\"VM-BOUNDARY\"\r\n\r\n"));
  BOOST_TEST(contains(top, "BODY[HEADER] {" + std::to_string(voice_header.size()) + "}\r\n" + voice_header));
  BOOST_TEST(contains(top, "BODY[] {" + std::to_string(voice.size()) + "}\r\n" + voice));
  BOOST_TEST(!contains(top, "FLAGS"));
  BOOST_TEST(contains(c.command("fa", "FETCH 1 (BODY[9])"), "BODY[9] {0}"));
  BOOST_TEST(contains(c.command("fb", "FETCH 1 (FLAGS BOGUS)"), "fb BAD"));
  BOOST_TEST(contains(c.command("fc", "FETCH x:y FLAGS"), "fc BAD"));
  auto all = c.command("fd", "FETCH 1 ALL");
  BOOST_TEST(contains(all, "ENVELOPE"));
  BOOST_TEST(contains(all, "INTERNALDATE"));

  auto st = c.command("t1", "STORE 1 +FLAGS (\\Flagged $Forwarded)");
  BOOST_TEST(contains(st, "* 1 FETCH (FLAGS (\\Seen \\Flagged \\Recent $Forwarded))"));
  BOOST_TEST(contains(c.command("t2", "UID STORE 3 +FLAGS.SILENT (\\Deleted)"), "t2 OK"));
  BOOST_TEST(contains(c.command("t3", "STORE 1 -FLAGS (\\Seen)"), "* 1 FETCH (FLAGS (\\Flagged \\Recent $Forwarded))"));
  BOOST_TEST(contains(c.command("t4", "STORE 1 FLAGS (\\Bogus)"), "t4 BAD"));

  BOOST_TEST(contains(c.command("q1", "SEARCH ALL"), "* SEARCH 1 2 3\r\n"));
  BOOST_TEST(contains(c.command("q2", "SEARCH UNSEEN"), "* SEARCH 1 3\r\n"));
  BOOST_TEST(contains(c.command("q3", "SEARCH DELETED"), "* SEARCH 3\r\n"));
  BOOST_TEST(contains(c.command("q4", "SEARCH FLAGGED NOT DELETED"), "* SEARCH 1\r\n"));
  BOOST_TEST(contains(c.command("q5", "SEARCH SUBJECT \"VOICE message\""), "* SEARCH 3\r\n"));
  BOOST_TEST(contains(c.command("q6", "SEARCH BODY invoice"), "* SEARCH 2\r\n"));
  BOOST_TEST(contains(c.command("q7", "SEARCH OR FROM carol TO nobody"), "* SEARCH\r\n"));
  BOOST_TEST(contains(c.command("q8", "SEARCH TO carol"), "* SEARCH 1 2\r\n"));
  BOOST_TEST(contains(c.command("q9", "UID SEARCH 2:*"), "* SEARCH 2 3\r\n"));
  BOOST_TEST(contains(c.command("qa", "SEARCH SENTON 22-Nov-2026"), "* SEARCH 3\r\n"));
  BOOST_TEST(contains(c.command("qb", "SEARCH SENTBEFORE 22-Nov-2026"), "* SEARCH 1 2\r\n"));
  BOOST_TEST(contains(c.command("qc", "SEARCH SINCE 1-Jan-2000 LARGER 1"), "* SEARCH 1 2 3\r\n"));
  BOOST_TEST(contains(c.command("qd", "SEARCH (KEYWORD $Forwarded) UNDELETED"), "* SEARCH 1\r\n"));
  BOOST_TEST(contains(c.command("qe", "SEARCH CHARSET UTF-8 HEADER Message-Context voice"), "* SEARCH 3\r\n"));
  BOOST_TEST(contains(c.command("qf", "SEARCH CHARSET KOI8-R ALL"), "qf NO [BADCHARSET"));
  BOOST_TEST(contains(c.command("qg", "SEARCH FOO"), "qg BAD"));
  BOOST_TEST(contains(c.command("qh", "SEARCH TEXT \"call me\""), "* SEARCH 2\r\n"));

  auto exp = c.command("x1", "EXPUNGE");
  BOOST_TEST(contains(exp, "* 3 EXPUNGE"));
  BOOST_TEST(contains(c.command("x2", "FETCH 1:* UID"), "* 2 FETCH (UID 2)"));
  BOOST_TEST(contains(c.command("x3", "CLOSE"), "x3 OK"));
  BOOST_TEST(contains(c.command("x4", "FETCH 1 UID"), "x4 BAD"));
  auto ex = c.command("x5", "EXAMINE INBOX");
  BOOST_TEST(contains(ex, "x5 OK [READ-ONLY]"));
  BOOST_TEST(contains(c.command("x6", "STORE 1 +FLAGS (\\Seen)"), "x6 NO"));
  BOOST_TEST(contains(c.command("x7", "UNSELECT"), "x7 OK"));
}

BOOST_AUTO_TEST_CASE(append_copy_move_uid_expunge) {
  TestServer server;
  Client c(server.port());
  c.login();
  std::string msg = text_message("appended");
  c.send("p1 APPEND INBOX (\\Seen \\Draft) \"05-Oct-2026 10:00:00 +0200\" {" + std::to_string(msg.size()) + "}\r\n");
  BOOST_TEST(c.line().starts_with("+ "));
  c.send(msg + "\r\n");
  auto ap = c.until_tagged("p1");
  BOOST_TEST(contains(ap, "p1 OK [APPENDUID "));
  BOOST_TEST(contains(ap, " 1] APPEND"));
  c.send("p2 APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  BOOST_TEST(contains(c.until_tagged("p2"), " 2] APPEND"));
  BOOST_TEST(contains(c.command("p3", "APPEND Nope {3+}\r\nabc"), "p3 NO [TRYCREATE]"));
  BOOST_TEST(contains(c.command("p4", "APPEND INBOX (\\Bogus) {3+}\r\nabc"), "p4 BAD"));

  auto sel = c.command("s1", "SELECT INBOX");
  BOOST_TEST(contains(sel, "* 2 EXISTS"));
  auto date = c.command("s2", "FETCH 1 (FLAGS INTERNALDATE)");
  BOOST_TEST(contains(date, "FLAGS (\\Seen \\Draft \\Recent)"));
  BOOST_TEST(contains(date, "INTERNALDATE \"05-Oct-2026 08:00:00 +0000\""));

  // APPEND to the selected folder is announced before the tagged OK
  c.send("p5 APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  auto ap5 = c.until_tagged("p5");
  BOOST_TEST(contains(ap5, "* 3 EXISTS"));

  auto copy = c.command("c1", "COPY 1:2 Trash");
  BOOST_TEST(contains(copy, "c1 OK [COPYUID "));
  BOOST_TEST(contains(copy, " 1:2 1:2]"));
  BOOST_TEST(contains(c.command("c2", "COPY 1 Nope"), "c2 NO [TRYCREATE]"));
  auto move = c.command("m1", "UID MOVE 2 Sent");
  BOOST_TEST(contains(move, "* OK [COPYUID "));
  BOOST_TEST(contains(move, "* 2 EXPUNGE"));
  BOOST_TEST(contains(move, "m1 OK"));
  BOOST_TEST(server.mailbox()->open("Sent")->status().messages == 1u);
  BOOST_TEST(server.mailbox()->open("INBOX")->status().messages == 2u);

  BOOST_TEST(contains(c.command("u1", "STORE 1:2 +FLAGS.SILENT (\\Deleted)"), "u1 OK"));
  auto ue = c.command("u2", "UID EXPUNGE 3");
  BOOST_TEST(contains(ue, "* 2 EXPUNGE"));
  BOOST_TEST(!contains(ue, "* 1 EXPUNGE"));
  BOOST_TEST(server.mailbox()->open("INBOX")->status().messages == 1u);
}

BOOST_AUTO_TEST_CASE(large_message_is_sent_whole) {
  TestServer server;
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "line " + std::to_string(i) + " of a long fax description\n";
  std::string msg = text_message("large", body);
  server.mailbox()->open("INBOX")->append(msg);
  Client c(server.port());
  c.login();
  c.command("s1", "SELECT INBOX");
  c.send("f1 FETCH 1 (BODY.PEEK[] RFC822.SIZE)\r\n");
  std::string head = c.line();
  BOOST_TEST(head == "* 1 FETCH (BODY[] {" + std::to_string(msg.size()) + "}");
  BOOST_TEST(c.octets(msg.size()) == msg);
  BOOST_TEST(c.line() == " RFC822.SIZE " + std::to_string(msg.size()) + ")");
  BOOST_TEST(contains(c.until_tagged("f1"), "f1 OK"));
  auto partial = c.command("f2", "FETCH 1 BODY.PEEK[TEXT]<5.10>");
  BOOST_TEST(contains(partial, "BODY[TEXT]<5> {10}\r\n0 of a lon"));
}

BOOST_AUTO_TEST_CASE(literal_too_big_is_refused) {
  umstore::imap::ImapServerConfig config;
  config.max_literal_bytes = 1000;
  TestServer server(config);
  Client c(server.port());
  c.login();
  c.send("z1 APPEND INBOX {5000}\r\n");
  BOOST_TEST(contains(c.line(), "z1 NO [TOOBIG]"));
  BOOST_TEST(contains(c.command("z2", "NOOP"), "z2 OK"));
}

BOOST_AUTO_TEST_SUITE_END()
