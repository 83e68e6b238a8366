// Composed voice and fax messages, read back by three independent parsers:
// ours, mimetic, and Python's email package.
#include "mime/conformance.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

#include <boost/test/unit_test.hpp>
#include <mimetic/mimetic.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace umstore::mime;

namespace {

std::vector<std::uint8_t> binary_bytes(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return bytes;
}

std::string as_string(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

std::string hex(std::string_view bytes) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
  }
  return out.empty() ? "-" : out;
}

const std::chrono::system_clock::time_point kReceived =
    std::chrono::sys_days(std::chrono::year{2026} / 11 / 21) + std::chrono::hours(19) + std::chrono::minutes(40) +
    std::chrono::seconds(1);

struct VoiceFixture {
  std::vector<std::uint8_t> adpcm = binary_bytes(92000, 3);  // 23 s at 4000 octets/s
  std::vector<std::uint8_t> wav = binary_bytes(3000, 77);
  VoiceMessageInput input;
  VoiceFixture() {
    input.domain = "vm.example.net";
    input.caller = {"+15550123", "Alice Example"};
    input.recipient = {"+15550100@vm.example.net", "Bob Example"};
    input.received = kReceived;
    input.adpcm32k = adpcm;
    input.duration_seconds = 22.3;
    input.message_id_hint = "vm-0001";
  }
};

struct FaxFixture {
  std::vector<std::uint8_t> tiff = binary_bytes(5000, 0x49);
  std::vector<std::uint8_t> pdf = binary_bytes(2000, 0x25);
  FaxMessageInput input;
  FaxFixture() {
    input.domain = "vm.example.net";
    input.caller = {"+15550123", ""};
    input.recipient = {"+15550100@vm.example.net", ""};
    input.received = kReceived;
    input.tiff = tiff;
    input.pages = 2;
  }
};

std::string decoded_header(const Part& part, std::string_view name) {
  const auto value = part.header(name);
  BOOST_TEST_REQUIRE(value.has_value(), "missing header " << name);
  return decode_encoded_words(*value);
}

void check_line_ends_and_lengths(const std::string& message) {
  std::size_t line_begin = 0;
  while (line_begin < message.size()) {
    const std::size_t lf = message.find('\n', line_begin);
    BOOST_TEST_REQUIRE(lf != std::string::npos, "message must end with CRLF");
    BOOST_TEST_REQUIRE(lf > line_begin);
    BOOST_TEST_REQUIRE(message[lf - 1] == '\r', "bare LF at offset " << lf);
    BOOST_TEST(lf - 1 - line_begin <= 78u, "long line: " << message.substr(line_begin, lf - line_begin));
    line_begin = lf + 1;
  }
  BOOST_TEST(std::count(message.begin(), message.end(), '\r') == std::count(message.begin(), message.end(), '\n'));
}

// Our own parser: the VPIM part as RFC 3801 wants it.
void check_vpim_part(const Part& vpim, const std::string& message, const std::vector<std::uint8_t>& adpcm) {
  BOOST_TEST(vpim.content_type.is("multipart", "voice-message"));
  BOOST_TEST(vpim.content_type.params.get("version").value() == "2.0");
  BOOST_TEST_REQUIRE(vpim.children.size() == 1u);
  const Part& audio = vpim.children[0];
  BOOST_TEST(audio.content_type.is("audio", "32KADPCM"));
  BOOST_TEST(audio.transfer_encoding == "base64");
  BOOST_TEST(audio.disposition.type == "inline");
  BOOST_TEST(audio.disposition.params.get("voice").value() == "Voice-Message");
  BOOST_TEST(audio.disposition.params.get("filename").value() == "voicemail.726");
  BOOST_TEST(audio.header("Content-Duration").value() == "23");
  BOOST_TEST(decode_body(audio, message) == as_string(adpcm));
}

// ---- mimetic ----

std::string mimetic_decoded(const mimetic::MimeEntity& entity) {
  const std::string& body = entity.body();
  std::string out;
  mimetic::Base64::Decoder decoder;
  mimetic::decode(body.begin(), body.end(), decoder, std::back_inserter(out));
  return out;
}

std::vector<const mimetic::MimeEntity*> mimetic_parts(const mimetic::MimeEntity& entity) {
  return {entity.body().parts().begin(), entity.body().parts().end()};
}

