#pragma once
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace umstore::mime::test {

// Fixtures are stored with LF line ends; tests run them both ways.
inline std::string with_crlf(std::string_view lf_text) {
  std::string out;
  for (const char c : lf_text) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

inline std::string eol(std::string_view lf_text, bool crlf) { return crlf ? with_crlf(lf_text) : std::string(lf_text); }

inline std::string read_fixture(std::string_view name) {
  const std::string path = std::string(UMSTORE_TEST_DATA) + "/mime/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test fixture " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace umstore::mime::test
