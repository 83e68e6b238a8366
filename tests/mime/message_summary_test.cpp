#include <boost/test/unit_test.hpp>

#include <chrono>
#include <vector>

#include "mime/message_summary.hpp"
#include "mime/voice_message.hpp"

using namespace umstore::mime;

BOOST_AUTO_TEST_SUITE(message_summary)

BOOST_AUTO_TEST_CASE(a_composed_voicemail_names_its_caller_and_length) {
  const std::vector<std::uint8_t> adpcm(4000 * 23, 0x11);
  VoiceMessageInput input;
  input.domain = "vm.example.net";
  input.caller = {"+15550123", "Ålice Example"};
  input.recipient = {"+15550100@vm.example.net", "Bob"};
  input.received = std::chrono::sys_days(std::chrono::year{2026} / 12 / 5);
  input.adpcm32k = adpcm;
  input.duration_seconds = 22.6;
  const auto summary = summarise_message(compose_voice_message(input));
  BOOST_TEST(summary.kind == "voice");
  BOOST_TEST(summary.caller == "+15550123");
  BOOST_TEST(summary.caller_name == "Ålice Example");
  BOOST_TEST(summary.seconds.value_or(0) == 23u);
  BOOST_TEST(!summary.pages);
  BOOST_TEST(summary.date.find("2026") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_systems_name_the_caller_in_from_and_mail_has_none) {
  const auto vpim = summarise_message(
      "From: \"Remote\" <+4930123456@vpim.example.org>\r\nMessage-Context: voice-message\r\n"
      "Subject: Voice Message\r\nContent-Type: text/plain\r\n\r\nx\r\n");
  BOOST_TEST(vpim.kind == "voice");
  BOOST_TEST(vpim.caller == "+4930123456");
  const auto extension = summarise_message("Caller-ID: 7720\r\nMessage-Context: voice-message\r\n\r\nx\r\n");
  BOOST_TEST(extension.caller == "7720");
  const auto mail = summarise_message("From: +15550123@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nhi\r\n");
  BOOST_TEST(mail.kind == "mail");
  BOOST_TEST(mail.caller.empty());  // an email's author is no caller
  BOOST_TEST(mail.subject == "Grüße");
  BOOST_TEST(summarise_message("").kind == "mail");  // nothing to read: no crash
}

BOOST_AUTO_TEST_SUITE_END()
