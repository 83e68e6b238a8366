#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "common/durable_file.hpp"

using namespace umstore;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_CASE(replace_file_durably_leaves_only_the_target) {
  auto dir = fs::temp_directory_path() / ("umstore-common-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  create_directories_durably(dir / "a" / "b");
  replace_file_durably(dir / "a" / "b" / "f", "first");
  replace_file_durably(dir / "a" / "b" / "f", "second");
  BOOST_TEST(read_file(dir / "a" / "b" / "f") == "second");
  BOOST_TEST(std::distance(fs::directory_iterator(dir / "a" / "b"), fs::directory_iterator()) == 1);
  BOOST_CHECK_THROW(read_file(dir / "missing"), IoError);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(try_lock_fails_while_held) {
  auto file = fs::temp_directory_path() / ("umstore-lock-" + std::to_string(::getpid()));
  {
    FileLock first(file);
    BOOST_TEST(first.held());
    // flock locks belong to the open file description, so a second open conflicts.
    FileLock second(file, FileLock::Mode::Try);
    BOOST_TEST(!second.held());
  }
  FileLock again(file, FileLock::Mode::Try);
  BOOST_TEST(again.held());
  fs::remove(file);
}
