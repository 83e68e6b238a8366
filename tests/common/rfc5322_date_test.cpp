#include <boost/test/unit_test.hpp>

#include "common/rfc5322_date.hpp"

using namespace umstore;

BOOST_AUTO_TEST_CASE(formats_and_parses_back) {
  auto t = std::chrono::system_clock::from_time_t(1795290001);  // 2026-11-21 19:40:01 UTC
  BOOST_TEST(format_rfc5322_date(t) == "Sat, 21 Nov 2026 19:40:01 +0000");
  BOOST_TEST(format_rfc5322_date(t, -300) == "Sat, 21 Nov 2026 14:40:01 -0500");
  BOOST_TEST(format_imap_date(t) == "21-Nov-2026 19:40:01 +0000");
  BOOST_TEST((parse_rfc5322_date("Sat, 21 Nov 2026 14:40:01 -0500").value() == t));
  BOOST_TEST((parse_rfc5322_date("21 Nov 2026 19:40:01 GMT").value() == t));
  BOOST_TEST((parse_rfc5322_date("Sat, 21 Nov 2026 19:40 +0000").value() == t - std::chrono::seconds(1)));
  BOOST_TEST(!parse_rfc5322_date("yesterday").has_value());
}

BOOST_AUTO_TEST_CASE(dates_the_clock_cannot_hold_are_no_dates) {
  BOOST_TEST(!parse_rfc5322_date("Thu, 16 Jan 4050 12:00:00 +0000"));  // past 2262: nanoseconds overflow
  BOOST_TEST(parse_rfc5322_date("Thu, 16 Jan 2200 12:00:00 +0000").has_value());
}

BOOST_AUTO_TEST_CASE(numbers_longer_than_any_date_field_are_no_dates) {
  // Found by fuzz_parse_message: an int overflow while the digits were read.
  BOOST_TEST(!parse_rfc5322_date("Sat, 21 Nov 777777777777 19:40:01 +0000"));
  BOOST_TEST(!parse_rfc5322_date("Sat, 99999999999999999999 Nov 2026 19:40:01 +0000"));
  BOOST_TEST(!parse_rfc5322_date("99999999999999999999 Nov 2026 19:40:01 +0000"));  // no day name
  BOOST_TEST(parse_rfc5322_date("Sat, 021 Nov 2026 19:40:01 +0000").has_value());
}
