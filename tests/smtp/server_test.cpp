// The server over real TCP with real clients: swaks, Python smtplib, our
// own submit() and a raw socket for what well-behaved clients never send.
#include <boost/test/unit_test.hpp>

#include <string>

#include "smtp/smtp_client.hpp"
#include "test_server.hpp"

using namespace umstore;
using namespace umstore::smtp;
using namespace umstore::smtp::test;

namespace {

std::string local_address(std::string_view number = kNumber) { return std::string(number) + "@" + std::string(kDomain); }

// swaks options with optional values (--pipeline, -tls) would swallow the
// next word: the recipient comes first, those flags last. POSIXLY_CORRECT
// stops Getopt::Long from reading "+1555..." as a "+" option.
ProcessResult swaks(const TestServer& server, const std::string& to, const std::string& arguments) {
  return run_process("POSIXLY_CORRECT=1 swaks --to " + to + " --server 127.0.0.1 --port " + std::to_string(server.port()) +
                     " --helo client.example --from sender@example.org --timeout 20 " + arguments);
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

void greet(RawClient& client) {
  BOOST_TEST(client.read_reply().starts_with("220 mx.example.net"));
  BOOST_TEST(client.command("EHLO client.example").starts_with("250-mx.example.net"));
}

const std::string kBody =
    "From: Caller <sender@example.org>\r\n"
    "To: <+15550100@vm.example.net>\r\n"
    "Subject: voicemail\r\n"
    "\r\n"
    "Hello\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "end\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(swaks_local_delivery_lands_in_the_inbox_with_trace_headers) {
  TestServer server;
  auto data = write_temp_file(server.directory() / "message.eml", kBody);
  auto result = swaks(server, local_address(), "--data @" + data);
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(contains(result.output, "250 2.0.0 OK: queued as"));

  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  const std::string& stored = inbox.front();
  BOOST_TEST_INFO(stored);
  BOOST_TEST(stored.starts_with("Return-Path: <sender@example.org>\r\nReceived: from client.example ([127.0.0.1])"));
  BOOST_TEST(contains(stored, "by mx.example.net (umstore) with ESMTP id "));
  BOOST_TEST(contains(stored, "for <+15550100@vm.example.net>; "));
  // swaks dot-stuffs, we unstuff: the body arrives exactly as written.
  BOOST_TEST(contains(stored, "\r\nHello\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"));
}

BOOST_AUTO_TEST_CASE(unknown_mailbox_is_refused_with_5_1_1) {
  TestServer server;
  auto result = swaks(server, "+15559999@vm.example.net", "--quit-after RCPT");
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status != 0);
  BOOST_TEST(contains(result.output, "550 5.1.1 mailbox +15559999 does not exist here"));
}

BOOST_AUTO_TEST_CASE(other_domains_are_not_relayed) {
  TestServer server;
  auto result = swaks(server, "someone@other.example", "--quit-after RCPT");
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status != 0);
  BOOST_TEST(contains(result.output, "554 5.7.1 relaying denied"));
}

BOOST_AUTO_TEST_CASE(non_mail_user_is_refused_and_other_local_parts_too) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  BOOST_TEST(client.command("MAIL FROM:<>").starts_with("250 2.1.0"));
  BOOST_TEST(client.command("RCPT TO:<non-mail-user@vm.example.net>").starts_with("550 5.1.1"));
  BOOST_TEST(client.command("RCPT TO:<alice@vm.example.net>").starts_with("550 5.1.1"));
  BOOST_TEST(client.command("DATA").starts_with("503 5.5.1"));
}

BOOST_AUTO_TEST_CASE(fax_vpim_separator_and_postmaster_forms_reach_the_mailbox_once) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  BOOST_TEST(client.command("MAIL FROM:<gw@example.org>").starts_with("250 2.1.0"));
  for (std::string_view rcpt : {"<FAX=+1-555-0100/T33S=27@fax.example.net>", "<VPIM=+15550100@vm.example.net>",
                                "<+1.555.0100@VM.EXAMPLE.NET>", "<postmaster@vm.example.net>", "<postmaster>"}) {
    BOOST_TEST_CONTEXT(rcpt) { BOOST_TEST(client.command("RCPT TO:" + std::string(rcpt)).starts_with("250 2.1.5")); }
  }
  BOOST_TEST(client.command("DATA").starts_with("354"));
  BOOST_TEST(client.command("Subject: fax\r\n\r\npage\r\n.").starts_with("250 2.0.0"));
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);  // one mailbox, one copy
  // All addresses name one mailbox, so the trace may name the first.
  BOOST_TEST(contains(inbox.front(), "\tfor <FAX=+1-555-0100/T33S=27@fax.example.net>; "));
}

