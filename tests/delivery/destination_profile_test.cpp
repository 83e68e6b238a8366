// Per-destination forms and per-mailbox playable forms: every output is parsed
// back, its audio or image decoded with the real codecs, and run through the
// conformance checker (`umstore validate`), which must find no errors.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "delivery/destination_profile.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "mime/conformance.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

namespace umstore::delivery {
namespace {

std::string read_file(const std::string& path, bool to_crlf) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream content;
  content << in.rdbuf();
  if (!to_crlf) return content.str();
  std::string crlf;
  for (const char c : content.str()) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  return crlf;
}

std::string foreign(const std::string& name) {
  return read_file(std::string(UMSTORE_TEST_DATA) + "/mime/foreign/" + name, true);
}

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

// Two seconds of a 440 Hz tone at 8 kHz.
codecs::PcmAudio tone() {
  codecs::PcmAudio audio{8000, std::vector<std::int16_t>(16000)};
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] = static_cast<std::int16_t>(8000 * std::sin(2 * 3.14159265 * 440 * static_cast<double>(i) / 8000));
  return audio;
}

// What umstore composes for people (the desktop form: text, VPIM, WAV).
std::string composed_voicemail(mime::Sensitivity sensitivity = mime::Sensitivity::normal,
                               mime::VoiceForm form = mime::VoiceForm::automatic) {
  static const codecs::PcmAudio audio = tone();
  static const std::vector<std::uint8_t> adpcm = codecs::encode_32kadpcm(audio.samples);
  static const std::vector<std::uint8_t> wav = codecs::encode_wav_pcm16(audio);
  mime::VoiceMessageInput in;
  in.domain = "vm.example.net";
  in.caller = {"+15550123", "Carol Caller"};
  in.recipient = {"+4930123456@vpim.example.org", ""};
  in.received = std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000));
  in.adpcm32k = adpcm;
  in.duration_seconds = audio.duration_seconds();
  in.playable_wav = std::span<const std::uint8_t>(wav);
  in.message_id_hint = "destination-test";
  in.options.sensitivity = sensitivity;
  in.form = form;
  return mime::compose_voice_message(in);
}

std::string composed_fax(mime::FaxForm form = mime::FaxForm::automatic, bool with_pdf = false) {
  static const std::vector<std::uint8_t> tiff =
      bytes_of(read_file(std::string(UMSTORE_TEST_DATA) + "/../../samples/fax.tif", false));
  static const std::vector<std::uint8_t> pdf = codecs::to_fax_pdf(tiff, "fax.tif");
  mime::FaxMessageInput in;
  in.domain = "vm.example.net";
  in.caller = {"+15550123", ""};
  in.recipient = {"+4930123456@example.com", ""};
  in.received = std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000));
  in.tiff = tiff;
  in.pages = 2;
  in.form = form;
  if (with_pdf) in.pdf = std::span<const std::uint8_t>(pdf);
  return mime::compose_fax_message(in);
}

std::string header(const mime::Part& part, std::string_view name) {
  return std::string(part.header(name).value_or(""));
}

void require_conformant(const std::string& message, mime::MessageKind kind) {
  const mime::ConformanceReport report = mime::check_message(message);
  for (const auto& finding : report.findings) BOOST_TEST_MESSAGE(mime::format_finding(finding));
  BOOST_TEST(!report.has_errors());
  BOOST_TEST((report.kind == kind));
}

std::string adpcm_of(const std::string& message) {
  const mime::Part root = mime::parse_message(message);
  const mime::Part* vpim = mime::find_voice_message(root);
  BOOST_REQUIRE(vpim);
  for (const mime::Part& child : vpim->children)
    if (child.content_type.is("audio", "32kadpcm")) return mime::decode_body(child, message);
  return {};
}

bool has_type(const mime::Part& part, std::string_view type, std::string_view subtype) {
  if (part.content_type.is(type, subtype)) return true;
  return std::any_of(part.children.begin(), part.children.end(),
                     [&](const mime::Part& child) { return has_type(child, type, subtype); });
}

const mime::Part* find_type(const mime::Part& part, std::string_view type, std::string_view subtype) {
  if (part.content_type.is(type, subtype)) return &part;
  for (const mime::Part& child : part.children)
    if (const mime::Part* found = find_type(child, type, subtype)) return found;
  return nullptr;
}

DeliveryPlan plan_for(const std::string& raw, const MailboxProfile& mailbox) {
  DeliverySettings settings;
  settings.domain = "vm.example.net";
  return plan_local_delivery({raw, "sender@example.org", "+15550100@vm.example.net",
                              std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000))},
                             mailbox, settings);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(destination_profile)