// ---- Python's email package ----

struct PythonPart {
  std::string type, params, disposition, filename, duration, voice, payload_hex;
};

struct PythonView {
  std::map<std::string, std::string> headers;
  std::map<std::string, PythonPart> parts;  // by path: "0" root, "1", "2.1", ...
  std::vector<std::string> defects;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, '\t')) fields.push_back(field);
  return fields;
}

PythonView python_view(const std::string& message) {
  char path[] = "/tmp/umstore-mime-test-XXXXXX";
  const int fd = mkstemp(path);
  BOOST_TEST_REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << message;
  const std::string command = std::string("python3 ") + UMSTORE_MIME_TEST_DIR + "/email_structure.py " + path;
  PythonView view;
  FILE* pipe = popen(command.c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  while (const std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  BOOST_TEST_REQUIRE(pclose(pipe) == 0, "python3 email_structure.py failed");
  std::filesystem::remove(path);
  std::stringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    const auto fields = split_tabs(line);
    if (fields.size() == 3 && fields[0] == "H") view.headers[fields[1]] = fields[2];
    if (fields.size() == 3 && fields[0] == "D") view.defects.push_back(fields[1] + ": " + fields[2]);
    if (fields.size() == 9 && fields[0] == "P")
      view.parts[fields[1]] = {fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8]};
  }
  BOOST_TEST_REQUIRE(!view.parts.empty(), "no output from python: " << output);
  return view;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(composed_messages)

BOOST_FIXTURE_TEST_CASE(pure_vpim_voice_message, VoiceFixture) {
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.header("MIME-Version").value() == "1.0 (Voice 2.0)");
  BOOST_TEST(root.header("Message-Context").value() == "voice-message");
  BOOST_TEST(root.header("Caller-ID").value() == "15550123,NumberingPlan=e164");
  BOOST_TEST(root.header("Caller-Name").value() == "Alice Example");
  BOOST_TEST(root.header("From").value() == "\"Alice Example\" <non-mail-user@vm.example.net>");
  BOOST_TEST(root.header("To").value() == "\"Bob Example\" <+15550100@vm.example.net>");
  BOOST_TEST(root.header("Date").value() == "Sat, 21 Nov 2026 19:40:01 +0000");
  BOOST_TEST(root.header("Message-ID").value() == "<vm-0001@vm.example.net>");
  BOOST_TEST(decoded_header(root, "Subject") == "Voice message from Alice Example (0:23)");
  BOOST_TEST(!root.header("Received"));
  BOOST_TEST(!root.header("Return-Path"));
  check_vpim_part(root, message, adpcm);

  const mimetic::MimeEntity entity(message.begin(), message.end());
  BOOST_TEST(entity.header().contentType().type() == "multipart");
  BOOST_TEST(entity.header().contentType().subtype() == "voice-message");
  BOOST_TEST(entity.header().contentType().param("version") == "2.0");
  const auto parts = mimetic_parts(entity);
  BOOST_TEST_REQUIRE(parts.size() == 1u);
  BOOST_TEST(parts[0]->header().contentType().subtype() == "32KADPCM");
  BOOST_TEST(parts[0]->header().contentDisposition().param("voice") == "Voice-Message");
  BOOST_TEST(parts[0]->header().field("Content-Duration").value() == "23");
  BOOST_TEST(mimetic_decoded(*parts[0]) == as_string(adpcm));

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.headers.at("Subject") == "Voice message from Alice Example (0:23)");
  BOOST_TEST(python.headers.at("Caller-ID") == "15550123,NumberingPlan=e164");
  BOOST_TEST(python.parts.at("0").type == "multipart/voice-message");
  BOOST_TEST(python.parts.at("0").params.starts_with("version=2.0;boundary="));
  BOOST_TEST(python.parts.at("1").type == "audio/32kadpcm");
  BOOST_TEST(python.parts.at("1").disposition == "inline");
  BOOST_TEST(python.parts.at("1").voice == "Voice-Message");
  BOOST_TEST(python.parts.at("1").duration == "23");
  BOOST_TEST(python.parts.at("1").payload_hex == hex(as_string(adpcm)));
  BOOST_TEST(python.parts.size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(desktop_voice_message_wraps_the_vpim_content, VoiceFixture) {
  input.playable_wav = std::span<const std::uint8_t>(wav);
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST(root.header("Message-Context").value() == "voice-message");
  BOOST_TEST(root.header("Caller-ID").value() == "15550123,NumberingPlan=e164");
  BOOST_TEST_REQUIRE(root.children.size() == 3u);
  const Part& text = root.children[0];
  BOOST_TEST(text.content_type.is("text", "plain"));
  BOOST_TEST(text.content_type.params.get("charset").value() == "utf-8");
  BOOST_TEST(decode_body(text, message).starts_with(
      "Voice message from Alice Example (+1 5550123), 0:23, received Sat 21 Nov 2026 19:40 +0000."));
  check_vpim_part(root.children[1], message, adpcm);
  const Part& playable = root.children[2];
  BOOST_TEST(playable.content_type.is("audio", "wav"));
  BOOST_TEST(playable.disposition.type == "attachment");
  BOOST_TEST(playable.disposition.params.get("filename").value() == "voicemail-+15550123-2026-11-21-1940.wav");
  BOOST_TEST(playable.header("Content-Duration").value() == "23");
  BOOST_TEST(decode_body(playable, message) == as_string(wav));

  const mimetic::MimeEntity entity(message.begin(), message.end());
  const auto parts = mimetic_parts(entity);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[0]->header().contentType().type() == "text");
  BOOST_TEST(parts[1]->header().contentType().subtype() == "voice-message");
  BOOST_TEST(parts[1]->header().contentType().param("version") == "2.0");
  const auto voice_parts = mimetic_parts(*parts[1]);
  BOOST_TEST_REQUIRE(voice_parts.size() == 1u);
  BOOST_TEST(voice_parts[0]->header().contentDisposition().param("voice") == "Voice-Message");
  BOOST_TEST(mimetic_decoded(*voice_parts[0]) == as_string(adpcm));
  BOOST_TEST(parts[2]->header().contentType().subtype() == "wav");
  BOOST_TEST(mimetic_decoded(*parts[2]) == as_string(wav));

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.parts.at("1").type == "text/plain");
  BOOST_TEST(python.parts.at("2").type == "multipart/voice-message");
  BOOST_TEST(python.parts.at("2.1").voice == "Voice-Message");
  BOOST_TEST(python.parts.at("2.1").payload_hex == hex(as_string(adpcm)));
  BOOST_TEST(python.parts.at("3").type == "audio/wav");
  BOOST_TEST(python.parts.at("3").filename == "voicemail-+15550123-2026-11-21-1940.wav");
  BOOST_TEST(python.parts.at("3").duration == "23");
  BOOST_TEST(python.parts.at("3").payload_hex == hex(as_string(wav)));
}

