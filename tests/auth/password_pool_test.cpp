// The pool runs at most threads + waiting checks and answers Busy beyond.
#include <boost/test/unit_test.hpp>

#include <asio.hpp>

#include <atomic>
#include <future>
#include <vector>

#include "auth/password_pool.hpp"

using namespace umstore;
using namespace umstore::auth;

BOOST_AUTO_TEST_SUITE(password_pool)

BOOST_AUTO_TEST_CASE(checks_beyond_threads_and_waiting_are_busy_and_not_run) {
  PasswordPool pool(1, 1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::vector<PasswordCheck> results;
  asio::io_context io;
  for (int i = 0; i < 4; ++i)
    asio::co_spawn(
        io,
        [&, i]() -> net::Task<void> {
          const auto result = co_await pool.check([&, i] {
            ++ran;
            released.wait();
            return i % 2 == 0;
          });
          results.push_back(result);
        },
        asio::detached);
  // The two over capacity answer at once, while the others still run or wait.
  while (results.size() < 2) io.run_one();
  BOOST_TEST((results[0] == PasswordCheck::Busy && results[1] == PasswordCheck::Busy));
  release.set_value();
  io.restart();
  while (results.size() < 4) io.run_one();
  BOOST_TEST(ran.load() == 2);
  BOOST_TEST((results[2] == PasswordCheck::Valid && results[3] == PasswordCheck::Invalid));
}

BOOST_AUTO_TEST_CASE(a_check_that_throws_is_unavailable_not_invalid) {
  PasswordPool pool(1, 0);
  asio::io_context io;
  PasswordCheck result = PasswordCheck::Busy;
  asio::co_spawn(
      io, [&]() -> net::Task<void> { result = co_await pool.check([]() -> bool { throw std::runtime_error("db gone"); }); },
      asio::detached);
  io.run();
  BOOST_TEST((result == PasswordCheck::Unavailable));
}

BOOST_AUTO_TEST_SUITE_END()
