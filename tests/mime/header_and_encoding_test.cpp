#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

#include <boost/test/unit_test.hpp>

using namespace umstore::mime;

BOOST_AUTO_TEST_SUITE(header_text)

BOOST_AUTO_TEST_CASE(unfold_removes_line_breaks_before_whitespace) {
  BOOST_TEST(unfold("a\r\n b\r\n\tc") == "a b\tc");
  BOOST_TEST(unfold("a\n b") == "a b");
}

BOOST_AUTO_TEST_CASE(decodes_q_and_b_words_in_common_charsets) {
  BOOST_TEST(decode_encoded_words("=?ISO-8859-1?Q?Andr=E9?= Pirard") == "André Pirard");
  BOOST_TEST(decode_encoded_words("=?utf-8?b?w6k=?=") == "é");
  BOOST_TEST(decode_encoded_words("=?windows-1252?q?=80_5?=") == "€ 5");
  BOOST_TEST(decode_encoded_words("=?iso-8859-15?q?=A4?=") == "€");
  BOOST_TEST(decode_encoded_words("=?us-ascii*en?q?Keith_Moore?=") == "Keith Moore");
  // RFC 2047 §8 examples: whitespace between adjacent words disappears, other text stays.
  BOOST_TEST(decode_encoded_words("(=?ISO-8859-1?Q?a?= b)") == "(a b)");
  BOOST_TEST(decode_encoded_words("(=?ISO-8859-1?Q?a?=  \r\n =?ISO-8859-1?Q?b?=)") == "(ab)");
  BOOST_TEST(decode_encoded_words("(=?ISO-8859-1?Q?a_b?=)") == "(a b)");
  // A multi-byte character split across two B words is reassembled.
  BOOST_TEST(decode_encoded_words("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=") == "€");
}

BOOST_AUTO_TEST_CASE(malformed_and_unknown_words_are_left_alone) {
  BOOST_TEST(decode_encoded_words("=?koi8-r?q?abc?=") == "=?koi8-r?q?abc?=");
  BOOST_TEST(decode_encoded_words("=?utf-8?x?abc?=") == "=?utf-8?x?abc?=");
  BOOST_TEST(decode_encoded_words("=?utf-8?q?no end") == "=?utf-8?q?no end");
  BOOST_TEST(decode_encoded_words("a =? b ?= c") == "a =? b ?= c");
  BOOST_TEST(decode_encoded_words("=?") == "=?");
}

BOOST_AUTO_TEST_CASE(encode_leaves_ascii_alone_and_round_trips_utf8) {
  BOOST_TEST(encode_header_text("Voice message from +1 555 0123 (0:23)") == "Voice message from +1 555 0123 (0:23)");
  for (const std::string& text : {std::string("Jörg Müller"), std::string("日本語のテキストがとても長い場合の件名です。改行が必要になります"),
                                 std::string("looks =?utf-8?q?encoded?= but is not"), std::string(200, 'x') + "é"}) {
    const std::string encoded = encode_header_text(text);
    BOOST_TEST(decode_encoded_words(encoded) == text);
    std::size_t line_begin = 0;
    while (line_begin < encoded.size()) {
      const std::size_t line_end = std::min(encoded.find("\r\n", line_begin), encoded.size());
      BOOST_TEST(line_end - line_begin <= 76u);
      line_begin = line_end + 2;
    }
    for (const char c : encoded) BOOST_TEST((static_cast<unsigned char>(c) < 128));
  }
}

