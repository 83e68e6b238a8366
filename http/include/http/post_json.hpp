#pragma once
// An HTTP or HTTPS POST of a JSON body, bounded in time: what a webhook
// sends. Blocking; run it on a thread of its own.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "http/client.hpp"

namespace umstore::http {

// nullopt when the receiver answered 2xx; otherwise what went wrong
// ("HTTP 500 Internal Server Error", "Connection refused", "TLS: certificate
// of 127.0.0.1 rejected: unable to get local issuer certificate ...", ...). https:// receivers must present a
// certificate chain to a trusted CA that names the URL's host.
// How a webhook is tried again: at most `attempts` times in all, waiting
// `first` after the first failure and twice as long after each next one,
// up to `longest`.
struct RetrySchedule {
  unsigned attempts = 10;
  std::chrono::milliseconds first = std::chrono::seconds(5);
  std::chrono::milliseconds longest = std::chrono::minutes(10);
  std::chrono::milliseconds wait_after(unsigned failed_attempts) const;
};

std::optional<std::string> post_json(std::string_view url, std::string_view body, const PostOptions& transport);

}  // namespace umstore::http
