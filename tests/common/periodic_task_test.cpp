#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/periodic_task.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(periodic_task)

BOOST_AUTO_TEST_CASE(runs_again_and_again_until_destroyed) {
  std::atomic<int> runs{0};
  {
    const umstore::PeriodicTask task(1ms, 1ms, [&] { ++runs; });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (runs < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  }
  const int at_end = runs;
  BOOST_TEST(at_end >= 3);
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(runs == at_end);  // nothing runs once it is gone
}

BOOST_AUTO_TEST_CASE(destroying_it_ends_a_long_wait_at_once) {
  std::atomic<int> runs{0};
  const auto start = std::chrono::steady_clock::now();
  { const umstore::PeriodicTask task(1h, 1h, [&] { ++runs; }); }
  BOOST_TEST(runs == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
}

BOOST_AUTO_TEST_SUITE_END()