BOOST_AUTO_TEST_CASE(vpim_peers_get_pure_vpim_with_the_audio_unchanged) {
  const std::string desktop = composed_voicemail();
  const DestinationForm form = form_for_destination(desktop, DestinationProfile::vpim);
  BOOST_TEST(form.changed);
  const mime::Part root = mime::parse_message(form.message);
  BOOST_TEST(root.content_type.is("multipart", "voice-message"));
  BOOST_TEST(root.content_type.params.get("version").value_or("") == "2.0");
  BOOST_TEST(!has_type(root, "audio", "wav"));
  BOOST_TEST(!has_type(root, "text", "plain"));
  BOOST_TEST(header(root, "MIME-Version") == "1.0 (Voice 2.0)");
  const mime::Part original = mime::parse_message(desktop);
  BOOST_TEST(header(root, "Message-ID") == header(original, "Message-ID"));
  BOOST_TEST(header(root, "Caller-ID") == header(original, "Caller-ID"));
  BOOST_TEST(adpcm_of(form.message) == adpcm_of(desktop));
  require_conformant(form.message, mime::MessageKind::vpim_voice);
  // Already pure: nothing to do.
  const DestinationForm again = form_for_destination(form.message, DestinationProfile::vpim);
  BOOST_TEST(!again.changed);
  BOOST_TEST(again.message == form.message);
}

