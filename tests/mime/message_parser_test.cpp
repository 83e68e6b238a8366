#include "mime/message_parser.hpp"
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace umstore::mime;
using umstore::mime::test::eol;
using umstore::mime::test::read_fixture;

namespace {

const Part& child(const Part& part, std::size_t index) {
  BOOST_TEST_REQUIRE(part.children.size() > index);
  return part.children[index];
}

// Every offset must stay inside the message and be ordered.
void check_offsets(const Part& part, std::size_t size) {
  BOOST_TEST(part.header_begin <= part.body_begin);
  BOOST_TEST(part.body_begin <= part.body_end);
  BOOST_TEST(part.body_end <= size);
  for (const Part& c : part.children) {
    BOOST_TEST(c.header_begin >= part.body_begin);
    BOOST_TEST(c.body_end <= part.body_end);
    check_offsets(c, size);
  }
}

std::size_t count_parts(const Part& part) {
  std::size_t n = 1;
  for (const Part& c : part.children) n += count_parts(c);
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(message_parser)

BOOST_AUTO_TEST_CASE(nested_multipart_offsets_are_exact_for_lf_and_crlf) {
  for (const bool crlf : {false, true}) {
    BOOST_TEST_CONTEXT("crlf=" << crlf) {
      const std::string message = eol(read_fixture("nested.eml"), crlf);
      const Part root = parse_message(message);
      check_offsets(root, message.size());
      BOOST_TEST(root.header_begin == 0u);
      BOOST_TEST(root.content_type.is("multipart", "mixed"));
      BOOST_TEST(root.content_type.params.get("boundary").value() == "outer");
      BOOST_TEST(decode_encoded_words(*root.header("subject")) == "Grüße nested");
      BOOST_TEST(root.header("Content-Type").value() == eol("multipart/mixed;\n boundary=\"outer\"", crlf));
      BOOST_TEST(root.body(message).starts_with("This is the preamble."));
      BOOST_TEST(root.body(message).ends_with(eol("--outer--\nepilogue\n", crlf)));
      BOOST_TEST(root.header_text(message).ends_with(eol("boundary=\"outer\"\n\n", crlf)));
      BOOST_TEST_REQUIRE(root.children.size() == 4u);

      const Part& text = child(root, 0);
      BOOST_TEST(text.header_text(message) == eol("Content-Type: text/plain; charset=utf-8\n\n", crlf));
      BOOST_TEST(text.body(message) == eol("Hello Bob,\ntwo lines.", crlf));
      BOOST_TEST(text.body_lines == 2u);
      BOOST_TEST(text.content_type.params.get("CHARSET").value() == "utf-8");

      const Part& alternative = child(root, 1);
      BOOST_TEST(alternative.content_type.is("multipart", "ALTERNATIVE"));
      BOOST_TEST_REQUIRE(alternative.children.size() == 2u);
      BOOST_TEST(child(alternative, 0).body(message) == "plain");
      BOOST_TEST(child(alternative, 0).content_type.params.get("charset").value() == "us-ascii");
      BOOST_TEST(child(alternative, 1).body(message) == eol("<p>html</p>\n", crlf));
      BOOST_TEST(child(alternative, 1).body_lines == 1u);
      BOOST_TEST(alternative.body(message).ends_with(eol("--inner--\ninner epilogue", crlf)));

      const Part& forwarded = child(root, 2);
      BOOST_TEST(forwarded.is_message());
      BOOST_TEST(forwarded.header_text(message) == eol("Content-Type: message/rfc822\n\n", crlf));
      BOOST_TEST(forwarded.body(message).starts_with("From: Carol"));
      BOOST_TEST(forwarded.body(message).ends_with("--fwd--"));
      BOOST_TEST(forwarded.body_lines == 15u);
      BOOST_TEST_REQUIRE(forwarded.children.size() == 1u);
      const Part& inner = child(forwarded, 0);
      BOOST_TEST(inner.header_begin == forwarded.body_begin);
      BOOST_TEST(inner.body_end == forwarded.body_end);
      BOOST_TEST(inner.header("subject").value() == "forwarded");
      BOOST_TEST_REQUIRE(inner.children.size() == 2u);
      BOOST_TEST(child(inner, 0).body(message) == "forwarded text");
      BOOST_TEST(decode_body(child(inner, 1), message) == std::string("\x00\x01\x02\x03", 4));
      BOOST_TEST(child(inner, 1).disposition.type == "attachment");
      BOOST_TEST(child(inner, 1).disposition.params.get("filename").value() == "a.bin");

      const Part& audio = child(root, 3);
      BOOST_TEST(audio.content_type.is("audio", "32kadpcm"));
      BOOST_TEST(audio.content_type.subtype == "32kadpcm");
      BOOST_TEST(audio.transfer_encoding == "base64");
      BOOST_TEST(audio.disposition.type == "inline");
      BOOST_TEST(audio.disposition.params.get("voice").value() == "Voice-Message");
      BOOST_TEST(audio.header("content-duration").value() == "2");
      BOOST_TEST(audio.body_lines == 0u);  // only counted for text and message parts
      BOOST_TEST(decode_body(audio, message) == "\x01\x23\x45\x67\x89\xab\xcd\xef");
    }
  }
}

BOOST_AUTO_TEST_CASE(rfc2231_parameters_comments_and_mime_fields) {
  for (const bool crlf : {false, true}) {
    BOOST_TEST_CONTEXT("crlf=" << crlf) {
      const std::string message = eol(read_fixture("rfc2231.eml"), crlf);
      const Part root = parse_message(message);
      BOOST_TEST(root.content_type.params.get("boundary").value() == "=_b");
      BOOST_TEST(decode_encoded_words(*root.header("From")) == "Jörg <joerg@example.net>");
      // Whitespace between adjacent encoded-words vanishes; unknown charsets stay encoded.
      BOOST_TEST(decode_encoded_words(*root.header("Subject")) == "Thèèse and =?x-unknown?q?abc?=");
      BOOST_TEST_REQUIRE(root.children.size() == 2u);

      const Part& text = child(root, 0);
      BOOST_TEST(text.content_type.params.get("charset").value() == "iso-8859-1");
      BOOST_TEST(text.transfer_encoding == "quoted-printable");
      BOOST_TEST(text.id.value() == "<part1@example.net>");
      BOOST_TEST(text.description.value() == "Gruss");
      BOOST_TEST(text.languages == (std::vector<std::string>{"de-DE", "en"}), boost::test_tools::per_element());
      BOOST_TEST(decode_body(text, message) == "Gr\xFC\xDF" "e, soft break");

      const Part& pdf = child(root, 1);
      BOOST_TEST(pdf.content_type.params.get("name").value() == "Rechnung März.pdf");
      BOOST_TEST(pdf.disposition.params.get("filename").value() == "Grüße.pdf");
      BOOST_TEST(pdf.disposition.params.get("size").value() == "4");
      BOOST_TEST(decode_body(pdf, message) == "PDF!");
    }
  }
}

BOOST_AUTO_TEST_CASE(missing_close_delimiter_keeps_the_last_part) {
  for (const bool crlf : {false, true}) {
    const std::string message = eol(read_fixture("missing_end.eml"), crlf);
    const Part root = parse_message(message);
    BOOST_TEST_REQUIRE(root.children.size() == 2u);
    // "--zzz not a delimiter" has text after the boundary, so it is body.
    BOOST_TEST(root.children[0].body(message) == eol("first\n--zzz not a delimiter", crlf));
    BOOST_TEST(root.children[1].body(message) == eol("second, no close delimiter\n", crlf));
    BOOST_TEST(root.children[1].body_end == message.size());
  }
}

BOOST_AUTO_TEST_CASE(digest_parts_default_to_message_rfc822) {
  const std::string message = eol(read_fixture("digest.eml"), true);
  const Part root = parse_message(message);
  BOOST_TEST_REQUIRE(root.children.size() == 2u);
  const Part& first = root.children[0];
  BOOST_TEST(first.content_type.is("message", "rfc822"));
  BOOST_TEST(first.header_text(message) == "\r\n");
  BOOST_TEST_REQUIRE(first.children.size() == 1u);
  BOOST_TEST(first.children[0].header("Subject").value() == "one");
  BOOST_TEST(first.children[0].body(message) == "body one");
  BOOST_TEST(root.children[1].content_type.is("text", "plain"));
}

BOOST_AUTO_TEST_CASE(single_part_and_header_only_messages) {
  const std::string message = "Subject: hi\r\nX-Folded: a\r\n\tb\r\n\r\nline1\r\nline2";
  const Part root = parse_message(message);
  BOOST_TEST(root.content_type.is("text", "plain"));
  BOOST_TEST(root.headers.size() == 2u);
  BOOST_TEST(root.header("x-folded").value() == "a\r\n\tb");
  BOOST_TEST(unfold(*root.header("x-folded")) == "a\tb");
  BOOST_TEST(root.body(message) == "line1\r\nline2");
  BOOST_TEST(root.body_lines == 2u);

  const std::string header_only = "Subject: no body";
  const Part bare = parse_message(header_only);
  BOOST_TEST(bare.body_begin == header_only.size());
  BOOST_TEST(bare.header("subject").value() == "no body");
  BOOST_TEST(parse_message("").headers.empty());
}

BOOST_AUTO_TEST_CASE(nesting_beyond_the_depth_limit_is_opaque) {
  std::string message;
  constexpr int kLevels = 40;
  for (int i = 0; i < kLevels; ++i)
    message += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  message += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  const ParseLimits limits{.max_depth = 5};
  const Part root = parse_message(message, limits);
  const Part* part = &root;
  std::size_t depth = 0;
  while (!part->children.empty()) {
    part = &part->children.front();
    ++depth;
  }
  BOOST_TEST(depth == 5u);
  BOOST_TEST(part->is_multipart());  // not split any further
  BOOST_TEST(part->body(message).ends_with("deep\r\n"));
  check_offsets(root, message.size());
}

BOOST_AUTO_TEST_CASE(part_count_limit_is_honoured) {
  std::string message = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 50; ++i) message += "--x\r\n\r\npart\r\n";
  message += "--x--\r\n";
  const Part root = parse_message(message, ParseLimits{.max_parts = 10});
  BOOST_TEST(count_parts(root) == 10u);
  BOOST_TEST(parse_message(message).children.size() == 50u);
}

BOOST_AUTO_TEST_CASE(header_field_limit_is_honoured) {
  std::string message;
  for (int i = 0; i < 30; ++i) message += "X-" + std::to_string(i) + ": v\r\n";
  message += "\r\nbody";
  const Part root = parse_message(message, ParseLimits{.max_header_fields = 7});
  BOOST_TEST(root.headers.size() == 7u);
  BOOST_TEST(root.body(message) == "body");
}

BOOST_AUTO_TEST_CASE(garbage_never_escapes_the_buffer) {
  std::mt19937 random(12345);
  const std::string alphabet = "-\r\n:; =\"'*()boundary/xmultipartmessagerfc822\t%?";
  const std::string seed = read_fixture("nested.eml") + read_fixture("rfc2231.eml");
  for (int round = 0; round < 300; ++round) {
    std::string message = seed.substr(0, random() % seed.size());
    for (int edits = 0; edits < 20 && !message.empty(); ++edits)
      message[random() % message.size()] = alphabet[random() % alphabet.size()];
    if (round % 3 == 0) {
      for (int i = 0; i < 200; ++i) message.push_back(static_cast<char>(random()));
    }
    const Part root = parse_message(message);
    check_offsets(root, message.size());
    for (const Part& c : root.children) (void)decode_body(c, message);
  }
}

BOOST_AUTO_TEST_CASE(boundary_prefix_of_inner_boundary_is_not_a_delimiter) {
  const std::string message =
      "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: multipart/mixed; boundary=a-1\r\n\r\n"
      "--a-1\r\n\r\ninner\r\n--a-1--\r\n"
      "--a \t\r\n\r\nsecond\r\n--a--";
  const Part root = parse_message(message);
  BOOST_TEST_REQUIRE(root.children.size() == 2u);
  BOOST_TEST_REQUIRE(root.children[0].children.size() == 1u);
  BOOST_TEST(root.children[0].children[0].body(message) == "inner");
  BOOST_TEST(root.children[1].body(message) == "second");
}

BOOST_AUTO_TEST_SUITE_END()