BOOST_FIXTURE_TEST_CASE(non_ascii_caller_uses_rfc2047_and_rfc2231, VoiceFixture) {
  input.caller = {"+441164960348", "Jörg Ünterwäßer-Müllerstraße von Schönhausen"};
  input.utc_offset_minutes = 60;
  input.playable_wav = std::span<const std::uint8_t>(wav);
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  for (const char c : message.substr(0, parse_message(message).body_begin)) BOOST_TEST((static_cast<unsigned char>(c) < 128));
  const Part root = parse_message(message);
  BOOST_TEST(decoded_header(root, "Caller-Name") == input.caller.name);
  BOOST_TEST(decoded_header(root, "Subject") == "Voice message from " + input.caller.name + " (0:23)");
  BOOST_TEST(decoded_header(root, "From") == input.caller.name + " <non-mail-user@vm.example.net>");
  BOOST_TEST(root.header("Date").value() == "Sat, 21 Nov 2026 20:40:01 +0100");
  BOOST_TEST(root.header("Caller-ID").value() == "441164960348,NumberingPlan=e164");
  BOOST_TEST_REQUIRE(root.children.size() == 3u);
  const std::string filename = "voicemail-+441164960348-2026-11-21-2040.wav";
  BOOST_TEST(root.children[2].disposition.params.get("filename").value() == filename);
  BOOST_TEST(decode_body(root.children[0], message).find("Schönhausen (+44 116 496 0348), 0:23") != std::string::npos);

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.headers.at("Caller-Name") == input.caller.name);
  BOOST_TEST(python.headers.at("Subject") == "Voice message from " + input.caller.name + " (0:23)");
  BOOST_TEST(python.parts.at("3").filename == filename);
}