BOOST_AUTO_TEST_CASE(ivm_peers_get_audio_basic_and_no_32kadpcm) {
  const std::string desktop = composed_voicemail();
  const DestinationForm form = form_for_destination(desktop, DestinationProfile::ivm);
  BOOST_TEST(form.changed);
  const mime::Part root = mime::parse_message(form.message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(!has_type(root, "audio", "32kadpcm"));
  BOOST_TEST(header(root, "Message-Context") == "voice-message");
  const mime::Part* basic = find_type(root, "audio", "basic");
  BOOST_REQUIRE(basic);
  BOOST_TEST(basic->disposition.params.get("handling").value_or("") == "required");
  BOOST_TEST(basic->disposition.params.get("voice").value_or("") == "Voice-Message");
  BOOST_TEST(header(*basic, "Content-Duration") == "2");
  const std::string ulaw = mime::decode_body(*basic, form.message);
  const codecs::PcmAudio audio =
      codecs::decode_raw_audio(bytes_of(ulaw), codecs::RawAudioFormat::mulaw, 8000, "voicemail.au");
  BOOST_TEST(audio.duration_seconds() == 2.0, boost::test_tools::tolerance(0.01));
  // The tone survives G.726 and G.711: its level is still about 8000 / sqrt(2).
  double energy = 0;
  for (const std::int16_t s : audio.samples) energy += static_cast<double>(s) * s;
  BOOST_TEST(std::sqrt(energy / static_cast<double>(audio.samples.size())) == 5657.0, boost::test_tools::tolerance(0.1));
  require_conformant(form.message, mime::MessageKind::other_voice);
}

BOOST_AUTO_TEST_CASE(private_voice_messages_are_refused_for_ivm_peers_only) {
  const std::string secret = composed_voicemail(mime::Sensitivity::private_);
  const DestinationForm ivm = form_for_destination(secret, DestinationProfile::ivm);
  BOOST_REQUIRE(ivm.refusal.has_value());
  BOOST_TEST(ivm.refusal->find("Private") != std::string::npos);
  BOOST_TEST(!form_for_destination(secret, DestinationProfile::vpim).refusal.has_value());
  BOOST_TEST(!form_for_destination(composed_voicemail(), DestinationProfile::ivm).refusal.has_value());
}

BOOST_AUTO_TEST_CASE(ordinary_domains_get_a_playable_wav_next_to_foreign_vpim) {
  const std::string pure = foreign("vpim_other_vendor.eml");
  const DestinationForm form = form_for_destination(pure, DestinationProfile::playable);
  BOOST_TEST(form.changed);
  const mime::Part root = mime::parse_message(form.message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(has_type(root, "audio", "wav"));
  BOOST_TEST(adpcm_of(form.message) == adpcm_of(pure));
  require_conformant(form.message, mime::MessageKind::vpim_voice);
  // The desktop form already plays everywhere.
  const std::string desktop = composed_voicemail();
  BOOST_TEST(!form_for_destination(desktop, DestinationProfile::playable).changed);
}

BOOST_AUTO_TEST_CASE(faxes_gain_a_pdf_for_ordinary_domains_only) {
  const std::string fax = composed_fax();
  const DestinationForm playable = form_for_destination(fax, DestinationProfile::playable);
  BOOST_TEST(playable.changed);
  const mime::Part root = mime::parse_message(playable.message);
  const mime::Part* pdf = find_type(root, "application", "pdf");
  BOOST_REQUIRE(pdf);
  BOOST_TEST(mime::decode_body(*pdf, playable.message).starts_with("%PDF-"));
  const mime::Part* tiff = find_type(root, "image", "tiff");
  BOOST_REQUIRE(tiff);
  const mime::Part original = mime::parse_message(fax);
  BOOST_TEST(mime::decode_body(*tiff, playable.message) == mime::decode_body(original, fax));
  require_conformant(playable.message, mime::MessageKind::internet_fax);
  BOOST_TEST(!form_for_destination(fax, DestinationProfile::vpim).changed);
  BOOST_TEST(!form_for_destination(fax, DestinationProfile::ivm).changed);
}

BOOST_AUTO_TEST_CASE(plain_mail_and_undecodable_audio_leave_as_they_came) {
  const std::string plain = "From: a@example.org\r\nTo: b@example.com\r\nDate: Sat, 21 Nov 2026 19:40:01 +0000\r\n"
                            "Message-ID: <1@example.org>\r\nSubject: hi\r\n\r\nhello\r\n";
  for (const auto profile : {DestinationProfile::vpim, DestinationProfile::ivm, DestinationProfile::playable}) {
    const DestinationForm form = form_for_destination(plain, profile);
    BOOST_TEST(!form.changed);
    BOOST_TEST(form.message == plain);
  }
}

BOOST_AUTO_TEST_CASE(rules_pick_the_profile_by_recipient_domain) {
  const DestinationRules rules =
      parse_destination_rules("vpim.example.org=vpim, .ivm.example.net = IVM ,*=playable");
  BOOST_TEST((profile_for(rules, "+4930123456@VPIM.example.org") == DestinationProfile::vpim));
  BOOST_TEST((profile_for(rules, "x@a.ivm.example.net") == DestinationProfile::ivm));
  BOOST_TEST((profile_for(rules, "x@ivm.example.net") == DestinationProfile::playable));
  BOOST_TEST((profile_for(rules, "bob@example.com") == DestinationProfile::playable));
  BOOST_TEST(relay_group(rules, "bob@example.com") == "playable");
  BOOST_TEST(!profile_for(parse_destination_rules(""), "bob@example.com"));
  BOOST_TEST(relay_group(DestinationRules{}, "bob@example.com").empty());
  BOOST_CHECK_THROW(parse_destination_rules("vpim.example.org=fax"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_destination_rules("vpim"), std::invalid_argument);
  const DestinationForm form = form_for_recipient(composed_voicemail(), "+4930123456@vpim.example.org", rules);
  BOOST_TEST(mime::parse_message(form.message).content_type.is("multipart", "voice-message"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mailbox_forms)

BOOST_AUTO_TEST_CASE(mp3_mailboxes_get_an_mp3_next_to_inbound_vpim) {
  MailboxProfile mailbox;
  mailbox.playable = mailstore::PlayableAudio::mp3;
  const std::string raw = foreign("vpim_other_vendor.eml");
  const DeliveryPlan result = plan_for(raw, mailbox);
  const mime::Part root = mime::parse_message(result.message);
  BOOST_TEST(!has_type(root, "audio", "wav"));
  const mime::Part* mp3 = find_type(root, "audio", "mpeg");
  BOOST_REQUIRE(mp3);
  const std::string data = mime::decode_body(*mp3, result.message);
  BOOST_REQUIRE(data.size() > 1000u);
  BOOST_TEST(static_cast<unsigned char>(data[0]) == 0xFFu);  // an MPEG frame sync, no ID3 tag
  BOOST_TEST(adpcm_of(result.message) == adpcm_of(raw));
  require_conformant(result.message, mime::MessageKind::vpim_voice);
}

BOOST_AUTO_TEST_CASE(mailboxes_without_playable_copies_keep_pure_vpim) {
  MailboxProfile mailbox;
  mailbox.playable = mailstore::PlayableAudio::none;
  const std::string raw = foreign("vpim_other_vendor.eml");
  BOOST_TEST(plan_for(raw, mailbox).message == raw);
}

BOOST_AUTO_TEST_CASE(fax_pdf_mailboxes_get_a_pdf_with_the_tiff_unchanged) {
  MailboxProfile mailbox;
  mailbox.fax_pdf = true;
  mailbox.file_by_kind = true;
  for (const std::string name : {"ifax_profile_s.eml", "ifax_profile_f.eml"}) {
    BOOST_TEST_CONTEXT(name) {
      const std::string raw = foreign(name);
      const DeliveryPlan result = plan_for(raw, mailbox);
      BOOST_TEST(result.folder == "Fax");
      const mime::Part root = mime::parse_message(result.message);
      const mime::Part* pdf = find_type(root, "application", "pdf");
      BOOST_REQUIRE(pdf);
      BOOST_TEST(mime::decode_body(*pdf, result.message).starts_with("%PDF-"));
      const mime::Part original = mime::parse_message(raw);
      BOOST_TEST(mime::decode_body(*find_type(root, "image", "tiff"), result.message) ==
                 mime::decode_body(*find_type(original, "image", "tiff"), raw));
      require_conformant(result.message, mime::MessageKind::internet_fax);
    }
  }
}

BOOST_AUTO_TEST_CASE(composed_messages_take_the_mailbox_form) {
  const std::string desktop = composed_voicemail();
  MailboxProfile mailbox;
  mailbox.file_by_kind = true;
  const MailboxForm as_composed = form_for_mailbox(desktop, mailbox);
  BOOST_TEST(as_composed.message == desktop);
  BOOST_TEST(as_composed.folder == "Voicemail");

  mailbox.playable = mailstore::PlayableAudio::mp3;
  const MailboxForm mp3 = form_for_mailbox(desktop, mailbox);
  const mime::Part root = mime::parse_message(mp3.message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(has_type(root, "audio", "mpeg"));
  BOOST_TEST(!has_type(root, "audio", "wav"));
  BOOST_TEST(adpcm_of(mp3.message) == adpcm_of(desktop));
  BOOST_TEST(header(root, "Message-ID") == header(mime::parse_message(desktop), "Message-ID"));
  require_conformant(mp3.message, mime::MessageKind::vpim_voice);

  mailbox.playable = mailstore::PlayableAudio::none;
  const MailboxForm pure = form_for_mailbox(desktop, mailbox);
  BOOST_TEST(mime::parse_message(pure.message).content_type.is("multipart", "voice-message"));
  BOOST_TEST(adpcm_of(pure.message) == adpcm_of(desktop));
  require_conformant(pure.message, mime::MessageKind::vpim_voice);

  mailbox.fax_pdf = true;
  const MailboxForm fax = form_for_mailbox(composed_fax(), mailbox);
  BOOST_TEST(fax.folder == "Fax");
  BOOST_TEST(has_type(mime::parse_message(fax.message), "application", "pdf"));
  require_conformant(fax.message, mime::MessageKind::internet_fax);
}

// The first text part, decoded; and the file names of the attachments, in order.
std::string opening_text(const std::string& message) {
  const mime::Part root = mime::parse_message(message);
  BOOST_REQUIRE(!root.children.empty());
  BOOST_REQUIRE(root.children[0].content_type.is("text", "plain"));
  return mime::decode_body(root.children[0], message);
}

std::vector<std::string> attachment_names(const std::string& message) {
  std::vector<std::string> names;
  for (const mime::Part& child : mime::parse_message(message).children)
    if (child.disposition.type == "attachment") names.push_back(child.disposition.params.get("filename").value_or("?"));
  return names;
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// Issue 15 item 4: the composed text, the MP3 form's, the IVM form's and
// that of a pure VPIM message gaining its WAV on delivery are one text.
BOOST_AUTO_TEST_CASE(one_voice_text_for_every_path) {
  const std::string desktop = composed_voicemail();
  const std::string composed = opening_text(desktop);
  BOOST_TEST(composed ==
             "Voice message from Carol Caller (+1 5550123), 0:02, received Mon 21 Sep 2026 14:13 +0000.\r\n\r\n"
             "The recording is attached as voicemail-+15550123-2026-09-21-1413.wav.");
  BOOST_TEST((attachment_names(desktop) == std::vector<std::string>{"voicemail-+15550123-2026-09-21-1413.wav"}));

  MailboxProfile mp3_mailbox;
  mp3_mailbox.playable = mailstore::PlayableAudio::mp3;
  const MailboxForm mp3 = form_for_mailbox(desktop, mp3_mailbox);
  BOOST_TEST(opening_text(mp3.message) == replaced(composed, ".wav", ".mp3"));
  BOOST_TEST((attachment_names(mp3.message) == std::vector<std::string>{"voicemail-+15550123-2026-09-21-1413.mp3"}));

  const DeliveryPlan inbound = plan_for(composed_voicemail(mime::Sensitivity::normal, mime::VoiceForm::vpim), {});
  BOOST_TEST(opening_text(inbound.message) == composed);
  BOOST_TEST(attachment_names(inbound.message) == attachment_names(desktop));

  const DestinationForm ivm = form_for_destination(desktop, DestinationProfile::ivm);
  BOOST_TEST(opening_text(ivm.message) == replaced(composed, ".wav", ".au"));
}

// Issue 15 items 4 and 6: a fax in a people's mailbox opens with a text
// saying from whom, how many pages and when, and carries the TIFF as a named
// attachment; the same whether composed so, shaped for the mailbox, or
// arriving from an onramp. The relayed form stays simple mode.
BOOST_AUTO_TEST_CASE(faxes_in_peoples_mailboxes_open_with_one_text_and_attach_the_tiff) {
  const std::string simple = composed_fax();
  BOOST_TEST(mime::parse_message(simple).content_type.is("image", "tiff"));
  const std::string people = composed_fax(mime::FaxForm::desktop);
  const std::string text = opening_text(people);
  BOOST_TEST(text ==
             "Fax from +1 5550123, 2 pages, received Mon 21 Sep 2026 14:13 +0000.\r\n\r\n"
             "The fax is attached as fax-+15550123-2026-09-21-1413.tif.");
  require_conformant(people, mime::MessageKind::internet_fax);

  const MailboxForm shaped = form_for_mailbox(simple, MailboxProfile{});
  BOOST_TEST(opening_text(shaped.message) == text);
  BOOST_TEST(attachment_names(shaped.message) == attachment_names(people));
  BOOST_TEST(mime::decode_body(*find_type(mime::parse_message(shaped.message), "image", "tiff"), shaped.message) ==
             mime::decode_body(mime::parse_message(simple), simple));
  require_conformant(shaped.message, mime::MessageKind::internet_fax);

  MailboxProfile pdf_mailbox;
  pdf_mailbox.fax_pdf = true;
  const MailboxForm with_pdf = form_for_mailbox(simple, pdf_mailbox);
  const std::string composed_with_pdf = composed_fax(mime::FaxForm::desktop, true);
  BOOST_TEST(opening_text(with_pdf.message) == opening_text(composed_with_pdf));
  BOOST_TEST((attachment_names(with_pdf.message) ==
              std::vector<std::string>{"fax-+15550123-2026-09-21-1413.tif", "fax-+15550123-2026-09-21-1413.pdf"}));
  BOOST_TEST(attachment_names(with_pdf.message) == attachment_names(composed_with_pdf));
  BOOST_TEST(opening_text(with_pdf.message).find("follows") == std::string::npos);

  const DeliveryPlan onramp = plan_for(foreign("ifax_profile_s.eml"), MailboxProfile{});
  BOOST_TEST(opening_text(onramp.message) ==
             "Fax from Fax Onramp, 2 pages, received Thu 16 Jan 2025 11:30 +0000.\r\n\r\n"
             "The fax is attached as fax-Fax_Onramp-2025-01-16-1130.tif.");
  require_conformant(onramp.message, mime::MessageKind::internet_fax);
}

BOOST_AUTO_TEST_CASE(the_stored_mailbox_settings_make_the_profile) {
  const auto dir = std::filesystem::temp_directory_path() / ("umstore-profile-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    mailstore::SqliteAccountStore accounts(dir / "accounts.db");
    accounts.add(mailstore::Account{"+15550100", "Alice", "", 0}, "secret password");
    BOOST_TEST((mailbox_profile(accounts, "+15550100").playable == mailstore::PlayableAudio::wav));
    accounts.set_delivery("+15550100", {mailstore::PlayableAudio::mp3, true, true});
    const MailboxProfile profile = mailbox_profile(accounts, "+15550100");
    BOOST_TEST((profile.playable == mailstore::PlayableAudio::mp3));
    BOOST_TEST(profile.fax_pdf);
    BOOST_TEST(profile.file_by_kind);
    BOOST_TEST(!mailbox_profile(accounts, "+15550199").file_by_kind);
    BOOST_CHECK_THROW(accounts.set_delivery("+15550199", {}), mailstore::AccountError);
  }
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace umstore::delivery
