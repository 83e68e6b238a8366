// Which addresses are faxes, who may send where, and the page budget.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "faxout/fax_address.hpp"
#include "faxout/send_policy.hpp"

using namespace umstore::faxout;

namespace {

FaxAddressing addressing() {
  FaxAddressing a;
  a.domains = {"example.net"};
  a.routing.country_code = "49";
  return a;
}

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("faxout-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  static inline int counter = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(addressing_and_policy)

BOOST_AUTO_TEST_CASE(rfc3192_minimal_addresses_and_the_fax_subdomain) {
  const auto a = addressing();
  auto fax = parse_fax_address("FAX=+1-202-555-0123@example.net", a);
  BOOST_REQUIRE(fax && fax->number);
  BOOST_TEST(*fax->number == "+12025550123");
  BOOST_TEST(fax->sub_address.empty());

  fax = parse_fax_address("fax=+4930123456/T33S=6789@EXAMPLE.NET", a);
  BOOST_REQUIRE(fax && fax->number);
  BOOST_TEST(*fax->number == "+4930123456");
  BOOST_TEST(fax->sub_address == "6789");

  fax = parse_fax_address("FAX=030123456@example.net", a);  // as dialled at home
  BOOST_REQUIRE(fax && fax->number);
  BOOST_TEST(*fax->number == "+4930123456");

  fax = parse_fax_address("+4930123456@fax.example.net", a);
  BOOST_REQUIRE(fax && fax->number);
  BOOST_TEST(*fax->number == "+4930123456");

  BOOST_TEST(!parse_fax_address("FAX=+4930123456@example.org", a));  // not our domain
  BOOST_TEST(!parse_fax_address("+4930123456@example.net", a));      // a mailbox, not a fax
  BOOST_TEST(!parse_fax_address("alice@fax.example.net", a).value().number);

  fax = parse_fax_address("FAX=+4930123456/TSI=1@example.net", a);  // a qualifier we do not know
  BOOST_REQUIRE(fax);
  BOOST_TEST(!fax->number);
  BOOST_TEST(!parse_fax_address("FAX=call-me@example.net", a).value().number);
}

BOOST_AUTO_TEST_CASE(destinations_default_to_the_home_country_and_refuse_costly_numbers) {
  SendPolicy policy;
  BOOST_TEST(!destination_refusal(policy, "49", "+4930123456"));
  const auto abroad = destination_refusal(policy, "49", "+12025550123");
  BOOST_REQUIRE(abroad);
  BOOST_TEST(abroad->find("allowed_prefixes") != std::string::npos);
  // German 0900 numbers are premium-rate (libphonenumber's metadata).
  const auto premium = destination_refusal(policy, "49", "+499001234567");
  BOOST_REQUIRE(premium);
  BOOST_TEST(premium->find("premium-rate") != std::string::npos, *premium);

  policy.allowed_prefixes = {"+49", "+1202"};
  policy.refused_prefixes = {"+4930"};
  BOOST_TEST(!destination_refusal(policy, "49", "+12025550123"));
  BOOST_TEST(destination_refusal(policy, "49", "+13125550123").has_value());
  const auto refused = destination_refusal(policy, "49", "+4930123456");
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->find("refused_prefixes") != std::string::npos);
  // An admin who lists a premium range by a longer prefix allows it.
  policy.allowed_prefixes.push_back("+49900");
  BOOST_TEST(!destination_refusal(policy, "49", "+499001234567"));
}

BOOST_AUTO_TEST_CASE(the_page_budget_is_per_user_and_survives_a_restart) {
  TempDir dir;
  const auto file = dir.path / "budget.json";
  unsigned left = 0;
  {
    FilePageBudget budget(file, 10);
    BOOST_TEST(budget.take("+4930111", 6, left));
    BOOST_TEST(left == 10u);
    BOOST_TEST(!budget.take("+4930111", 5, left));
    BOOST_TEST(left == 4u);
    BOOST_TEST(budget.take("+4930222", 10, left));
    BOOST_TEST(budget.exhausted("+4930222"));
    BOOST_TEST(!budget.exhausted("+4930111"));
  }
  FilePageBudget reopened(file, 10);
  BOOST_TEST(reopened.exhausted("+4930222"));
  BOOST_TEST(!reopened.take("+4930111", 5, left));
  BOOST_TEST(reopened.take("+4930111", 4, left));
  BOOST_TEST(reopened.exhausted("+4930111"));
  // A fax that could not be kept gives its pages back, durably.
  reopened.give_back("+4930111", 3);
  BOOST_TEST(!FilePageBudget(file, 10).exhausted("+4930111"));
  BOOST_TEST(FilePageBudget(file, 10).take("+4930111", 3, left));
  FilePageBudget unlimited(dir.path / "none.json", 0);
  BOOST_TEST(unlimited.take("+4930111", 1000, left));
  BOOST_TEST(!unlimited.exhausted("+4930111"));
}

BOOST_AUTO_TEST_SUITE_END()
