// The delivery policy on hand-written foreign messages (tests/data/mime/foreign):
// what is stored, where, and what is refused. Stored messages are parsed back
// and their audio decoded with the real codecs.
#include <boost/test/unit_test.hpp>

#include "codecs/audio.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "foreign_message.hpp"
#include "mime/conformance.hpp"
#include "mime/message_parser.hpp"

namespace umstore::delivery {
namespace {

DeliverySettings settings_with_gateways() {
  DeliverySettings settings;
  settings.domain = "vm.example.net";
  GatewayRule asterisk;
  asterisk.senders = {"@pbx.example.org"};
  GatewayRule drop;
  drop.senders = {"voicemail@gw.example.org"};
  settings.gateways = {asterisk, drop};
  return settings;
}

DeliveryPlan plan(const std::string& raw, const MailboxProfile& mailbox = {},
                  const DeliverySettings& settings = settings_with_gateways()) {
  return plan_local_delivery({raw, "sender@example.org", "+15550100@vm.example.net",
                              std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000))},
                             mailbox, settings);
}

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string header(const mime::Part& part, std::string_view name) {
  return std::string(part.header(name).value_or(""));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(local_delivery_policy)

BOOST_AUTO_TEST_CASE(inbound_vpim_keeps_its_parts_and_gains_a_playable_wav) {
  const std::string raw = read_message("vpim_other_vendor.eml");
  const DeliveryPlan result = plan(raw);
  BOOST_REQUIRE(!result.refusal);
  BOOST_TEST(result.folder == "INBOX");
  const mime::Part root = mime::parse_message(result.message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(header(root, "Message-ID") == "<20250114081244.7F3A21@vm2.example.org>");
  BOOST_TEST(header(root, "Importance") == "high");
  BOOST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(root.children[0].content_type.is("text", "plain"));
  // Issue 15 item 4: who and when as people read them, not the raw From field.
  BOOST_TEST(mime::decode_body(root.children[0], result.message) ==
             "Voice message from Lee Example, 0:03, received Tue 14 Jan 2025 09:12 +0100.\r\n\r\n"
             "The recording is attached as voicemail-Lee_Example-2025-01-14-0912.wav.");
  BOOST_TEST(root.children[2].disposition.params.get("filename").value() == "voicemail-Lee_Example-2025-01-14-0912.wav");
  const mime::Part& vpim = root.children[1];
  BOOST_TEST(vpim.content_type.is("multipart", "voice-message"));
  BOOST_REQUIRE(vpim.children.size() == 2u);
  // The original audio is byte-for-byte what the peer sent.
  const mime::Part original = mime::parse_message(raw);
  BOOST_TEST(mime::decode_body(vpim.children[1], result.message) == mime::decode_body(original.children[1], raw));
  const mime::Part& wav = root.children[2];
  BOOST_TEST(wav.content_type.is("audio", "wav"));
  BOOST_TEST(header(wav, "Content-Duration") == "3");
  const codecs::PcmAudio audio = codecs::decode_audio(bytes_of(mime::decode_body(wav, result.message)), "voicemail.wav");
  BOOST_TEST(audio.sample_rate == 8000u);
  BOOST_TEST(audio.duration_seconds() == 3.0, boost::test_tools::tolerance(0.01));
  const mime::ConformanceReport report = mime::check_message(result.message);
  BOOST_TEST(!report.has_errors());
  BOOST_TEST((report.kind == mime::MessageKind::vpim_voice));
}

BOOST_AUTO_TEST_CASE(missing_content_duration_is_computed_from_the_audio) {
  const DeliveryPlan result = plan(read_message("vpim_no_duration.eml"));
  const mime::Part root = mime::parse_message(result.message);
  BOOST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(header(root.children[2], "Content-Duration") == "3");
}

BOOST_AUTO_TEST_CASE(files_voice_and_fax_into_their_folders_when_asked) {
  MailboxProfile by_kind;
  by_kind.file_by_kind = true;
  BOOST_TEST(plan(read_message("vpim_no_duration.eml"), by_kind).folder == "Voicemail");
  BOOST_TEST(plan(read_message("ifax_profile_s.eml"), by_kind).folder == "Fax");
  BOOST_TEST(plan(read_message("ifax_profile_f.eml"), by_kind).folder == "Fax");
  BOOST_TEST(plan(read_message("broken_mime.eml"), by_kind).folder == "INBOX");
  BOOST_TEST(plan(read_message("ifax_profile_s.eml")).folder == "INBOX");
}

// Issue 15 item 6: a top-level TIFF shows as an empty message in Thunderbird;
// people's mailboxes get a text first and the TIFF, as it came, as an attachment.
BOOST_AUTO_TEST_CASE(conforming_fax_is_stored_in_peoples_form) {
  const std::string raw = read_message("ifax_profile_s.eml");
  const DeliveryPlan result = plan(raw);
  BOOST_TEST(!result.refusal);
  BOOST_TEST((result.kind == mime::MessageKind::internet_fax));
  const mime::Part root = mime::parse_message(result.message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(header(root, "Message-ID") == "<ifax.20250116113000.1@onramp.example.com>");
  BOOST_REQUIRE(root.children.size() == 2u);
  BOOST_TEST(mime::decode_body(root.children[0], result.message).starts_with("Fax from Fax Onramp, 2 pages, received"));
  const mime::Part& tiff = root.children[1];
  BOOST_TEST(tiff.content_type.is("image", "tiff"));
  BOOST_TEST(tiff.disposition.type == "attachment");
  BOOST_TEST(tiff.disposition.params.get("filename").value() == "fax-Fax_Onramp-2025-01-16-1130.tif");
  const mime::Part original = mime::parse_message(raw);
  BOOST_TEST(original.body(raw).starts_with(tiff.body(result.message)));  // the image's base64 byte for byte
  BOOST_TEST(mime::decode_body(tiff, result.message) == mime::decode_body(original, raw));
  const mime::ConformanceReport report = mime::check_message(result.message);
  BOOST_TEST(!report.has_errors());
  BOOST_TEST((report.kind == mime::MessageKind::internet_fax));
}

BOOST_AUTO_TEST_CASE(asterisk_voicemail_email_becomes_vpim) {
  const DeliveryPlan result = plan(read_message("gateway_asterisk.eml"));
  BOOST_REQUIRE(!result.refusal);
  BOOST_TEST((result.kind == mime::MessageKind::vpim_voice));
  BOOST_TEST(result.mailbox.empty());
  const mime::Part root = mime::parse_message(result.message);
  BOOST_TEST(header(root, "Caller-ID") == "15550123");
  BOOST_TEST(header(root, "Caller-Name") == "Alice Example");
  BOOST_TEST(header(root, "To").find("+15550100@vm.example.net") != std::string::npos);
  BOOST_TEST(header(root, "Date") == "Sat, 21 Nov 2026 19:40:01 +0000");
  const mime::Part* vpim = mime::find_voice_message(root);
  BOOST_REQUIRE(vpim);
  BOOST_REQUIRE(!vpim->children.empty());
  BOOST_TEST(vpim->children[0].content_type.is("audio", "32kadpcm"));
  const std::string adpcm = mime::decode_body(vpim->children[0], result.message);
  BOOST_TEST(codecs::decode_32kadpcm(bytes_of(adpcm)).size() / 8000.0 == 3.0, boost::test_tools::tolerance(0.01));
  BOOST_TEST(mime::check_message(result.message).findings.empty());
}

BOOST_AUTO_TEST_CASE(gsm_wav_to_a_drop_address_names_the_mailbox_in_its_subject) {
  const DeliveryPlan result = plan(read_message("gateway_gsm_subject.eml"));
  BOOST_REQUIRE(!result.refusal);
  BOOST_TEST(result.mailbox == "+15550100");
  const mime::Part root = mime::parse_message(result.message);
  BOOST_TEST(header(root, "Caller-ID") == "4930555012,NumberingPlan=e164");
  BOOST_TEST(header(root, "To").find("+15550100@vm.example.net") != std::string::npos);
  const mime::Part* vpim = mime::find_voice_message(root);
  BOOST_REQUIRE(vpim);
  const std::string adpcm = mime::decode_body(vpim->children.at(0), result.message);
  BOOST_TEST(adpcm.size() / 4000.0 == 3.0, boost::test_tools::tolerance(0.02));
}

BOOST_AUTO_TEST_CASE(audio_emails_from_unknown_senders_stay_as_they_are) {
  const std::string raw = read_message("gateway_asterisk.eml");
  DeliverySettings no_gateways;
  no_gateways.domain = "vm.example.net";
  const DeliveryPlan result = plan(raw, {}, no_gateways);
  BOOST_TEST(result.message == raw);
  BOOST_TEST((result.kind == mime::MessageKind::plain));
}

BOOST_AUTO_TEST_CASE(broken_plain_mail_is_stored_and_flagged) {
  const std::string raw = read_message("broken_mime.eml");
  const DeliveryPlan result = plan(raw);
  BOOST_TEST(!result.refusal);
  BOOST_TEST(result.message.starts_with("X-Umstore-Conformance: RFC 5322 section 3.6 [header]"));
  BOOST_TEST(result.message.ends_with(raw));
}

BOOST_AUTO_TEST_CASE(vpim_with_damaged_audio_is_refused_with_a_reason) {
  std::string raw = read_message("vpim_no_duration.eml");
  const std::size_t audio = raw.find("\r\n\r\n", raw.find("voice=Voice-Message")) + 4;
  raw.replace(audio, 4, "*!*!");
  const DeliveryPlan result = plan(raw);
  BOOST_REQUIRE(result.refusal);
  BOOST_TEST(result.refusal->reply_line().starts_with("554 5.6.0 malformed VPIM v2 voice message: RFC 2045 section 6.8"));
  BOOST_TEST(result.message.empty());
}

BOOST_AUTO_TEST_CASE(private_vpim_is_refused_unless_privacy_can_be_honoured) {
  std::string raw = read_message("vpim_no_duration.eml");
  raw.insert(0, "Sensitivity: Private\r\n");
  const DeliveryPlan refused = plan(raw);
  BOOST_REQUIRE(refused.refusal);
  BOOST_TEST(refused.refusal->enhanced_status == "5.6.0");
  DeliverySettings honours = settings_with_gateways();
  honours.accept_private = true;
  BOOST_TEST(!plan(raw, {}, honours).refusal);
}

BOOST_AUTO_TEST_CASE(vpim_with_wrong_types_is_flagged_and_still_playable) {
  const DeliveryPlan result = plan(read_message("wrong_types.eml"));
  BOOST_REQUIRE(!result.refusal);
  BOOST_TEST(result.message.starts_with("X-Umstore-Conformance: "));
  const mime::Part root = mime::parse_message(result.message);
  BOOST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(root.children[2].content_type.is("audio", "wav"));
}

BOOST_AUTO_TEST_CASE(bad_gateway_pattern_is_a_policy_error) {
  DeliverySettings settings = settings_with_gateways();
  settings.gateways[0].mailbox_in_subject = "(unclosed";
  BOOST_CHECK_THROW(plan(read_message("gateway_asterisk.eml"), {}, settings), PolicyError);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace umstore::delivery
