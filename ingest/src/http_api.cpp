#include "ingest/http_api.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <asio/thread_pool.hpp>
#include <charconv>

#include "common/log.hpp"
#include "gateway_endpoints.hpp"
#include "ingest/ingest_queue.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"

#include "common/ascii.hpp"

namespace umstore::ingest {
namespace {

constexpr int kRetryAfterSeconds = 10;
constexpr std::size_t kBodyBudget = 512u << 20;

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string serialise(const HttpResponse& r, bool keep_alive) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n{}\r\n{}",
                     r.status, reason_phrase(r.status), r.content_type, r.body.size(),
                     keep_alive ? "keep-alive" : "close", r.extra_headers, r.body);
}

std::string_view path_of(const HttpRequest& request) {
  std::string_view path = request.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  return path;
}

// Answers that need no disk I/O; nullopt for the /v1 endpoints.
std::optional<HttpResponse> route_inline(const HttpRequest& request, const IngestQueue* queue) {
  const std::string_view path = path_of(request);
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

HttpResponse retry_later(int status, std::string_view reason) {
  HttpResponse r = json_error(status, reason);
  r.extra_headers = fmt::format("Retry-After: {}\r\n", kRetryAfterSeconds);
  return r;
}

// Refused connections, and requests over a server-wide budget.
HttpResponse busy() { return retry_later(503, "the server is busy; retry later"); }

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  auto it = headers.find(ascii_lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

HttpResponse json_error(int status, std::string_view reason) {
  return {status, "application/json", nlohmann::json{{"error", reason}}.dump(), {}};
}

struct HttpApi::Impl {
  HttpApiConfig config;
  IngestQueue* queue;
  std::shared_ptr<auth::LoginThrottle> throttle;
  std::shared_ptr<net::MemoryBudget> body_budget;
  std::optional<GatewayContext> gateway;
  // Submitting fsyncs and reads SQLite: kept off the I/O threads.
  asio::thread_pool blocking_pool{2};
  net::Listener listener;

  Impl(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig c, IngestQueue* q, const Router* router)
      : config(std::move(c)),
        queue(q),
        throttle(config.login_throttle ? config.login_throttle : std::make_shared<auth::LoginThrottle>()),
        body_budget(config.body_budget ? config.body_budget : std::make_shared<net::MemoryBudget>(kBodyBudget)),
        listener(io, where, "http", [this](net::tcp::socket s) { return serve(std::move(s)); }, config.max_connections) {
    listener.limit_per_address(config.max_connections_per_address);
    listener.refuse_with(serialise(busy(), false));
    if (queue && router) gateway.emplace(GatewayContext{*queue, *router, config.gateway_tokens, config.gateway_callbacks});
  }
  ~Impl() { blocking_pool.join(); }

  net::Task<HttpResponse> route(const HttpRequest& request, const ConnectionLog& request_log) {
    if (const auto probe = config.probes.find(path_of(request)); probe != config.probes.end()) {
      if (request.method != "GET" && request.method != "HEAD") co_return json_error(405, "use GET for " + probe->first);
      co_return co_await asio::co_spawn(
          blocking_pool, [&]() -> net::Task<HttpResponse> { co_return probe->second(); }, asio::use_awaitable);
    }
    if (auto inline_answer = route_inline(request, queue)) {
      // The program's metrics read the disk (free space, the SMTP queue).
      if (inline_answer->status == 200 && path_of(request) == "/metrics" && config.more_metrics)
        inline_answer->body += co_await asio::co_spawn(
            blocking_pool, [&]() -> net::Task<std::string> { co_return config.more_metrics(); }, asio::use_awaitable);
      co_return std::move(*inline_answer);
    }
    const std::string_view path = path_of(request);
    co_return co_await asio::co_spawn(
        blocking_pool,
        [&]() -> net::Task<HttpResponse> {
          try {
            co_return handle_gateway_request(request, path, *gateway);
          } catch (const std::exception& e) {
            request_log(LogLevel::Error, "{} {}: {}", request.method, request.target, e.what());
            co_return json_error(500, std::string("internal error: ") + e.what());
          }
        },
        asio::use_awaitable);
  }

  // Reads one request, its body held against `held`; nullopt when the
  // connection ended, or a response to send (and then close) when the
  // request is unacceptable.
  net::Task<std::variant<std::monostate, HttpRequest, HttpResponse>> read_request(net::Connection& conn,
                                                                                  net::MemoryReservation& held) {
    auto first = co_await conn.read_line();
    if (first.status == net::LineResult::Status::Closed) co_return std::monostate{};
    if (first.status == net::LineResult::Status::TooLong) co_return json_error(431, "request line too long");
    HttpRequest req;
    std::string_view line = first.line;
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1 || !line.substr(sp2 + 1).starts_with("HTTP/1."))
      co_return json_error(400, "malformed request line");
    req.method = std::string(line.substr(0, sp1));
    req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    // The header fields as a whole, not each line, so a trickle cannot hold the connection.
    conn.set_deadline(net::Connection::Clock::now() + config.header_timeout);
    std::size_t header_bytes = line.size();
    for (;;) {
      auto h = co_await conn.read_line();
      if (h.status == net::LineResult::Status::Closed) co_return std::monostate{};
      header_bytes += h.line.size();
      if (h.status == net::LineResult::Status::TooLong || header_bytes > config.max_header_bytes || req.headers.size() > 100)
        co_return json_error(431, "request headers too large");
      if (h.line.empty()) break;
      auto colon = h.line.find(':');
      if (colon == std::string_view::npos || colon == 0) co_return json_error(400, "malformed header field");
      req.headers[ascii_lower(h.line.substr(0, colon))] = std::string(trim_blanks(h.line.substr(colon + 1)));
    }
    if (req.header("transfer-encoding")) co_return json_error(501, "chunked request bodies are not supported; send Content-Length");
    // Before the body: a stranger's upload is refused unread, not buffered.
    if (path_of(req).starts_with("/v1/")) {
      const std::string address = conn.peer_address();
      if (throttle->refused(address)) co_return retry_later(429, "too many unknown bearer tokens from your address");
      if (!gateway_for(req, config.gateway_tokens)) {
        asio::steady_timer delay(conn.executor(), throttle->record_failure(address, {}));
        co_await delay.async_wait(net::use_nothrow);
        co_return unauthorised(config.gateway_tokens);
      }
    }
    if (auto len = req.header("content-length")) {
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(len->data(), len->data() + len->size(), n);
      if (ec != std::errc{} || p != len->data() + len->size()) co_return json_error(400, "bad Content-Length");
      if (n > config.max_body_bytes)
        co_return json_error(413, fmt::format("body of {} bytes exceeds the limit of {} bytes", n, config.max_body_bytes));
      if (!held.cover(n)) co_return busy();
      req.body.reserve(n);  // recordings are megabytes: no regrowing copies
      conn.clear_deadline();  // the body has its own budget: read_exact's minimum rate
      const bool complete = co_await conn.read_exact(n, req.body);
      if (!complete) co_return std::monostate{};
    }
    co_return req;
  }

  net::Task<void> serve(net::tcp::socket socket) {
    net::Connection conn(std::move(socket), 8192);
    conn.set_idle_timeout(std::chrono::seconds(60));
    conn.set_line_timeout(config.header_timeout);  // the request line
    for (;;) {
      net::MemoryReservation held(body_budget);
      auto got = co_await read_request(conn, held);
      conn.clear_deadline();
      if (std::holds_alternative<std::monostate>(got)) co_return;
      if (auto* refusal = std::get_if<HttpResponse>(&got)) {
        co_await conn.write(serialise(*refusal, false));
        co_await conn.close_after_reply();
        co_return;
      }
      const auto& req = std::get<HttpRequest>(got);
      const ConnectionLog request_log("http", 'h');
      HttpResponse resp = co_await route(req, request_log);
      bool keep_alive = ascii_lower(req.header("connection").value_or("")) != "close";
      request_log(LogLevel::Info, "peer={} {} {} -> {}", conn.peer(), req.method, req.target, resp.status);
      if (req.method == "HEAD") resp.body.clear();
      co_await conn.write(serialise(resp, keep_alive));
      if (!keep_alive) co_return;
    }
  }
};

HttpApi::HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), nullptr, nullptr)) {}
HttpApi::HttpApi(asio::io_context& io, const net::tcp::endpoint& where, HttpApiConfig config, IngestQueue& queue,
                 const Router& router)
    : impl_(std::make_unique<Impl>(io, where, std::move(config), &queue, &router)) {}
HttpApi::~HttpApi() = default;
void HttpApi::start() { impl_->listener.start(); }
void HttpApi::stop() { impl_->listener.stop(); }
net::tcp::endpoint HttpApi::local_endpoint() const { return impl_->listener.local_endpoint(); }

}  // namespace umstore::ingest
