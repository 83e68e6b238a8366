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

BOOST_AUTO_TEST_CASE(dialled_digits_drop_separators_prefix_and_parameters) {
  BOOST_TEST(dialled_digits("tel:+1 (555) 0100;phone-context=example.net") == "+15550100");
  BOOST_TEST(dialled_digits("030 123-456") == "030123456");
  BOOST_TEST(dialled_digits("+1555+0100").empty());
  BOOST_TEST(dialled_digits("anonymous").empty());
  BOOST_TEST(dialled_digits("+").empty());
}

// SIP user parts and Diversion often leave the "+" out; people's input may not.
BOOST_AUTO_TEST_CASE(plus_sign_optional_only_when_asked) {
  BOOST_TEST(normalise_e164("15550100", PlusSign::optional).value() == "+15550100");
  BOOST_TEST(normalise_e164("+15550100;npdi", PlusSign::optional).value() == "+15550100");
  BOOST_TEST(normalise_e164("tel:+1-555-0100", PlusSign::optional).value() == "+15550100");
  BOOST_TEST(!normalise_e164("15550100").has_value());
  BOOST_TEST(!normalise_e164("0301234", PlusSign::optional).has_value());  // a national number is not E.164
  BOOST_TEST(!normalise_e164("1", PlusSign::optional).has_value());
}