BOOST_AUTO_TEST_CASE(submit_delivers_a_one_megabyte_message) {
  TestServer server;
  std::string data = "Subject: big\r\n\r\n";
  while (data.size() < (1u << 20)) data += std::string(76, 'x') + "\r\n.dot line\r\n";
  Submission message{"sender@example.org", {local_address()}, data};
  auto reply = submit("127.0.0.1", server.port(), message);
  BOOST_TEST(reply.code == 250);
  BOOST_TEST(reply.enhanced == "2.0.0");
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox.front().ends_with("\r\n\r\n" + data.substr(data.find("\r\n\r\n") + 4)));
}

BOOST_AUTO_TEST_CASE(submit_reports_the_refusal_of_an_unknown_recipient) {
  TestServer server;
  Submission message{"", {"+15559999@vm.example.net"}, "Subject: x\r\n\r\nbody\r\n"};
  try {
    submit("127.0.0.1", server.port(), message);
    BOOST_FAIL("submit() accepted an unknown recipient");
  } catch (const SmtpError& e) {
    BOOST_TEST(e.reply().code == 550);
    BOOST_TEST(e.reply().enhanced == "5.1.1");
    BOOST_TEST(contains(e.what(), "5.1.1"));
    BOOST_TEST(contains(e.what(), "+15559999"));
  }
  BOOST_TEST(server.inbox().empty());
}

BOOST_AUTO_TEST_CASE(submit_to_a_closed_port_is_a_network_error) {
  unsigned short port = 0;
  {
    TestServer server;
    port = server.port();
  }
  Submission message{"", {local_address()}, "x\r\n"};
  try {
    submit("127.0.0.1", port, message, "localhost", std::chrono::seconds(5));
    BOOST_FAIL("submit() to a closed port succeeded");
  } catch (const SmtpError& e) {
    BOOST_TEST(e.reply().code == 0);
  }
}

BOOST_AUTO_TEST_CASE(size_limit_on_mail_and_on_the_actual_data) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  BOOST_TEST(client.command("MAIL FROM:<a@b.example> SIZE=" + std::to_string(kMaxMessage + 1)).starts_with("552 5.3.4"));
  BOOST_TEST(client.command("MAIL FROM:<a@b.example> SIZE=1000").starts_with("250 2.1.0"));
  BOOST_TEST(client.command("RCPT TO:<" + local_address() + ">").starts_with("250 2.1.5"));
  BOOST_TEST(client.command("DATA").starts_with("354"));
  std::string line = std::string(998, 'y') + "\r\n";
  std::string big;
  while (big.size() <= kMaxMessage) big += line;
  client.send(big);
  BOOST_TEST(client.command(".").starts_with("552 5.3.4"));
  BOOST_TEST(client.command("NOOP").starts_with("250 2.0.0"));  // the session goes on
  BOOST_TEST(server.inbox().empty());
}