BOOST_FIXTURE_TEST_CASE(withheld_caller, VoiceFixture) {
  input.caller = {};
  input.duration_seconds = 0;  // falls back to the ADPCM length
  const std::string message = compose_voice_message(input);
  const Part root = parse_message(message);
  BOOST_TEST(root.header("From").value() == "\"Unknown caller\" <non-mail-user@vm.example.net>");
  BOOST_TEST(decoded_header(root, "Subject") == "Voice message from Unknown caller (0:23)");
  BOOST_TEST(!root.header("Caller-ID"));
  BOOST_TEST(!root.header("Caller-Name"));
}

BOOST_FIXTURE_TEST_CASE(extension_caller_has_no_e164_plan, VoiceFixture) {
  input.caller = {"4401", ""};
  const std::string message = compose_voice_message(input);
  const Part root = parse_message(message);
  BOOST_TEST(root.header("Caller-ID").value() == "4401");
  BOOST_TEST(decode_encoded_words(*root.header("Subject")) == "Voice message from 4401 (0:23)");
}

BOOST_FIXTURE_TEST_CASE(hostile_input_cannot_add_headers, VoiceFixture) {
  input.caller = {"+15550123\r\nBcc: x@example.org", "Eve\r\nBcc: victim@example.org"};
  input.message_id_hint = "a>\r\nBcc: y@example.org";
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(!root.header("Bcc"));
  BOOST_TEST(root.header("Message-ID").value() == "<aBccyexample.org@vm.example.net>");
}

BOOST_FIXTURE_TEST_CASE(unusable_input_is_rejected_with_a_reason, VoiceFixture) {
  VoiceMessageInput no_domain = input;
  no_domain.domain = "";
  BOOST_CHECK_THROW(compose_voice_message(no_domain), ComposeError);
  VoiceMessageInput bad_recipient = input;
  bad_recipient.recipient.address = "bob@example.org\r\nBcc: x@example.org";
  BOOST_CHECK_THROW(compose_voice_message(bad_recipient), ComposeError);
  bad_recipient.recipient.address = "no-at-sign";
  try {
    compose_voice_message(bad_recipient);
    BOOST_FAIL("expected ComposeError");
  } catch (const ComposeError& error) {
    BOOST_TEST(std::string(error.what()).find("no-at-sign") != std::string::npos);
  }
}

BOOST_FIXTURE_TEST_CASE(message_ids_and_boundaries_are_unique, VoiceFixture) {
  input.message_id_hint.clear();
  const std::string first_message = compose_voice_message(input);
  const std::string second_message = compose_voice_message(input);
  const Part first = parse_message(first_message);
  const Part second = parse_message(second_message);
  BOOST_TEST(*first.header("Message-ID") != *second.header("Message-ID"));
  BOOST_TEST(first.content_type.params.get("boundary").value() != second.content_type.params.get("boundary").value());
}

BOOST_FIXTURE_TEST_CASE(pure_simple_mode_fax, FaxFixture) {
  const std::string message = compose_fax_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.content_type.is("image", "tiff"));
  BOOST_TEST(root.content_type.params.get("application").value() == "faxbw");
  BOOST_TEST(root.header("Message-Context").value() == "fax-message");
  BOOST_TEST(root.header("MIME-Version").value() == "1.0");
  BOOST_TEST(decoded_header(root, "Subject") == "Fax from +1 5550123 (2 pages)");
  BOOST_TEST(root.disposition.params.get("filename").value() == "fax-+15550123-2026-11-21-1940.tif");
  BOOST_TEST(decode_body(root, message) == as_string(tiff));

  const mimetic::MimeEntity entity(message.begin(), message.end());
  BOOST_TEST(entity.header().contentType().param("application") == "faxbw");
  BOOST_TEST(mimetic_decoded(entity) == as_string(tiff));

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.parts.at("0").type == "image/tiff");
  BOOST_TEST(python.parts.at("0").payload_hex == hex(as_string(tiff)));
  BOOST_TEST(python.headers.at("Message-Context") == "fax-message");
}

