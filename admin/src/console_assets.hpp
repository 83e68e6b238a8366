#pragma once
// The console's static files (admin/console/), compiled into the program
// (embed_console.cmake) so it works without internet access or files to install.
#include <string_view>

namespace umstore::admin {

struct ConsoleAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

const ConsoleAsset* find_console_asset(std::string_view path);

}  // namespace umstore::admin