BOOST_AUTO_TEST_CASE(server_wide_buffer_budget_defers_with_452_and_is_given_back) {
  TestServer server(false, [](SmtpServerConfig& config) { config.max_buffered_bytes = 512 * 1024; });
  RawClient client(server.port());
  greet(client);
  auto send_message = [&](std::size_t lines) {
    BOOST_TEST(client.command("MAIL FROM:<a@b.example>").starts_with("250 2.1.0"));
    BOOST_TEST(client.command("RCPT TO:<" + local_address() + ">").starts_with("250 2.1.5"));
    BOOST_TEST(client.command("DATA").starts_with("354"));
    std::string data = "Subject: budget\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i) data += std::string(98, 'b') + "\r\n";
    client.send(data);
    return client.command(".");
  };
  BOOST_TEST(send_message(10000).starts_with("452 4.3.1"));  // 1 MB > 512 KiB budget
  BOOST_TEST(send_message(10).starts_with("250 2.0.0"));     // the budget came back
  BOOST_TEST(server.inbox().size() == 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_commands_get_their_replies_in_order) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  client.send("MAIL FROM:<a@b.example> BODY=8BITMIME\r\n"
              "RCPT TO:<+15550100@vm.example.net>\r\n"
              "RCPT TO:<+15559999@vm.example.net>\r\n"
              "RCPT TO:<x@other.example>\r\n"
              "DATA\r\n");
  BOOST_TEST(client.read_reply().starts_with("250 2.1.0"));
  BOOST_TEST(client.read_reply().starts_with("250 2.1.5"));
  BOOST_TEST(client.read_reply().starts_with("550 5.1.1"));
  BOOST_TEST(client.read_reply().starts_with("554 5.7.1"));
  BOOST_TEST(client.read_reply().starts_with("354"));
  client.send("Subject: p\r\n\r\n..stuffed\r\n.\r\nNOOP\r\nQUIT\r\n");
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0 OK: queued as"));
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0"));
  BOOST_TEST(client.read_reply().starts_with("221 2.0.0"));
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox.front().ends_with("\r\n\r\n.stuffed\r\n"));
}

BOOST_AUTO_TEST_CASE(swaks_pipeline_delivers) {
  TestServer server;
  auto data = write_temp_file(server.directory() / "message.eml", kBody);
  auto result = swaks(server, local_address(), "--data @" + data + " --pipeline");
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(server.inbox().size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_syntax_and_bad_sequence) {
  TestServer server;
  RawClient client(server.port());
  BOOST_TEST(client.read_reply().starts_with("220 "));
  BOOST_TEST(client.command("MAIL FROM:<a@b.example>").starts_with("503 5.5.1"));  // no EHLO yet
  BOOST_TEST(client.command("EHLO").starts_with("501 5.5.4"));
  BOOST_TEST(client.command("HELO client.example") == "250 mx.example.net greets client.example");
  BOOST_TEST(client.command("MAIL FROM:<a@b.example> BODY=8BITMIME").starts_with("555 5.5.4"));  // HELO: no ESMTP
  BOOST_TEST(client.command("EHLO client.example").starts_with("250-"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@vm.example.net>").starts_with("503 5.5.1"));
  BOOST_TEST(client.command("DATA").starts_with("503 5.5.1"));
  BOOST_TEST(client.command("MAIL FROM:a@b.example").starts_with("501 5.5.2"));
  BOOST_TEST(client.command("MAIL TO:<a@b.example>").starts_with("501 5.5.2"));
  BOOST_TEST(client.command("MAIL FROM:<a@b.example> FOO=1").starts_with("555 5.5.4"));
  BOOST_TEST(client.command("MAIL FROM:<a@b.example> BODY=BINARYMIME").starts_with("501 5.5.4"));
  BOOST_TEST(client.command("FROB").starts_with("500 5.5.1"));
  BOOST_TEST(client.command("STARTTLS").starts_with("502 5.5.1"));  // no TLS configured
  BOOST_TEST(client.command("VRFY +15550100").starts_with("252 2.5.0"));
  BOOST_TEST(client.command("HELP").starts_with("214"));
  BOOST_TEST(client.command("MAIL FROM:<>").starts_with("250 2.1.0"));
  BOOST_TEST(client.command("MAIL FROM:<>").starts_with("503 5.5.1"));  // nested MAIL
  BOOST_TEST(client.command("RCPT TO:<+15550100@vm.example.net>").starts_with("250 2.1.5"));
  BOOST_TEST(client.command("RSET") == "250 2.0.0 OK");
  BOOST_TEST(client.command("DATA").starts_with("503 5.5.1"));  // RSET dropped the transaction
  BOOST_TEST(client.command("MAIL FROM:<>").starts_with("250 2.1.0"));
  BOOST_TEST(client.command("QUIT").starts_with("221 2.0.0"));
  BOOST_TEST(client.read_until_closed().empty());
}

BOOST_AUTO_TEST_CASE(overlong_command_line_is_refused_and_the_session_goes_on) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  BOOST_TEST(client.command("NOOP " + std::string(5000, 'z')).starts_with("500 5.5.6"));
  BOOST_TEST(client.command("NOOP").starts_with("250 2.0.0"));
  // 512 is the RFC limit, but longer lines up to 4096 are tolerated.
  BOOST_TEST(client.command("NOOP " + std::string(1000, 'z')).starts_with("250 2.0.0"));
}

BOOST_AUTO_TEST_CASE(too_many_errors_close_the_connection_with_421) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  for (int i = 0; i < 20; ++i) BOOST_TEST(client.command("FROB").starts_with("500 5.5.1"));
  BOOST_TEST(client.read_reply() == "421 4.7.0 mx.example.net too many errors, closing the connection");
  BOOST_TEST(client.read_until_closed().empty());
}

BOOST_AUTO_TEST_CASE(too_many_recipients_get_452) {
  TestServer server;
  for (int i = 1; i <= 5; ++i) server.accounts().add({"+1555010" + std::to_string(i), "", "", 0}, "pw");
  RawClient client(server.port());
  greet(client);
  BOOST_TEST(client.command("MAIL FROM:<>").starts_with("250"));
  for (int i = 0; i <= 4; ++i)
    BOOST_TEST(client.command("RCPT TO:<+1555010" + std::to_string(i) + "@vm.example.net>").starts_with("250 2.1.5"));
  BOOST_TEST(client.command("RCPT TO:<+15550105@vm.example.net>").starts_with("452 4.5.3"));
  BOOST_TEST(client.command("DATA").starts_with("354"));
  BOOST_TEST(client.command("Subject: many\r\n\r\nhi\r\n.").starts_with("250 2.0.0"));
  BOOST_TEST(server.inbox("+15550104").size() == 1u);
  BOOST_TEST(server.inbox("+15550105").empty());
}

BOOST_AUTO_TEST_CASE(bare_lf_dot_does_not_end_the_data) {
  // "<LF>.<CRLF>" must not end DATA, or a message could be smuggled
  // through a relay that reads the stream differently.
  TestServer server;
  RawClient client(server.port());
  greet(client);
  client.command("MAIL FROM:<a@b.example>");
  client.command("RCPT TO:<" + local_address() + ">");
  BOOST_TEST(client.command("DATA").starts_with("354"));
  client.send("Subject: s\r\n\r\nevil\n.\r\nMAIL FROM:<spoof@example.org>\r\n.\r\n");
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0"));
  BOOST_TEST(client.command("NOOP").starts_with("250 2.0.0"));  // no extra replies queued
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox.front().ends_with("\r\nevil\r\n\r\nMAIL FROM:<spoof@example.org>\r\n"));
}

