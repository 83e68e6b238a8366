// The throttle's arithmetic, with the clock passed in.
#include <boost/test/unit_test.hpp>

#include "auth/login_throttle.hpp"

using namespace umstore::auth;
using namespace std::chrono_literals;

namespace {
ThrottleLimits limits() {
  ThrottleLimits l;
  l.failure_delay = 1000ms;
  l.max_delay = 8000ms;
  l.max_failures_per_address = 5;
  l.window = 60s;
  return l;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(login_throttle)

BOOST_AUTO_TEST_CASE(delay_doubles_per_failure_up_to_the_cap) {
  LoginThrottle throttle(limits());
  const auto t = LoginThrottle::Clock::now();
  BOOST_TEST((throttle.record_failure("192.0.2.1", "+15550100", t) == 1000ms));
  BOOST_TEST((throttle.record_failure("192.0.2.1", "+15550100", t) == 2000ms));
  BOOST_TEST((throttle.record_failure("192.0.2.1", "+15550100", t) == 4000ms));
  BOOST_TEST((throttle.record_failure("192.0.2.1", "+15550100", t) == 8000ms));
  BOOST_TEST((throttle.record_failure("192.0.2.1", "+15550100", t) == 8000ms));
}

BOOST_AUTO_TEST_CASE(an_address_is_refused_at_its_limit_and_let_in_after_a_quiet_window) {
  LoginThrottle throttle(limits());
  const auto t = LoginThrottle::Clock::now();
  for (int i = 0; i < 5; ++i) throttle.record_failure("192.0.2.1", "user" + std::to_string(i), t);
  BOOST_TEST(throttle.refused("192.0.2.1", t));
  BOOST_TEST(!throttle.refused("192.0.2.2", t));
  BOOST_TEST(!throttle.refused("192.0.2.1", t + 61s));
}

BOOST_AUTO_TEST_CASE(a_user_is_never_refused_only_slowed) {
  LoginThrottle throttle(limits());
  const auto t = LoginThrottle::Clock::now();
  // Guesses for one user from many addresses.
  for (int i = 0; i < 50; ++i) throttle.record_failure("198.51.100." + std::to_string(i), "+15550100", t);
  BOOST_TEST(!throttle.refused("192.0.2.7", t));
  // The owner's own mistake from elsewhere is answered slowly, not refused.
  BOOST_TEST((throttle.record_failure("192.0.2.7", "+15550100", t) == 8000ms));
}

BOOST_AUTO_TEST_CASE(success_clears_the_pair_but_not_the_address) {
  LoginThrottle throttle(limits());
  const auto t = LoginThrottle::Clock::now();
  for (int i = 0; i < 4; ++i) throttle.record_failure("192.0.2.1", "other" + std::to_string(i), t);
  throttle.record_success("192.0.2.1", "+15550100");
  throttle.record_failure("192.0.2.1", "other9", t);
  BOOST_TEST(throttle.refused("192.0.2.1", t));
}

BOOST_AUTO_TEST_CASE(a_failure_without_a_user_counts_for_the_address_only) {
  LoginThrottle throttle(limits());
  const auto t = LoginThrottle::Clock::now();
  BOOST_TEST((throttle.record_failure("192.0.2.1", "", t) == 1000ms));
  BOOST_TEST((throttle.record_failure("192.0.2.2", "", t) == 1000ms));  // no shared "" user
}

BOOST_AUTO_TEST_SUITE_END()
