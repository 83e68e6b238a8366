#include "mime/dsn_report.hpp"

#include <boost/test/unit_test.hpp>

using namespace umstore::mime;

namespace {

// A bounce as Postfix sends it (RFC 3464 inside RFC 6522), two recipients,
// one with a folded Diagnostic-Code.
const std::string kBounce =
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"B1\"\r\n"
    "\r\n"
    "--B1\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Action: not a field of the report\r\n"
    "\r\n"
    "--B1\r\n"
    "Content-Description: Delivery report\r\n"
    "CONTENT-TYPE: Message/Delivery-Status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.org\r\n"
    "Original-Envelope-Id: 0123abcd\r\n"
    "\r\n"
    "Final-Recipient: rfc822; carol@remote.example\r\n"
    "Original-Recipient: rfc822;carol@remote.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; in.remote.example\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <carol@remote.example>:\r\n"
    "    user unknown\r\n"
    "\r\n"
    "Final-Recipient: rfc822; dave@remote.example\r\n"
    "Action: delayed\r\n"
    "Status: 4.4.1\r\n"
    "\r\n"
    "--B1\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Subject: hello\r\n"
    "--B1--\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(dsn_report)

BOOST_AUTO_TEST_CASE(reads_the_message_block_and_each_recipient_block) {
  const auto status = parse_delivery_status(kBounce);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status->message_fields.at("reporting-mta") == "dns; mx.example.org");
  BOOST_TEST(status->message_fields.at("original-envelope-id") == "0123abcd");
  BOOST_TEST_REQUIRE(status->recipients.size() == 2u);
  const auto& carol = status->recipients[0];
  BOOST_TEST(carol.at("final-recipient") == "rfc822; carol@remote.example");
  BOOST_TEST(carol.at("original-recipient") == "rfc822;carol@remote.example");
  BOOST_TEST(carol.at("action") == "failed");
  BOOST_TEST(carol.at("status") == "5.1.1");
  BOOST_TEST(carol.at("remote-mta") == "dns; in.remote.example");
  BOOST_TEST(carol.at("diagnostic-code") == "smtp; 550 5.1.1 <carol@remote.example>: user unknown");
  BOOST_TEST(status->recipients[1].at("action") == "delayed");
  BOOST_TEST(status->recipients[1].count("diagnostic-code") == 0u);
}

BOOST_AUTO_TEST_CASE(a_message_without_a_delivery_status_part_gives_nothing) {
  BOOST_TEST(!parse_delivery_status("Subject: hello\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
  BOOST_TEST(!parse_delivery_status("Content-Type: message/delivery-status\r\nno blank line"));
}

BOOST_AUTO_TEST_SUITE_END()
