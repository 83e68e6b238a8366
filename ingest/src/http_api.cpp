#include "ingest/http_api.hpp"

#include <fmt/format.h>

#include <asio/thread_pool.hpp>

#include "common/log.hpp"
#include "gateway_endpoints.hpp"
#include "ingest/ingest_queue.hpp"

namespace umstore::ingest {
namespace {

// Answers that need no disk I/O; nullopt for the /v1 endpoints.
std::optional<HttpResponse> route_inline(const HttpRequest& request, const IngestQueue* queue) {
  const std::string_view path = request.path();
  if (path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD") return json_error(405, "use GET for /healthz");
    return HttpResponse{200, "application/json", R"({"status":"ok"})", {}};
  }
  if (path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") return json_error(405, "use GET for /metrics");
    if (!queue) return json_error(503, "the ingest queue is not running");
    return metrics_response(*queue);
  }
  if (path.starts_with("/v1/")) {
    if (!queue) return json_error(503, "the ingest queue is not running");
    return std::nullopt;
  }
  return json_error(404, fmt::format("no such resource: {}", path));
}

}  // namespace

struct HttpApi::Impl {
  HttpApiConfig config;
  IngestQueue* queue;
  std::shared_ptr<auth::LoginThrottle> throttle;
  std::optional<GatewayContext> gateway;
  // Submitting fsyncs and reads SQLite: kept off the I/O threads.
  asio::thread_pool blocking_pool{2};
  http::Server server;

  Impl(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig c, IngestQueue* q, const Router* router)
      : config(std::move(c)),
        queue(q),
        throttle(config.login_throttle ? config.login_throttle : std::make_shared<auth::LoginThrottle>()),
        server(io, where, config, [this](const HttpRequest& r) { return route(r); },
               [this](const HttpRequest& r) { return screen(r); }) {
    if (queue && router) gateway.emplace(GatewayContext{*queue, *router, config.gateway_tokens, config.issued_tokens.get(), config.gateway_callbacks,
                                                    config.gateway_endpoints});
  }
  ~Impl() { blocking_pool.join(); }

  // Before the body: a stranger's upload is refused unread, not buffered.
  net::Task<std::optional<HttpResponse>> screen(const HttpRequest& req) {
    if (!req.path().starts_with("/v1/")) co_return std::nullopt;
    if (throttle->refused(req.peer_address)) co_return http::retry_later(429, "too many unknown bearer tokens from your address");
    if (gateway_for(req, config.gateway_tokens, config.issued_tokens.get())) co_return std::nullopt;
    asio::steady_timer delay(co_await asio::this_coro::executor, throttle->record_failure(req.peer_address, {}));
    co_await delay.async_wait(net::use_nothrow);
    co_return unauthorised(config.gateway_tokens, config.issued_tokens.get());
  }

  net::Task<HttpResponse> route(const HttpRequest& request) {
    if (const auto probe = config.probes.find(request.path()); probe != config.probes.end()) {
      if (request.method != "GET" && request.method != "HEAD") co_return json_error(405, "use GET for " + probe->first);
      co_return co_await asio::co_spawn(
          blocking_pool, [&]() -> net::Task<HttpResponse> { co_return probe->second(); }, asio::use_awaitable);
    }
    if (auto inline_answer = route_inline(request, queue)) {
      // The program's metrics read the disk (free space, the SMTP queue).
      if (inline_answer->status == 200 && request.path() == "/metrics" && config.more_metrics)
        inline_answer->body += co_await asio::co_spawn(
            blocking_pool, [&]() -> net::Task<std::string> { co_return config.more_metrics(); }, asio::use_awaitable);
      co_return std::move(*inline_answer);
    }
    co_return co_await asio::co_spawn(
        blocking_pool,
        [&]() -> net::Task<HttpResponse> {
          try {
            co_return handle_gateway_request(request, request.path(), *gateway);
          } catch (const std::exception& e) {
            log(LogLevel::Error, "http", "{} {}: {}", request.method, request.target, e.what());
            co_return json_error(500, std::string("internal error: ") + e.what());
          }
        },
        asio::use_awaitable);
  }
};

HttpApi::HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), nullptr, nullptr)) {}
HttpApi::HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config, IngestQueue& queue,
                 const Router& router)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), &queue, &router)) {}
HttpApi::~HttpApi() = default;
void HttpApi::start() { impl_->server.start(); }
void HttpApi::stop() { impl_->server.stop(); }
net::tcp::endpoint HttpApi::local_endpoint() const { return impl_->server.local_endpoint(); }

}  // namespace umstore::ingest
