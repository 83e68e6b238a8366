#pragma once
// One webhook attempt: an HTTP or HTTPS POST of a JSON body, bounded in time.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::ingest {

struct WebhookTransport {
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // connect, TLS handshake, each read and write
  // PEM file of CA certificates trusted for https:// receivers in addition
  // to the system CAs; empty: the system CAs only.
  std::filesystem::path ca_file;
};

// nullopt when the receiver answered 2xx; otherwise what went wrong
// ("HTTP 500 Internal Server Error", "Connection refused", "TLS: certificate
// of 127.0.0.1 rejected: unable to get local issuer certificate ...", ...). https:// receivers must present a
// certificate chain to a trusted CA that names the URL's host.
std::optional<std::string> post_json(std::string_view url, std::string_view body, const WebhookTransport& transport);

}  // namespace umstore::ingest
