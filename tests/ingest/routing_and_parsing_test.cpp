#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "ingest/multipart.hpp"
#include "ingest/recording_metadata.hpp"
#include "ingest/routing.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "../mailstore/temp_dir.hpp"

using namespace umstore::ingest;

namespace {
RoutingRules german_office() {
  RoutingRules r;
  r.country_code = "49";
  r.national_prefix = "0";
  r.international_prefix = "00";
  r.extensions = {parse_extension_range("100-199=+4930123")};
  return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(routing)

BOOST_AUTO_TEST_CASE(numbers_are_normalised_with_the_rules) {
  const auto r = german_office();
  BOOST_TEST(normalise_called_number("+49 30 123-150", r).value() == "+4930123150");
  BOOST_TEST(normalise_called_number("tel:+4930123150", r).value() == "+4930123150");
  BOOST_TEST(normalise_called_number("0049 30 123150", r).value() == "+4930123150");
  BOOST_TEST(normalise_called_number("030 123150", r).value() == "+4930123150");
  BOOST_TEST(normalise_called_number("150", r).value() == "+4930123150");
  BOOST_TEST(!normalise_called_number("250", r).has_value());   // outside the extension range
  BOOST_TEST(!normalise_called_number("abc", r).has_value());
  BOOST_TEST(!normalise_called_number("", r).has_value());
}

BOOST_AUTO_TEST_CASE(national_numbers_need_a_country_code) {
  RoutingRules r;
  BOOST_TEST(!normalise_called_number("030123150", r).has_value());
  BOOST_TEST(normalise_called_number("+15550100", r).value() == "+15550100");
}

BOOST_AUTO_TEST_CASE(bad_extension_ranges_are_refused) {
  BOOST_CHECK_THROW(parse_extension_range("100-1999=+49"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_extension_range("200-100=+49"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_extension_range("100-199=4930"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_extension_range("100"), std::invalid_argument);
  const auto range = parse_extension_range("100-199=+4930123");
  BOOST_TEST(range.first == 100u);
  BOOST_TEST(range.last == 199u);
  BOOST_TEST(range.digits == 3u);
}

BOOST_AUTO_TEST_CASE(without_a_mailbox_a_number_follows_enum_and_a_catch_all_comes_first) {
  TempDir dir;
  umstore::mailstore::SqliteAccountStore accounts(dir.path() / "accounts.db");
  accounts.add({"+4930123150", "Alice", "", 0}, "a password of some length");
  accounts.add({"+4930123199", "Operator", "", 0}, "a password of some length");
  RoutingRules rules = german_office();
  BOOST_CHECK_THROW(Router(rules, accounts).route("160"), UnroutableNumber);

  rules.enum_for_unknown = true;
  const Router by_enum(rules, accounts);
  const Route known = by_enum.route("150");
  BOOST_TEST(known.mailbox == "+4930123150");
  BOOST_TEST(!known.by_enum);
  const Route unknown = by_enum.route("160");
  BOOST_TEST(unknown.mailbox == "+4930123160");
  BOOST_TEST(unknown.by_enum);
  BOOST_TEST(unknown.owner_name.empty());
  // A number must be one to look it up.
  BOOST_CHECK_THROW(by_enum.route("not a number"), UnroutableNumber);

  rules.catch_all = "+4930123199";
  const Route caught = Router(rules, accounts).route("160");
  BOOST_TEST(caught.mailbox == "+4930123199");
  BOOST_TEST(caught.catch_all);
  BOOST_TEST(!caught.by_enum);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metadata)

BOOST_AUTO_TEST_CASE(timestamps_in_rfc3339_and_unix_seconds) {
  using namespace std::chrono;
  BOOST_TEST(parse_timestamp("1714557600").value().time_since_epoch() == seconds(1714557600));
  BOOST_TEST(parse_timestamp("2024-05-01T10:00:00Z").value().time_since_epoch() == seconds(1714557600));
  BOOST_TEST(parse_timestamp("2024-05-01T12:00:00+02:00").value().time_since_epoch() == seconds(1714557600));
  BOOST_TEST(parse_timestamp("2024-05-01T10:00:00.250Z").value().time_since_epoch() == seconds(1714557600));
  BOOST_TEST(!parse_timestamp("yesterday").has_value());
  BOOST_TEST(!parse_timestamp("2024-13-01T10:00:00Z").has_value());
}

BOOST_AUTO_TEST_CASE(fields_are_validated) {
  const auto m = parse_metadata(nlohmann::json{{"to", "150"}, {"from", "+1 555 0123"}, {"kind", "fax"}});
  BOOST_TEST(m.from == "+15550123");
  BOOST_TEST((m.kind == Kind::Fax));
  BOOST_CHECK_THROW(parse_metadata(nlohmann::json{{"from", "+15550123"}}), InvalidMetadata);
  BOOST_CHECK_THROW(parse_metadata(nlohmann::json{{"to", "1"}, {"from", "evil\r\nBcc: x"}}), InvalidMetadata);
  BOOST_CHECK_THROW(parse_metadata(nlohmann::json{{"to", "1"}, {"kind", "video"}}), InvalidMetadata);
  BOOST_CHECK_THROW(parse_metadata(nlohmann::json{{"to", std::string(2000, '1')}}), InvalidMetadata);
  BOOST_CHECK_THROW(parse_metadata(nlohmann::json::array()), InvalidMetadata);
}

BOOST_AUTO_TEST_CASE(formats_are_recognised_by_magic) {
  BOOST_TEST(!unsupported_format(Kind::Voice, std::string_view("RIFF\0\0\0\0WAVEfmt ", 16)).has_value());
  BOOST_TEST(!unsupported_format(Kind::Voice, ".snd....").has_value());
  BOOST_TEST(unsupported_format(Kind::Voice, std::string_view("II*\0", 4)).has_value());
  BOOST_TEST(!unsupported_format(Kind::Fax, std::string_view("II*\0....", 8)).has_value());
  BOOST_TEST(!unsupported_format(Kind::Fax, std::string_view("MM\0*....", 8)).has_value());
  BOOST_TEST(unsupported_format(Kind::Fax, "RIFF").has_value());
  BOOST_TEST(unsupported_format(Kind::Voice, "").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(multipart)

BOOST_AUTO_TEST_CASE(parts_are_split_at_the_boundary) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
      "RIFF\r\n--X not the end\r\n"
      "--XyZ--\r\n";
  const auto boundary = form_boundary("multipart/form-data; boundary=XyZ");
  BOOST_REQUIRE(boundary.has_value());
  const auto parts = parse_form(body, *boundary);
  BOOST_REQUIRE_EQUAL(parts.size(), 2u);
  BOOST_TEST(parts[0].name == "to");
  BOOST_TEST(parts[0].data == "+15550100");
  BOOST_TEST(parts[1].filename == "a b.wav");
  BOOST_TEST(parts[1].content_type == "audio/wav");
  BOOST_TEST(parts[1].data == "RIFF\r\n--X not the end");
}

BOOST_AUTO_TEST_CASE(malformed_forms_are_refused) {
  BOOST_TEST(!form_boundary("audio/wav").has_value());
  BOOST_TEST(form_boundary("multipart/form-data").value().empty());
  BOOST_CHECK_THROW(parse_form("no boundary here", "XyZ"), MalformedForm);
  BOOST_CHECK_THROW(parse_form("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "XyZ"),
                    MalformedForm);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  many += "--B--\r\n";
  BOOST_CHECK_THROW(parse_form(many, "B"), MalformedForm);
}

BOOST_AUTO_TEST_SUITE_END()
