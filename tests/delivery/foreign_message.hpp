#pragma once
// A hand-written foreign message from tests/data/mime/foreign, with the
// CRLF line ends messages travel with.
#include <stdexcept>
#include <string>

#include "common/durable_file.hpp"

namespace umstore::delivery {

inline std::string read_message(const std::string& name) {
  const std::string lf = read_file(std::string(UMSTORE_TEST_DATA) + "/mime/foreign/" + name);
  std::string crlf;
  for (const char c : lf) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  return crlf;
}

}  // namespace umstore::delivery
