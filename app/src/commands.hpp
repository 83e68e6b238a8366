#pragma once
#include <span>
#include <string>

namespace umstore::app {

// Each returns the process exit code: 0 success, 1 failure, 2 usage error.
int run_serve(std::span<const std::string> args);
int run_mailbox(std::span<const std::string> args);
int run_ingest(std::span<const std::string> args);
int run_convert(std::span<const std::string> args);

}  // namespace umstore::app
