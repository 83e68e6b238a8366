// main() of a test executable that drives one real client program
// (UMSTORE_CLIENT_PROGRAM, e.g. /usr/bin/mbsync). Without the program it
// exits 77, which CTest reports as skipped (SKIP_RETURN_CODE): a missing
// client must never look like a passing test.
#define BOOST_TEST_MODULE imap_client
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>

int main(int argc, char* argv[]) {
  std::error_code ec;
  if (!std::filesystem::exists(UMSTORE_CLIENT_PROGRAM, ec)) {
    std::fprintf(stderr, "%s is not installed (see scripts/install-deps.sh); skipped\n", UMSTORE_CLIENT_PROGRAM);
    return 77;
  }
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
