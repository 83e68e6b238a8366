// SMTP syntax without sockets: command lines, paths, replies, local addresses.
#include <boost/test/unit_test.hpp>

#include <array>
#include <string>

#include "smtp/smtp_protocol.hpp"

using namespace umstore::smtp;

namespace {
const std::array<std::string, 2> kDomains{"vm.example.net", "fax.example.net"};

RecipientRoute route(std::string_view argument) {
  return route_recipient(*parse_forward_path(argument).mailbox, kDomains);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(commands_are_case_insensitive_and_keep_their_argument) {
  auto mail = parse_command("mail FROM:<a@b.example> SIZE=10  ");
  BOOST_TEST((mail.verb == Verb::Mail));
  BOOST_TEST(mail.argument == "FROM:<a@b.example> SIZE=10");
  BOOST_TEST((parse_command("StartTLS").verb == Verb::Starttls));
  BOOST_TEST((parse_command("QUIT").verb == Verb::Quit));
  BOOST_TEST(parse_command("QUIT").argument.empty());
  BOOST_TEST((parse_command("MAILX FROM:<>").verb == Verb::Unknown));
  BOOST_TEST((parse_command("").verb == Verb::Unknown));
}

BOOST_AUTO_TEST_CASE(reverse_path_with_parameters) {
  auto path = parse_reverse_path("<alice@example.org> SIZE=1000 body=8bitmime");
  BOOST_REQUIRE(path.mailbox);
  BOOST_TEST(path.mailbox->local_part == "alice");
  BOOST_TEST(path.mailbox->domain == "example.org");
  BOOST_REQUIRE(path.parameters.size() == 2u);
  BOOST_TEST(path.parameters[0].keyword == "SIZE");
  BOOST_TEST(path.parameters[0].value == "1000");
  BOOST_TEST(path.parameters[1].keyword == "BODY");
  BOOST_TEST(path.parameters[1].value == "8bitmime");
}

BOOST_AUTO_TEST_CASE(null_sender_space_after_colon_and_source_route) {
  BOOST_TEST(!parse_reverse_path("<>").mailbox);
  BOOST_TEST(parse_reverse_path(" <a@b.example>").mailbox->address() == "a@b.example");
  BOOST_TEST(parse_forward_path("<@relay.example:+15550100@vm.example.net>").mailbox->address() ==
             "+15550100@vm.example.net");
  BOOST_CHECK_THROW(parse_forward_path("<>"), SmtpSyntaxError);
}

BOOST_AUTO_TEST_CASE(quoted_local_part_round_trips) {
  auto path = parse_reverse_path(R"(<"john \"jd\" doe"@example.org>)");
  BOOST_TEST(path.mailbox->local_part == R"(john "jd" doe)");
  BOOST_TEST(path.mailbox->address() == R"("john \"jd\" doe"@example.org)");
  BOOST_TEST(format_path(path.mailbox) == R"(<"john \"jd\" doe"@example.org>)");
}

BOOST_AUTO_TEST_CASE(bad_paths_are_syntax_errors) {
  for (std::string_view bad : {"a@b.example", "<a@b.example", "<a b@c.example>", "<a@>", "<@b.example>",
                               "<a..b@c.example>", "<a@b..example>", "<a@b.example>SIZE=1", "<a@-b.example>",
                               "<a@b.example> SIZE=1 SIZE=2", "<a@b.example> =x"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_CHECK_THROW(parse_reverse_path(bad), SmtpSyntaxError); }
  }
}

BOOST_AUTO_TEST_CASE(length_limits_of_rfc5321) {
  std::string local(65, 'a');
  BOOST_CHECK_THROW(parse_reverse_path("<" + local + "@b.example>"), SmtpSyntaxError);
  BOOST_CHECK_NO_THROW(parse_reverse_path("<" + local.substr(1) + "@b.example>"));
  std::string long_domain;
  for (int i = 0; i < 5; ++i) long_domain += std::string(60, 'd') + ".";
  long_domain += "example";
  BOOST_CHECK_THROW(parse_reverse_path("<a@" + long_domain + ">"), SmtpSyntaxError);
}

BOOST_AUTO_TEST_CASE(replies_are_formatted_with_enhanced_codes_on_every_line) {
  BOOST_TEST(format_reply(250, "2.0.0", "OK") == "250 2.0.0 OK\r\n");
  BOOST_TEST(format_reply(220, "", "host ready") == "220 host ready\r\n");
  BOOST_TEST(format_reply(250, "", "host\nPIPELINING\nSIZE 10") == "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
  BOOST_TEST(format_reply(214, "2.0.0", "a\nb") == "214-2.0.0 a\r\n214 2.0.0 b\r\n");
}

BOOST_AUTO_TEST_CASE(mailbox_numbers_in_all_written_forms) {
  BOOST_TEST(mailbox_number("+15550100").value() == "+15550100");
  BOOST_TEST(mailbox_number("+1-555-0100").value() == "+15550100");
  BOOST_TEST(mailbox_number("+1.555.0100").value() == "+15550100");
  BOOST_TEST(mailbox_number("FAX=+15550100").value() == "+15550100");
  BOOST_TEST(mailbox_number("fax=+1-555-0100/T33S=27").value() == "+15550100");
  BOOST_TEST(mailbox_number("/FAX=+15550100/").value() == "+15550100");
  BOOST_TEST(mailbox_number("VPIM=+15550100").value() == "+15550100");
  BOOST_TEST(mailbox_number("VPIM=+15550100/EXT=2207").value() == "+15550100");
  BOOST_TEST(mailbox_number("+15550100+2207").value() == "+15550100");
  BOOST_TEST(!mailbox_number("15550100"));         // private plan: no directory here
  BOOST_TEST(!mailbox_number("alice"));
  BOOST_TEST(!mailbox_number("+0123"));
  BOOST_TEST(!mailbox_number("VPIM=+15550100/DL=12"));  // lists are not mailboxes
  BOOST_TEST(!mailbox_number("FAX=+15550100/T33S=x"));
}

BOOST_AUTO_TEST_CASE(recipients_are_routed_by_domain_and_local_part) {
  auto local = route("<+15550100@VM.Example.NET>");
  BOOST_TEST((local.kind == RecipientKind::Number));
  BOOST_TEST(local.number == "+15550100");
  BOOST_TEST((route("<FAX=+15550100@fax.example.net>").kind == RecipientKind::Number));
  BOOST_TEST((route("<+15550100@elsewhere.example>").kind == RecipientKind::Foreign));
  BOOST_TEST((route("<Postmaster@vm.example.net>").kind == RecipientKind::Postmaster));
  BOOST_TEST((route("<postmaster>").kind == RecipientKind::Postmaster));
  BOOST_TEST((route("<non-mail-user@vm.example.net>").kind == RecipientKind::NonMailUser));
  BOOST_TEST((route("<alice@vm.example.net>").kind == RecipientKind::NotANumber));
}

BOOST_AUTO_TEST_SUITE_END()
