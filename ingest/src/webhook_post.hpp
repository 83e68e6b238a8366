#pragma once
// One webhook attempt: an HTTP POST of a JSON body, bounded in time.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::ingest {

// nullopt when the receiver answered 2xx; otherwise what went wrong
// ("HTTP 500 Internal Server Error", "Connection refused", ...).
std::optional<std::string> post_json(std::string_view url, std::string_view body, std::chrono::milliseconds timeout);

}  // namespace umstore::ingest