BOOST_FIXTURE_TEST_CASE(a_fax_that_ended_early_says_so_next_to_its_pages, FaxFixture) {
  input.pages = 1;
  input.note = "The fax ended early, after 1 page (T.30: Unexpected DCN after EOM or MPS sequence).";
  const std::string message = compose_fax_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST_REQUIRE(root.children.size() == 2u);
  BOOST_TEST(root.children[0].content_type.is("text", "plain"));
  BOOST_TEST(decode_body(root.children[0], message).find(input.note) != std::string::npos);
  BOOST_TEST(root.children[1].content_type.params.get("application").value() == "faxbw");
  BOOST_TEST(decode_body(root.children[1], message) == as_string(tiff));
  BOOST_TEST((check_message(message).kind == MessageKind::internet_fax));  // the fixture's TIFF is not a real one
  BOOST_TEST(python_view(message).defects.empty());
}

BOOST_FIXTURE_TEST_CASE(desktop_fax_with_pdf, FaxFixture) {
  input.pdf = std::span<const std::uint8_t>(pdf);
  input.pages = 1;
  input.caller.name = "Alice Example";
  const std::string message = compose_fax_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(decoded_header(root, "Subject") == "Fax from Alice Example (1 page)");
  BOOST_TEST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(decode_body(root.children[0], message).starts_with(
      "Fax from Alice Example (+1 5550123), 1 page, received Sat 21 Nov 2026 19:40 +0000.\r\n\r\n"
      "The fax is attached as fax-+15550123-2026-11-21-1940.tif and fax-+15550123-2026-11-21-1940.pdf."));
  BOOST_TEST(root.children[1].content_type.params.get("application").value() == "faxbw");
  BOOST_TEST(decode_body(root.children[1], message) == as_string(tiff));
  BOOST_TEST(root.children[1].disposition.type == "attachment");
  BOOST_TEST(root.children[1].disposition.params.get("filename").value() == "fax-+15550123-2026-11-21-1940.tif");
  BOOST_TEST(root.children[2].content_type.is("application", "pdf"));
  BOOST_TEST(root.children[2].disposition.params.get("filename").value() == "fax-+15550123-2026-11-21-1940.pdf");
  BOOST_TEST(decode_body(root.children[2], message) == as_string(pdf));

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.parts.at("2").type == "image/tiff");
  BOOST_TEST(python.parts.at("3").type == "application/pdf");
  BOOST_TEST(python.parts.at("3").payload_hex == hex(as_string(pdf)));
}

BOOST_FIXTURE_TEST_CASE(vpim_with_spoken_name_forward_and_options, VoiceFixture) {
  const std::vector<std::uint8_t> name = binary_bytes(8000, 9);  // 2 s
  input.form = VoiceForm::vpim;
  input.playable_wav = std::span<const std::uint8_t>(wav);  // ignored: VPIM peers get the pure form
  input.spoken_name_adpcm32k = std::span<const std::uint8_t>(name);
  const std::string original = compose_voice_message(VoiceFixture().input);
  input.forwarded = {original};
  input.options.sensitivity = Sensitivity::private_;
  input.options.importance = Importance::high;
  input.options.notification_address = "4401@vm.example.net";
  input.options.originator = Recipient{"4401@vm.example.net", "Dana Example"};
  input.caller = {};
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.header("From").value() == "\"Dana Example\" <4401@vm.example.net>");
  BOOST_TEST(root.header("Sensitivity").value() == "Private");
  BOOST_TEST(root.header("Importance").value() == "high");
  BOOST_TEST(root.header("Disposition-Notification-To").value() == "4401@vm.example.net");
  BOOST_TEST(decoded_header(root, "Subject") == "Voice message from Dana Example (0:23)");
  BOOST_TEST(root.content_type.is("multipart", "voice-message"));
  BOOST_TEST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(root.children[0].disposition.params.get("voice").value() == "Originator-Spoken-Name");
  BOOST_TEST(root.children[0].header("Content-Duration").value() == "2");
  BOOST_TEST(decode_body(root.children[0], message) == as_string(name));
  BOOST_TEST(root.children[1].disposition.params.get("voice").value() == "Voice-Message");
  BOOST_TEST(root.children[2].content_type.is("message", "rfc822"));
  BOOST_TEST_REQUIRE(root.children[2].children.size() == 1u);
  const Part& inner = root.children[2].children[0];
  BOOST_TEST(inner.content_type.is("multipart", "voice-message"));
  BOOST_TEST(std::string(root.children[2].body(message)) + "\r\n" == original);  // the last CRLF belongs to the delimiter

  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.headers.at("Sensitivity") == "Private");
  BOOST_TEST(python.parts.at("1").voice == "Originator-Spoken-Name");
  BOOST_TEST(python.parts.at("3").type == "message/rfc822");
  BOOST_TEST(python.parts.at("3.1").type == "multipart/voice-message");
  BOOST_TEST(python.parts.at("3.1.1").type == "audio/32kadpcm");
}

