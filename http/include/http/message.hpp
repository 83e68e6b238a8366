#pragma once
// HTTP/1.1 requests and responses as the server (http/server.hpp) reads and
// writes them: whole bodies in memory, bounded by the server's limits; a
// response may instead send its body from a file (FileBody).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/durable_file.hpp"

namespace umstore::http {

struct Request {
  std::string method;
  std::string target;                          // as sent: path and query
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string peer_address;                    // the client's IP address
  bool secure = false;                         // arrived over TLS
  std::optional<std::string_view> header(std::string_view name) const;
  std::string_view path() const;               // the target without its query
  // A query parameter, percent-decoded ('+' is a space); nullopt when absent.
  std::optional<std::string> query(std::string_view name) const;
  // A cookie from the Cookie header; nullopt when absent.
  std::optional<std::string> cookie(std::string_view name) const;
};

// A body sent from an open file, read as it is written out: a mailbox's
// export may be larger than a response should hold in memory. The
// descriptor closes with the last response that holds it.
struct FileBody {
  UniqueFd fd;
  std::uint64_t size = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string extra_headers;  // complete "Name: value\r\n" lines
  std::shared_ptr<const FileBody> file{};  // set: the body, instead of `body`
};

// {"error": reason} with the given status: every refusal says why.
Response json_error(int status, std::string_view reason);
// The same with Retry-After (seconds): the client may try again later.
Response retry_later(int status, std::string_view reason, int seconds = 10);

std::string_view reason_phrase(int status);
// The status line, the headers and `body`; a `file` body follows separately.
std::string serialise(const Response& response, bool keep_alive);

// Percent-decoding of a URL path segment or query value ('+' stays '+' unless plus_is_space).
std::string percent_decode(std::string_view text, bool plus_is_space = false);

}  // namespace umstore::http