BOOST_AUTO_TEST_CASE(bare_cr_in_data_is_stored_as_a_line_end_not_as_is) {
  TestServer server;
  RawClient client(server.port());
  greet(client);
  client.command("MAIL FROM:<a@b.example>");
  client.command("RCPT TO:<" + local_address() + ">");
  BOOST_TEST(client.command("DATA").starts_with("354"));
  client.send("Subject: s\r\n\r\none\rtwo\r\n.\r\n");
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0"));
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox.front().ends_with("\r\none\r\ntwo\r\n"));
}

BOOST_AUTO_TEST_CASE(full_mailbox_gives_452_and_no_copy) {
  TestServer server;
  server.store().user(kNumber)->set_quota_limit(200);
  Submission message{"a@b.example", {local_address()}, "Subject: q\r\n\r\n" + std::string(300, 'q') + "\r\n"};
  try {
    submit("127.0.0.1", server.port(), message);
    BOOST_FAIL("submit() into a full mailbox succeeded");
  } catch (const SmtpError& e) {
    BOOST_TEST(e.reply().code == 452);
    BOOST_TEST(e.reply().enhanced == "4.2.2");
    BOOST_TEST(contains(e.reply().text, "+15550100"));
  }
  BOOST_TEST(server.inbox().empty());
}