BOOST_FIXTURE_TEST_CASE(desktop_form_with_wav_and_mp3, VoiceFixture) {
  const std::vector<std::uint8_t> mp3 = binary_bytes(2500, 0xFF);
  input.playable_wav = std::span<const std::uint8_t>(wav);
  input.playable_mp3 = std::span<const std::uint8_t>(mp3);
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST_REQUIRE(root.children.size() == 4u);
  BOOST_TEST(decode_body(root.children[0], message).find(
                 "attached as voicemail-+15550123-2026-11-21-1940.wav and voicemail-+15550123-2026-11-21-1940.mp3") !=
             std::string::npos);
  check_vpim_part(root.children[1], message, adpcm);
  BOOST_TEST(root.children[3].content_type.is("audio", "mpeg"));
  BOOST_TEST(root.children[3].header("Content-Duration").value() == "23");
  BOOST_TEST(decode_body(root.children[3], message) == as_string(mp3));
  const mimetic::MimeEntity entity(message.begin(), message.end());
  const auto parts = mimetic_parts(entity);
  BOOST_TEST_REQUIRE(parts.size() == 4u);
  BOOST_TEST(parts[3]->header().contentType().subtype() == "mpeg");
  BOOST_TEST(mimetic_decoded(*parts[3]) == as_string(mp3));
  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.parts.at("4").filename == "voicemail-+15550123-2026-11-21-1940.mp3");
}

BOOST_FIXTURE_TEST_CASE(ivm_form_uses_audio_basic, VoiceFixture) {
  const std::vector<std::uint8_t> ulaw = binary_bytes(16000, 0x7F);  // 2 s at 8000 octets/s
  input.form = VoiceForm::ivm;
  BOOST_CHECK_THROW(compose_voice_message(input), ComposeError);  // no mu-law given
  input.ulaw = std::span<const std::uint8_t>(ulaw);
  input.playable_wav = std::span<const std::uint8_t>(wav);
  const std::string message = compose_voice_message(input);
  check_line_ends_and_lengths(message);
  const Part root = parse_message(message);
  BOOST_TEST(root.header("MIME-Version").value() == "1.0");
  BOOST_TEST(root.header("Message-Context").value() == "voice-message");
  BOOST_TEST(root.content_type.is("multipart", "mixed"));
  BOOST_TEST_REQUIRE(root.children.size() == 3u);
  BOOST_TEST(root.children[0].disposition.params.get("handling").value() == "optional");
  const Part& audio = root.children[1];
  BOOST_TEST(audio.content_type.is("audio", "basic"));
  BOOST_TEST(audio.disposition.params.get("filename").value() == "voicemail-+15550123-2026-11-21-1940.au");
  BOOST_TEST(audio.disposition.params.get("voice").value() == "Voice-Message");
  BOOST_TEST(audio.disposition.params.get("handling").value() == "required");
  BOOST_TEST(audio.header("Content-Duration").value() == "2");
  BOOST_TEST(decode_body(audio, message) == as_string(ulaw));
  BOOST_TEST(root.children[2].disposition.params.get("handling").value() == "optional");
  BOOST_TEST(message.find("32KADPCM") == std::string::npos);
  const PythonView python = python_view(message);
  BOOST_TEST(python.defects.empty());
  BOOST_TEST(python.parts.at("2").type == "audio/basic");
  BOOST_TEST(python.parts.at("2").payload_hex == hex(as_string(ulaw)));
}

BOOST_FIXTURE_TEST_CASE(bad_notification_address_is_refused, VoiceFixture) {
  input.options.notification_address = "not an address";
  BOOST_CHECK_THROW(compose_voice_message(input), ComposeError);
}

BOOST_AUTO_TEST_SUITE_END()
