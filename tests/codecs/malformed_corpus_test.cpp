// Every file in tests/data/codecs/malformed gets the error expected.tsv names:
// a CodecError that starts with the file name, says the format and the problem.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "codecs_test_support.hpp"

using namespace umstore::codecs;
using namespace codecs_test;

namespace {

struct Case {
  std::string file, decoder, expected;
};

std::vector<Case> corpus_cases(const std::filesystem::path& dir) {
  std::ifstream in(dir / "expected.tsv");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    std::getline(fields, c.file, '\t');
    std::getline(fields, c.decoder, '\t');
    std::getline(fields, c.expected);
    cases.push_back(c);
  }
  return cases;
}

std::string error_of(const Case& c, std::span<const std::uint8_t> bytes) {
  try {
    if (c.decoder == "audio") decode_audio(bytes, c.file, {.max_seconds = 30});
    else convert_fax(bytes, c.file, {.want_pdf = true});
  } catch (const CodecError& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

BOOST_AUTO_TEST_CASE(malformed_corpus_gives_the_expected_errors) {
  const auto dir = std::filesystem::path(UMSTORE_TEST_DATA) / "codecs" / "malformed";
  const auto cases = corpus_cases(dir);
  BOOST_TEST_REQUIRE(cases.size() >= 12u);
  for (const Case& c : cases) {
    const std::string message = error_of(c, read_file(dir / c.file));
    BOOST_TEST(message.rfind(c.file + ": ", 0) == 0u, c.file << " -> " << message);
    BOOST_TEST(message.find(c.expected) != std::string::npos, c.file << " -> " << message);
  }
}