BOOST_AUTO_TEST_CASE(encode_never_lets_text_start_a_new_header) {
  const std::string encoded = encode_header_text("Alice\r\nBcc: victim@example.org");
  BOOST_TEST(encoded.find('\n') == std::string::npos);
  BOOST_TEST(encoded.find('\r') == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(content_type_values)

BOOST_AUTO_TEST_CASE(parses_types_parameters_and_comments) {
  const ContentType type = parse_content_type("Text/Plain (a comment) ; CharSet = \"us-ascii\" (Plain text); format=flowed");
  BOOST_TEST(type.type == "text");
  BOOST_TEST(type.subtype == "plain");
  BOOST_TEST(type.params.get("charset").value() == "us-ascii");
  BOOST_TEST(type.params.get("FORMAT").value() == "flowed");
  BOOST_TEST(type.params.items.front().first == "charset");
  BOOST_TEST(parse_content_type("text/plain; name=\"a \\\"quoted\\\" name\"").params.get("name").value() ==
             "a \"quoted\" name");
  BOOST_TEST(parse_content_type("application/octet-stream; name=my file.wav").params.get("name").value() == "my file.wav");
}

BOOST_AUTO_TEST_CASE(invalid_types_fall_back_to_plain_text) {
  for (const char* value : {"", "garbage", "/plain", "text/", "(only a comment"}) {
    const ContentType type = parse_content_type(value);
    BOOST_TEST(type.is("text", "plain"));
    BOOST_TEST(type.params.get("charset").value() == "us-ascii");
  }
}

BOOST_AUTO_TEST_CASE(rfc2231_continuations_and_charsets) {
  const Disposition d = parse_disposition(
      "attachment; filename*2=\"c.txt\"; filename*0*=iso-8859-1'en'%E9t%E9; filename*1=\" b \"");
  BOOST_TEST(d.type == "attachment");
  BOOST_TEST(d.params.get("filename").value() == "été b c.txt");
  // A gap ends the value; the extended form beats the plain one.
  BOOST_TEST(parse_disposition("inline; a*0=x; a*2=z").params.get("a").value() == "x");
  BOOST_TEST(parse_disposition("inline; filename=old.txt; filename*=utf-8''new.txt").params.get("filename").value() ==
             "new.txt");
  // Bounded: absurd section numbers are not continuations.
  BOOST_TEST(parse_disposition("inline; a*99999999=x").params.get("a*99999999").value() == "x");
}

BOOST_AUTO_TEST_CASE(parameter_count_is_bounded) {
  std::string value = "text/plain";
  for (int i = 0; i < 500; ++i) value += "; p" + std::to_string(i) + "*" + std::to_string(i % 3) + "=v";
  const ContentType type = parse_content_type(value, 10);
  BOOST_TEST(type.params.items.size() <= 10u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transfer_encodings)

BOOST_AUTO_TEST_CASE(base64_matches_rfc4648_vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                          {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    BOOST_TEST(base64_encode(plain, 0) == encoded);
    BOOST_TEST(base64_decode(encoded) == plain);
  }
}

BOOST_AUTO_TEST_CASE(base64_lines_are_76_chars_with_crlf_and_round_trip_binary) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  const std::string encoded = base64_encode(data);
  BOOST_TEST(encoded.substr(76, 2) == "\r\n");
  BOOST_TEST(encoded.ends_with("\r\n"));
  BOOST_TEST(encoded.find('\n') == 77u);
  BOOST_TEST(base64_decode(encoded) == data);
  BOOST_TEST(base64_decode("Zm9v\r\n  Ym!!Fy") == "foobar");  // whitespace and junk are skipped
}

BOOST_AUTO_TEST_CASE(quoted_printable_decoding) {
  BOOST_TEST(quoted_printable_decode("caf=C3=A9 =3D x") == "café = x");
  BOOST_TEST(quoted_printable_decode("soft=\r\nbreak\r\nhard") == "softbreak\r\nhard");
  BOOST_TEST(quoted_printable_decode("soft= \t\nbreak") == "softbreak");
  BOOST_TEST(quoted_printable_decode("trailing   \r\nx") == "trailing\r\nx");
  BOOST_TEST(quoted_printable_decode("bad =XY and =") == "bad =XY and ");
  BOOST_TEST(quoted_printable_decode("lower =e9") == "lower \xe9");
}

BOOST_AUTO_TEST_CASE(quoted_printable_round_trip_keeps_lines_short) {
  const std::string text = "Grüße aus Köln = 100 % ünïcödé, " + std::string(150, 'x') + " \r\nend\t";
  const std::string encoded = quoted_printable_encode(text);
  BOOST_TEST(quoted_printable_decode(encoded) == text);
  std::size_t line_begin = 0;
  while (line_begin < encoded.size()) {
    const std::size_t line_end = std::min(encoded.find("\r\n", line_begin), encoded.size());
    BOOST_TEST(line_end - line_begin <= 76u);
    line_begin = line_end + 2;
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(people_text)

BOOST_AUTO_TEST_CASE(durations) {
  BOOST_TEST(format_duration(23) == "0:23");
  BOOST_TEST(format_duration(22.3) == "0:23");
  BOOST_TEST(format_duration(23.0000001) == "0:23");
  BOOST_TEST(format_duration(62) == "1:02");
  BOOST_TEST(format_duration(3723) == "1:02:03");
  BOOST_TEST(format_duration(0) == "0:00");
  BOOST_TEST(content_duration_seconds(0.2) == 1);
  BOOST_TEST(content_duration_seconds(-5) == 0);
  BOOST_TEST(content_duration_seconds(1e12) == 2147483647);
}

BOOST_AUTO_TEST_CASE(numbers) {
  // libphonenumber's international format (issue 15 item 5): NANP numbers with dashes,
  // a number too short for its plan as country code and national number.
  BOOST_TEST(format_number_for_people("+15550123") == "+1 5550123");
  BOOST_TEST(format_number_for_people("+16135550142") == "+1 613-555-0142");
  BOOST_TEST(format_number_for_people("+441164960348") == "+44 116 496 0348");
  BOOST_TEST(format_number_for_people("+3545551234") == "+354 555 1234");
  BOOST_TEST(format_number_for_people("4401") == "4401");
  BOOST_TEST(format_number_for_people("") == "");
  BOOST_TEST(format_number_for_people("+1-555") == "+1 555");
  BOOST_TEST(format_number_for_people("+1-55a") == "+1-55a");
}

BOOST_AUTO_TEST_SUITE_END()
