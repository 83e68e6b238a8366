#pragma once
// A bounded look at a TIFF file's page directories, enough to tell whether it
// is RFC 3949 profile S (what every simple-mode fax recipient must read) and
// why not. The mime library cannot depend on codecs, and this needs no image
// decoding.
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mime {

struct TiffSummary {
  bool is_tiff = false;
  std::string problem;                       // why it is not a TIFF, when it is not
  unsigned pages = 0;
  std::vector<std::string> beyond_profile_s;  // one reason each, no repeats
};

TiffSummary summarise_tiff(std::string_view data);

}  // namespace umstore::mime
