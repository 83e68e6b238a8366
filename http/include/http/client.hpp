#pragma once
// An HTTP or HTTPS request, bounded in time and size: what webhooks and the
// ACME client send. https:// servers must present a certificate chain to a
// trusted CA that names the URL's host. Blocking; run it off the I/O threads.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umstore::http {

struct PostOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // connect, TLS handshake, each read and write
  // PEM file of CA certificates trusted for https:// servers in addition
  // to the system CAs; empty: the system CAs only.
  std::filesystem::path ca_file;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::string content_type;  // with a body
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ClientResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool truncated = false;  // the body went on past max_body_bytes; `body` has its start
  // The first header of that name (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
};

// Throws std::runtime_error saying what went wrong ("Connection refused",
// "TLS: certificate of 127.0.0.1 rejected: unable to get local issuer
// certificate ...").
ClientResponse send_request(const ClientRequest& request, const PostOptions& transport,
                            std::size_t max_body_bytes = 1 << 20);

}  // namespace umstore::http
