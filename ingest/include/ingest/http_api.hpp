#pragma once
// The HTTP side of ingest (gateways POST recordings here) plus health and
// metrics endpoints, on the shared HTTP/1.1 server (http/server.hpp).
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/gateway_tokens.hpp"
#include "auth/login_throttle.hpp"
#include "http/server.hpp"
#include "net/memory_budget.hpp"
#include "net/task.hpp"

namespace umstore::ingest {


class IngestQueue;
class Router;

using HttpRequest = http::Request;
using HttpResponse = http::Response;
using http::json_error;

// The server's limits (connections, header size and time, body size and
// budget: http::ServerConfig) and what the gateway endpoints need.
struct HttpApiConfig : http::ServerConfig {
  // Bearer token -> gateway name. POST /v1/* and GET /v1/messages/* need
  // one; with none configured those endpoints refuse every request.
  std::map<std::string, std::string> gateway_tokens;
  // Tokens an admin issued in the console (kept hashed), checked after
  // those; unset: none.
  std::shared_ptr<const auth::GatewayTokens> issued_tokens;
  // Failed bearer tokens, by client address; shared with the other
  // listeners. Unset: the server's own with default limits.
  std::shared_ptr<auth::LoginThrottle> login_throttle;
  // Gateway name -> webhook URL for final statuses when a POST names no callback_url.
  std::map<std::string, std::string> gateway_callbacks;
  // Checks the program adds, by path (GET /healthz, GET /readyz), run off
  // the I/O threads since they may touch the disk. Without a /healthz
  // check, /healthz answers 200 {"status":"ok"}.
  std::map<std::string, std::function<HttpResponse()>, std::less<>> probes;
  // Prometheus text appended to GET /metrics (metrics of the program's own).
  std::function<std::string()> more_metrics;
  // More /v1 endpoints the program adds, by path prefix ("/v1/fax-out"):
  // called after the bearer token named `gateway`, on the blocking pool.
  using GatewayEndpoint = std::function<HttpResponse(const HttpRequest&, std::string_view path, const std::string& gateway)>;
  std::map<std::string, GatewayEndpoint, std::less<>> gateway_endpoints;
};

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