BOOST_AUTO_TEST_CASE(a_mailbox_full_by_count_is_refused_at_rcpt_and_by_minutes_after_data) {
  TestServer server;
  server.store().user(kNumber)->set_count_limits(1, 60);
  server.store().deliver(kNumber, "Subject: one\r\n\r\nfirst\r\n");
  RawClient client(server.port());
  greet(client);
  client.command("MAIL FROM:<a@b.example>");
  const std::string rcpt = client.command("RCPT TO:<" + local_address() + ">");
  BOOST_TEST(rcpt.starts_with("452 4.2.2"), rcpt);
  BOOST_TEST(contains(rcpt, "+15550100"));

  server.store().user(kNumber)->set_count_limits(0, 60);  // room for messages, 60 s of voice
  client.command("RSET");
  client.command("MAIL FROM:<a@b.example>");
  BOOST_TEST(client.command("RCPT TO:<" + local_address() + ">").starts_with("250"));
  BOOST_TEST(client.command("DATA").starts_with("354"));
  client.send("Subject: voice\r\nMessage-Context: voice-message\r\nMIME-Version: 1.0\r\n"
              "Content-Type: audio/32KADPCM\r\nContent-Duration: 61\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              "AAAA\r\n.\r\n");
  const std::string after_data = client.read_reply();
  BOOST_TEST(after_data.starts_with("452 4.2.2"), after_data);
  BOOST_TEST(server.inbox().size() == 1u);  // nothing half-stored
}

BOOST_AUTO_TEST_CASE(starttls_with_swaks) {
  TestServer server(true);
  auto data = write_temp_file(server.directory() / "message.eml", kBody);
  auto result = swaks(server, local_address(), "--data @" + data + " -tls");
  BOOST_TEST_MESSAGE(result.output);
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(contains(result.output, "220 2.0.0 ready to start TLS"));
  BOOST_TEST(contains(result.output, "STARTTLS"));
  // swaks marks lines received over TLS with "<~": STARTTLS is not offered again.
  BOOST_TEST(contains(result.output, "<~  250-mx.example.net"));
  BOOST_TEST(!contains(result.output, "<~  250-STARTTLS"));
  BOOST_TEST(!contains(result.output, "<~  250 STARTTLS"));
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(contains(inbox.front(), "with ESMTPS id"));
}

BOOST_AUTO_TEST_CASE(starttls_with_python_smtplib) {
  TestServer server(true);
  auto script = write_temp_file(server.directory() / "starttls.py", R"(
import smtplib, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.example", timeout=20) as s:
    s.ehlo()
    assert s.has_extn("starttls"), "STARTTLS not offered before TLS"
    code, text = s.starttls(context=context)
    assert code == 220, (code, text)
    s.ehlo()
    assert not s.has_extn("starttls"), "STARTTLS offered again after TLS"
    assert s.has_extn("enhancedstatuscodes")
    refused = s.sendmail("py@example.org", ["+15550100@vm.example.net"], b"Subject: tls\r\n\r\nover tls\r\n")
    assert refused == {}, refused
    try:
        s.sendmail("py@example.org", ["+15559999@vm.example.net"], b"Subject: x\r\n\r\nx\r\n")
        raise SystemExit("unknown recipient accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["+15559999@vm.example.net"]
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
print("python-ok")
)");
  auto result = run_process("python3 " + script + " " + std::to_string(server.port()));
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(contains(result.output, "python-ok"));
  auto inbox = server.inbox();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(contains(inbox.front(), "over tls\r\n"));
}

BOOST_AUTO_TEST_CASE(plain_text_pipelined_after_starttls_is_discarded) {
  // RFC 3207 §6: a command injected in clear text behind STARTTLS must not
  // be executed inside the TLS session (CVE-2011-0411 class).
  TestServer server(true);
  auto script = write_temp_file(server.directory() / "inject.py", R"(
import socket, ssl, sys
def reply(f):
    lines = []
    while True:
        line = f.readline()
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines
plain = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = plain.makefile("rb", buffering=0)
assert reply(f)[0].startswith(b"220")
plain.sendall(b"EHLO py.example\r\n")
reply(f)
plain.sendall(b"STARTTLS\r\nHELP\r\n")
assert reply(f)[0].startswith(b"220 2.0.0")
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
tls = context.wrap_socket(plain)
g = tls.makefile("rb", buffering=0)
tls.sendall(b"NOOP\r\n")
first = reply(g)[0]
assert first.startswith(b"250 2.0.0"), first   # a 214 would be the injected HELP
tls.sendall(b"MAIL FROM:<>\r\n")
assert reply(g)[0].startswith(b"503 5.5.1")    # the pre-TLS EHLO was forgotten
print("inject-ok")
)");
  auto result = run_process("python3 " + script + " " + std::to_string(server.port()));
  BOOST_TEST_INFO(result.output);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(contains(result.output, "inject-ok"));
}

BOOST_AUTO_TEST_SUITE_END()
