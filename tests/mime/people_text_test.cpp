// People's text and attachment names: numbers grouped per country, one text
// whether it is written at composition or rebuilt from a message's header.
#include "mime/conformance.hpp"
#include "mime/message_parser.hpp"
#include "mime/people_text.hpp"
#include "mime/voice_message.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

using namespace umstore::mime;

namespace {

const std::chrono::system_clock::time_point kDecember5 =
    std::chrono::sys_days{std::chrono::year{2026} / 12 / 5} + std::chrono::hours(14) + std::chrono::minutes(23);

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t value) { return std::vector<std::uint8_t>(n, value); }

}  // namespace

BOOST_AUTO_TEST_CASE(numbers_are_grouped_as_each_country_writes_them) {
  BOOST_TEST(format_number_for_people("+4930123456") == "+49 30 123456");  // was "+49 301 2 3456"
  BOOST_TEST(format_number_for_people("+442071234567") == "+44 20 7123 4567");
  BOOST_TEST(format_number_for_people("+14155552671") == "+1 415-555-2671");
  BOOST_TEST(format_number_for_people("+33142685300") == "+33 1 42 68 53 00");
  BOOST_TEST(format_number_for_people("4401") == "4401");      // an extension stays as it is
  BOOST_TEST(format_number_for_people("+0123") == "+0123");    // not E.164: as written
  BOOST_TEST(format_number_for_people("tel:+49 30 123-456") == "+49 30 123456");  // as gateways write it
  BOOST_TEST(format_number_for_people("") == "");
}

BOOST_AUTO_TEST_CASE(file_names_say_who_and_when_in_safe_characters) {
  MessageOrigin origin{{"+4930123456", "Carol Caller"}, {}, kDecember5, 0};
  BOOST_TEST(attachment_name(origin, "voicemail", ".wav") == "voicemail-+4930123456-2026-12-05-1423.wav");
  origin.utc_offset_minutes = 60;
  BOOST_TEST(attachment_name(origin, "fax", ".pdf") == "fax-+4930123456-2026-12-05-1523.pdf");
  origin.caller = {"", "Carol / \"the\" Caller\r\n"};
  BOOST_TEST(attachment_name(origin, "fax", ".tif") == "fax-Carol_the_Caller-2026-12-05-1523.tif");
  origin.caller = {};
  BOOST_TEST(attachment_name(origin, "voicemail", ".wav") == "voicemail-unknown-2026-12-05-1523.wav");
  origin.sender = "bob@example.org";
  BOOST_TEST(attachment_name(origin, "voicemail", ".wav") == "voicemail-bob@example.org-2026-12-05-1523.wav");
}

BOOST_AUTO_TEST_CASE(a_name_only_caller_gives_an_rfc2231_file_name) {
  const MessageOrigin origin{{"", "Jörg Müller"}, {}, kDecember5, 0};
  const std::string name = attachment_name(origin, "voicemail", ".wav");
  BOOST_TEST(name == "voicemail-Jörg_Müller-2026-12-05-1423.wav");
  const std::string disposition = content_disposition("attachment", name);
  BOOST_TEST(disposition.find("filename*=utf-8''voicemail-J%C3%B6rg_M%C3%BCller-2026-12-05-1423.wav") != std::string::npos);
  BOOST_TEST(parse_disposition(unfold(disposition)).params.get("filename").value() == name);
}

BOOST_AUTO_TEST_CASE(texts_name_the_caller_in_international_format) {
  const MessageOrigin origin{{"+4930123456", "Carol Caller"}, {}, kDecember5, 0};
  const std::string names[] = {"fax-+4930123456-2026-12-05-1423.tif", "fax-+4930123456-2026-12-05-1423.pdf"};
  BOOST_TEST(fax_text(origin, 2, names) ==
             "Fax from Carol Caller (+49 30 123456), 2 pages, received Sat 05 Dec 2026 14:23 +0000.\r\n\r\n"
             "The fax is attached as fax-+4930123456-2026-12-05-1423.tif and fax-+4930123456-2026-12-05-1423.pdf.\r\n");
  const std::string wav[] = {"voicemail-+4930123456-2026-12-05-1423.wav"};
  BOOST_TEST(voice_text({{"+4930123456", ""}, {}, kDecember5, 0}, 23, 0, wav) ==
             "Voice message from +49 30 123456, 0:23, received Sat 05 Dec 2026 14:23 +0000.\r\n\r\n"
             "The recording is attached as voicemail-+4930123456-2026-12-05-1423.wav.\r\n");
}

// What rewriting paths see: the origin read back from a composed message is the one it was composed from.
BOOST_AUTO_TEST_CASE(origin_read_from_the_header_rebuilds_the_composed_text) {
  const std::vector<std::uint8_t> adpcm = bytes(4000 * 23, 0x11);
  const std::vector<std::uint8_t> wav = bytes(1000, 0x22);
  for (const Caller& caller : {Caller{"+4930123456", "Carol Caller"}, Caller{"+4930123456", ""}, Caller{"4401", ""},
                               Caller{"", "Ünal"}, Caller{}}) {
    VoiceMessageInput in;
    in.domain = "vm.example.net";
    in.caller = caller;
    in.recipient = {"+15550100@vm.example.net", ""};
    in.received = kDecember5;
    in.utc_offset_minutes = -300;
    in.adpcm32k = adpcm;
    in.duration_seconds = 23;
    in.playable_wav = std::span<const std::uint8_t>(wav);
    const std::string message = compose_voice_message(in);
    const Part root = parse_message(message);
    const MessageOrigin origin = origin_of(root);
    const std::string name = attachment_name(origin, "voicemail", ".wav");
    BOOST_TEST(root.children.at(2).disposition.params.get("filename").value() == name);
    // The text part's last CRLF belongs to the delimiter that follows it.
    BOOST_TEST(decode_body(root.children.at(0), message) + "\r\n" == voice_text(origin, 23, 0, {&name, 1}));
  }
}

BOOST_AUTO_TEST_CASE(people_fax_form_opens_with_a_text_and_offers_the_tiff_as_an_attachment) {
  const std::vector<std::uint8_t> tiff = bytes(3000, 0x49);
  FaxMessageInput in;
  in.domain = "vm.example.net";
  in.caller = {"+4930123456", ""};
  in.recipient = {"+15550100@vm.example.net", ""};
  in.received = kDecember5;
  in.tiff = tiff;
  in.pages = 3;
  in.form = FaxForm::desktop;
  const std::string message = compose_fax_message(in);
  const Part root = parse_message(message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(root.header("Message-Context").value() == "fax-message");
  BOOST_TEST_REQUIRE(root.children.size() == 2u);
  BOOST_TEST(decode_body(root.children[0], message) ==
             "Fax from +49 30 123456, 3 pages, received Sat 05 Dec 2026 14:23 +0000.\r\n\r\n"
             "The fax is attached as fax-+4930123456-2026-12-05-1423.tif.");
  BOOST_TEST(root.children[1].content_type.is("image", "tiff"));
  BOOST_TEST(root.children[1].disposition.type == "attachment");
  BOOST_TEST(root.children[1].disposition.params.get("filename").value() == "fax-+4930123456-2026-12-05-1423.tif");
  BOOST_TEST(decode_body(root.children[1], message) == std::string(tiff.begin(), tiff.end()));
  BOOST_TEST((check_message(message).kind == MessageKind::internet_fax));
}
