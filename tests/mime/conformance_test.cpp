// The validator against hand-written foreign messages (tests/data/mime/foreign)
// and against what our own composer writes.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include "mime/conformance.hpp"
#include "mime/voice_message.hpp"
#include "test_support.hpp"

namespace umstore::mime {
namespace {

struct Expected {
  Severity severity;
  std::string rule;      // prefix of Finding::rule
  std::string location;  // prefix of Finding::location; empty: any
};

std::string describe_all(const ConformanceReport& report) {
  std::string out;
  for (const Finding& f : report.findings) out += "\n  " + format_finding(f);
  return out;
}

bool contains(const ConformanceReport& report, const Expected& e) {
  return std::any_of(report.findings.begin(), report.findings.end(), [&](const Finding& f) {
    return f.severity == e.severity && f.rule.starts_with(e.rule) && f.location.starts_with(e.location);
  });
}

ConformanceReport check_fixture(const std::string& name, bool crlf) {
  return check_message(test::eol(test::read_fixture("foreign/" + name), crlf));
}

void require_clean(const std::string& name, MessageKind kind) {
  for (const bool crlf : {false, true}) {
    const ConformanceReport report = check_fixture(name, crlf);
    BOOST_TEST(report.findings.empty(), name << " should conform:" << describe_all(report));
    BOOST_TEST((report.kind == kind), name << " classified as " << describe(report.kind));
  }
}

void require_findings(const std::string& name, MessageKind kind, const std::vector<Expected>& expected,
                      bool errors_expected) {
  for (const bool crlf : {false, true}) {
    const ConformanceReport report = check_fixture(name, crlf);
    BOOST_TEST((report.kind == kind), name << " classified as " << describe(report.kind));
    for (const Expected& e : expected)
      BOOST_TEST(contains(report, e), name << " lacks " << e.rule << " at " << e.location << ":" << describe_all(report));
    BOOST_TEST(report.has_errors() == errors_expected, name << ":" << describe_all(report));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE(vpim_from_another_vendor_conforms) {
  require_clean("vpim_other_vendor.eml", MessageKind::vpim_voice);
}

BOOST_AUTO_TEST_CASE(missing_content_duration_is_not_a_finding) {  // RFC 3803 makes it optional
  require_clean("vpim_no_duration.eml", MessageKind::vpim_voice);
}

BOOST_AUTO_TEST_CASE(profile_s_fax_conforms) { require_clean("ifax_profile_s.eml", MessageKind::internet_fax); }

BOOST_AUTO_TEST_CASE(gateway_emails_are_plain_conforming_mail) {
  require_clean("gateway_asterisk.eml", MessageKind::plain);
  require_clean("gateway_gsm_subject.eml", MessageKind::plain);
}

BOOST_AUTO_TEST_CASE(profile_f_fax_is_a_warning) {
  require_findings("ifax_profile_f.eml", MessageKind::internet_fax,
                   {{Severity::warning, "RFC 3965", "part 2"}}, false);
  const ConformanceReport report = check_fixture("ifax_profile_f.eml", true);
  const bool names_mmr = std::any_of(report.findings.begin(), report.findings.end(),
                                     [](const Finding& f) { return f.text.find("T.6 MMR") != std::string::npos; });
  BOOST_TEST(names_mmr, describe_all(report));
}

BOOST_AUTO_TEST_CASE(broken_mime_gives_errors) {
  require_findings("broken_mime.eml", MessageKind::plain,
                   {{Severity::error, "RFC 5322 §3.6", "header"},
                    {Severity::error, "RFC 2046 §5.1.1", "body"},
                    {Severity::error, "RFC 2045 §6.8", "part 2"},
                    {Severity::warning, "RFC 5322 §3.6.4", "header"}},
                   true);
}

BOOST_AUTO_TEST_CASE(wrong_content_types_in_vpim_give_errors) {
  require_findings("wrong_types.eml", MessageKind::vpim_voice,
                   {{Severity::error, "RFC 3801 §4.2 (Message-ID)", "header"},
                    {Severity::error, "RFC 3801 §4.3 (Content-Disposition)", "part 1"},
                    {Severity::error, "RFC 3801 §4.4 (multipart/voice-message)", "part 2"},
                    {Severity::error, "RFC 3801 §4.4 (image/tiff)", "part 3"},
                    {Severity::error, "RFC 3801 §4.2.13", "header"},
                    {Severity::warning, "RFC 3801 §4.4 (multipart/voice-message)", "header"},
                    {Severity::warning, "RFC 3801 §4.2 (MIME-Version)", "header"}},
                   true);
}

BOOST_AUTO_TEST_CASE(mixed_line_ends_and_missing_mime_version) {
  const ConformanceReport report = check_message(
      "From: a@example.org\r\nDate: Sat, 21 Nov 2026 19:40:01 +0000\r\nMessage-ID: <1@example.org>\n"
      "Content-Type: text/plain\r\n\r\nhello\r\n");
  BOOST_TEST(contains(report, {Severity::error, "RFC 5322 §2.3", "message"}), describe_all(report));
  BOOST_TEST(contains(report, {Severity::error, "RFC 2045 §4", "header"}), describe_all(report));
}

BOOST_AUTO_TEST_CASE(content_duration_must_match_the_audio) {
  std::string message = test::read_fixture("foreign/vpim_other_vendor.eml");
  const std::size_t at = message.find("Content-Duration: 3");
  BOOST_REQUIRE(at != std::string::npos);
  message.replace(at, 19, "Content-Duration: 60");
  BOOST_TEST(contains(check_message(message), {Severity::warning, "RFC 3803", "part 2"}));
  message.replace(at, 20, "Content-Duration: 6s");
  BOOST_TEST(contains(check_message(message), {Severity::error, "RFC 3803", "part 2"}));
}

BOOST_AUTO_TEST_CASE(empty_and_garbage_input_never_throw) {
  BOOST_TEST(check_message("").has_errors());
  BOOST_TEST(check_message(std::string(5000, '\0')).has_errors());
  BOOST_TEST(check_message("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: image/tiff\r\n"
                           "Content-Transfer-Encoding: base64\r\n\r\nSUkqAAgAAAD/\r\n--x--\r\n")
                 .has_errors());
}

BOOST_AUTO_TEST_CASE(our_own_messages_conform) {
  const std::vector<std::uint8_t> adpcm(8000, 0x88), wav(100, 1);
  VoiceMessageInput voice;
  voice.domain = "vm.example.net";
  voice.caller = {"+15550123", "Zoë Example"};
  voice.recipient = {"+15550100@vm.example.net", "Dana"};
  voice.received = std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000));
  voice.adpcm32k = adpcm;
  voice.duration_seconds = 2;
  const ConformanceReport pure = check_message(compose_voice_message(voice));
  BOOST_TEST(pure.findings.empty(), describe_all(pure));
  BOOST_TEST((pure.kind == MessageKind::vpim_voice));
  voice.playable_wav = std::span<const std::uint8_t>(wav);
  const ConformanceReport desktop = check_message(compose_voice_message(voice));
  BOOST_TEST(desktop.findings.empty(), describe_all(desktop));
  BOOST_TEST((desktop.kind == MessageKind::vpim_voice));

  const std::vector<std::uint8_t> name(4000, 0x77), ulaw(16000, 0xFF);
  VoiceMessageInput forward = voice;
  const std::string original = compose_voice_message(voice);
  forward.form = VoiceForm::vpim;
  forward.spoken_name_adpcm32k = std::span<const std::uint8_t>(name);
  forward.forwarded = {original};
  forward.options.sensitivity = Sensitivity::private_;
  forward.options.importance = Importance::low;
  forward.options.notification_address = "4401@vm.example.net";
  forward.options.originator = Recipient{"4401@vm.example.net", "Dana"};
  const ConformanceReport forwarded = check_message(compose_voice_message(forward));
  BOOST_TEST(forwarded.findings.empty(), describe_all(forwarded));
  forward.form = VoiceForm::ivm;
  forward.ulaw = std::span<const std::uint8_t>(ulaw);
  const ConformanceReport ivm = check_message(compose_voice_message(forward));
  BOOST_TEST(ivm.findings.empty(), describe_all(ivm));
  BOOST_TEST((ivm.kind == MessageKind::other_voice));

  const std::string tiff = test::read_fixture("../../../samples/fax.tif");
  FaxMessageInput fax;
  fax.domain = voice.domain;
  fax.caller = voice.caller;
  fax.recipient = voice.recipient;
  fax.received = voice.received;
  fax.tiff = std::span(reinterpret_cast<const std::uint8_t*>(tiff.data()), tiff.size());
  fax.pages = 2;
  const ConformanceReport ifax = check_message(compose_fax_message(fax));
  BOOST_TEST(ifax.findings.empty(), describe_all(ifax));
  BOOST_TEST((ifax.kind == MessageKind::internet_fax));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace umstore::mime
