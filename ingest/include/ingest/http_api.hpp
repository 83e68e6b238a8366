#pragma once
// The HTTP side of ingest (gateways POST recordings here) plus health and
// metrics endpoints. HTTP/1.1 with keep-alive; every size is bounded.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/task.hpp"

namespace umstore::ingest {


class IngestQueue;
class Router;

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string extra_headers;  // complete "Name: value\r\n" lines
};

struct HttpApiConfig {
  std::size_t max_connections = 1000;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64u << 20;
  // Bearer token -> gateway name. POST /v1/* and GET /v1/messages/* need
  // one; with none configured those endpoints refuse every request.
  std::map<std::string, std::string> gateway_tokens;
  // Gateway name -> webhook URL for final statuses when a POST names no callback_url.
  std::map<std::string, std::string> gateway_callbacks;
  // Checks the program adds, by path (GET /healthz, GET /readyz), run off
  // the I/O threads since they may touch the disk. Without a /healthz
  // check, /healthz answers 200 {"status":"ok"}.
  std::map<std::string, std::function<HttpResponse()>, std::less<>> probes;
  // Prometheus text appended to GET /metrics (metrics of the program's own).
  std::function<std::string()> more_metrics;
};

// {"error": reason} with the given status: every refusal says why.
HttpResponse json_error(int status, std::string_view reason);

class HttpApi {
 public:
  // Health only: the /v1 endpoints answer 503.
  HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config);
  // Gateway ingest: POST /v1/voicemail, POST /v1/fax, GET /v1/messages/{id}, GET /metrics.
  HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config, IngestQueue& queue,
          const Router& router);
  ~HttpApi();
  void start();
  void stop();
  net::tcp::endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace umstore::ingest
