#include <boost/test/unit_test.hpp>

#include "common/log.hpp"

using namespace umstore;

BOOST_AUTO_TEST_CASE(text_lines_keep_the_familiar_form) {
  BOOST_TEST(format_log_line(LogFormat::Text, "2026-01-02T03:04:05.678Z", LogLevel::Info, "smtp",
                             "session peer=192.0.2.1:4711 helo=gw") ==
             "2026-01-02T03:04:05.678Z info smtp: session peer=192.0.2.1:4711 helo=gw\n");
}

BOOST_AUTO_TEST_CASE(json_lines_carry_key_value_words_as_fields) {
  BOOST_TEST(format_log_line(LogFormat::Json, "T", LogLevel::Warning, "queue",
                             "id=Q1 to=<a@b>, deferred: 451 \"busy\"\tnow") ==
             R"({"time":"T","level":"warning","component":"queue","message":"id=Q1 to=<a@b>, deferred: 451 \"busy\"\tnow","id":"Q1","to":"<a@b>"})"
             "\n");
}

BOOST_AUTO_TEST_CASE(json_fields_never_replace_the_fixed_ones_or_repeat) {
  BOOST_TEST(format_log_line(LogFormat::Json, "T", LogLevel::Error, "x", "level=9 id=1 id=2 Bad=3 =4 e= \x01") ==
             R"({"time":"T","level":"error","component":"x","message":"level=9 id=1 id=2 Bad=3 =4 e= \u0001","id":"1"})"
             "\n");
}

BOOST_AUTO_TEST_CASE(levels_and_formats_parse_by_name_only) {
  BOOST_TEST((parse_log_level("warning") == LogLevel::Warning));
  BOOST_TEST(!parse_log_level("WARN").has_value());
  BOOST_TEST((parse_log_format("json") == LogFormat::Json));
  BOOST_TEST(!parse_log_format("xml").has_value());
}

BOOST_AUTO_TEST_CASE(connection_ids_are_short_and_differ) {
  const std::string a = new_connection_id('s');
  const std::string b = new_connection_id('s');
  BOOST_TEST(a.size() == 6u);
  BOOST_TEST(a[0] == 's');
  BOOST_TEST(a != b);
  const ConnectionLog log("smtp", 'i');
  BOOST_TEST(log.id().size() == 6u);
  BOOST_TEST(log.id()[0] == 'i');
}

BOOST_AUTO_TEST_CASE(a_connection_id_is_a_field_of_json_lines) {
  BOOST_TEST(format_log_line(LogFormat::Json, "T", LogLevel::Info, "imap", "conn=i00a1f peer=1.2.3.4:5 login") ==
             R"({"time":"T","level":"info","component":"imap","message":"conn=i00a1f peer=1.2.3.4:5 login","conn":"i00a1f","peer":"1.2.3.4:5"})"
             "\n");
}

BOOST_AUTO_TEST_CASE(redaction_masks_e164_numbers_only) {
  BOOST_TEST(redact_numbers("delivery to=+15550100 caller=+4930123456 size=97606") ==
             "delivery to=+15****00 caller=+49******56 size=97606");
  BOOST_TEST(redact_numbers("path /mail/+15550100/cur") == "path /mail/+15****00/cur");
  // Too short or too long for E.164, and bare digits, stay as they are.
  BOOST_TEST(redact_numbers("+12345 +1234567890123456 15550100 +") == "+12345 +1234567890123456 15550100 +");
}
