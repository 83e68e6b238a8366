#include <boost/test/unit_test.hpp>

#include "common/e164.hpp"

using namespace umstore;

BOOST_AUTO_TEST_CASE(accepts_plain_e164) {
  BOOST_TEST(is_e164("+15550100"));
  BOOST_TEST(is_e164("+44"));
  BOOST_TEST(is_e164("+123456789012345"));
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_e164) {
  BOOST_TEST(!is_e164("15550100"));
  BOOST_TEST(!is_e164("+1"));
  BOOST_TEST(!is_e164("+1234567890123456"));
  BOOST_TEST(!is_e164("+0123"));
  BOOST_TEST(!is_e164("+1555a100"));
  BOOST_TEST(!is_e164("+1555/../0"));
}

BOOST_AUTO_TEST_CASE(normalises_written_forms) {
  BOOST_TEST(normalise_e164("+1 555-0100").value() == "+15550100");
  BOOST_TEST(normalise_e164("tel:+1.555.0100").value() == "+15550100");
  BOOST_TEST(normalise_e164("+1 (555) 0100").value() == "+15550100");
  BOOST_TEST(!normalise_e164("5550100").has_value());
  BOOST_TEST(!normalise_e164("+1555+0100").has_value());
  BOOST_TEST(e164_digits("+15550100") == "15550100");
}
