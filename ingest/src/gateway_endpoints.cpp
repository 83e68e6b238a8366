#include "gateway_endpoints.hpp"

#include "mailstore/folder.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "common/metrics_text.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/multipart.hpp"
#include "ingest/recording_metadata.hpp"
#include "ingest/routing.hpp"
#include "status_json.hpp"

namespace umstore::ingest {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 1024;

// Metadata from form fields, or from X-Umstore-* headers for a raw body.
struct Submission {
  RecordingMetadata metadata;
  std::string file_name;
  std::string_view file;
  std::string callback_url;
};

Submission from_form(const HttpRequest& request, const std::string& boundary) {
  Submission s;
  bool have_file = false;
  json fields = json::object();
  for (const auto& part : parse_form(request.body, boundary)) {
    if (!part.filename.empty() || part.name == "file") {
      if (have_file) throw MalformedForm("send exactly one file part");
      have_file = true;
      s.file = part.data;
      s.file_name = part.filename.empty() ? "upload" : part.filename;
    } else {
      if (part.data.size() > kMaxFieldBytes) throw MalformedForm("form field '" + part.name + "' is too long");
      fields[part.name] = std::string(part.data);
    }
  }
  if (!have_file) throw MalformedForm("the form has no file part (name it 'file')");
  if (fields.contains("callback_url")) s.callback_url = fields["callback_url"].get<std::string>();
  fields.erase("callback_url");
  s.metadata = parse_metadata(fields);
  return s;
}

Submission from_headers(const HttpRequest& request) {
  Submission s;
  json fields = json::object();
  for (const auto* name : {"to", "from", "caller-name", "received-at"}) {
    if (auto v = request.header(std::string("x-umstore-") + name)) {
      std::string key = name;
      std::replace(key.begin(), key.end(), '-', '_');
      fields[key] = std::string(*v);
    }
  }
  s.metadata = parse_metadata(fields);
  s.file = request.body;
  s.file_name = std::string(request.header("x-umstore-file-name").value_or("upload"));
  s.callback_url = std::string(request.header("x-umstore-callback-url").value_or(""));
  return s;
}

HttpResponse submit(const HttpRequest& request, Kind kind, const std::string& gateway, GatewayContext& context) {
  Submission s;
  try {
    const auto boundary = form_boundary(request.header("content-type").value_or(""));
    s = boundary ? from_form(request, *boundary) : from_headers(request);
  } catch (const MalformedForm& e) {
    return json_error(400, e.what());
  } catch (const InvalidMetadata& e) {
    return json_error(400, e.what());
  }
  if (s.file.empty()) return json_error(400, "the recording is empty");
  if (auto problem = unsupported_format(kind, s.file)) return json_error(415, *problem);
  if (!s.callback_url.empty() && !s.callback_url.starts_with("http://") && !s.callback_url.starts_with("https://"))
    return json_error(400, "callback_url must be an http:// or https:// URL");
  if (s.callback_url.size() > 2048) return json_error(400, "callback_url is longer than 2048 characters");
  if (s.callback_url.empty()) {
    if (auto fallback = context.callbacks.find(gateway); fallback != context.callbacks.end())
      s.callback_url = fallback->second;
  }
  const std::string key(request.header("idempotency-key").value_or(""));
  if (key.size() > 255) return json_error(400, "Idempotency-Key is longer than 255 characters");

  Route route;
  try {
    route = context.router.route(s.metadata.to);
  } catch (const UnroutableNumber& e) {
    return json_error(422, e.what());
  }
  // A repeated submission answers with its job whatever the mailbox holds now.
  const bool repeated = !key.empty() && context.queue.find("http:" + gateway, key);
  if (auto full = repeated || route.by_enum ? std::nullopt : context.queue.quota_refusal(route.mailbox, kind))
    return {507, "application/json", json{{"error", *full}, {"reason", "over_quota"}, {"mailbox", route.mailbox}}.dump(), {}};
  Recording recording = make_recording(kind, s.metadata, route, s.file_name, s.file);
  SubmitOptions options;
  options.source = "http:" + gateway;
  options.idempotency_key = key;
  options.callback_url = s.callback_url;
  const SubmitResult result = context.queue.submit(recording, options);
  const auto status = context.queue.status(result.id);
  json body = status ? status_json(*status) : json{{"id", result.id}, {"status", "queued"}};
  body["status_url"] = "/v1/messages/" + result.id;
  if (result.duplicate) body["duplicate"] = true;
  HttpResponse r{202, "application/json", body.dump(), {}};
  r.extra_headers = "Location: /v1/messages/" + result.id + "\r\n";
  return r;
}

HttpResponse message_status(std::string_view id, const std::string& gateway, GatewayContext& context) {
  const auto status = context.queue.status(id);
  // A gateway sees only what it submitted (HTTP), plus spool and import jobs.
  if (!status || (status->source.starts_with("http:") && status->source != "http:" + gateway))
    return json_error(404, fmt::format("no message with id {}", id));
  return {200, "application/json", status_json(*status).dump(), {}};
}

}  // namespace

// Constant-time comparison so a token cannot be guessed byte by byte.
std::optional<std::string> gateway_for(const HttpRequest& request, const std::map<std::string, std::string>& tokens,
                                       const auth::GatewayTokens* issued) {
  const auto auth = request.header("authorization");
  if (!auth || !auth->starts_with("Bearer ")) return std::nullopt;
  const std::string_view token = auth->substr(7);
  for (const auto& [known, gateway] : tokens)
    if (known.size() == token.size() && sodium_memcmp(known.data(), token.data(), token.size()) == 0) return gateway;
  return issued ? issued->gateway_for(token) : std::nullopt;
}

HttpResponse unauthorised(const std::map<std::string, std::string>& tokens, const auth::GatewayTokens* issued) {
  auto r = json_error(401, tokens.empty() && (!issued || issued->empty())
                               ? "no gateway tokens are configured ([gateways] in the config file, or the admin console)"
                               : "missing or unknown bearer token (Authorization: Bearer TOKEN)");
  r.extra_headers = "WWW-Authenticate: Bearer realm=\"umstore\"\r\n";
  return r;
}

HttpResponse handle_gateway_request(const HttpRequest& request, std::string_view path, GatewayContext& context) {
  const auto gateway = gateway_for(request, context.tokens, context.issued);
  if (!gateway) return unauthorised(context.tokens, context.issued);
  // The queue or the accounts cannot be reached (a disk, the database during
  // a failover): nothing was accepted, and the gateway may try again.
  try {
    if (path == "/v1/voicemail" || path == "/v1/fax") {
      if (request.method != "POST") return json_error(405, fmt::format("use POST for {}", path));
      return submit(request, path == "/v1/fax" ? Kind::Fax : Kind::Voice, *gateway, context);
    }
    if (path.starts_with("/v1/messages/")) {
      if (request.method != "GET" && request.method != "HEAD") return json_error(405, "use GET for /v1/messages/{id}");
      return message_status(path.substr(13), *gateway, context);
    }
    for (const auto& [prefix, endpoint] : context.more)
      if (path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/')) return endpoint(request, path, *gateway);
  } catch (const IngestQueueError& e) {
    return json_error(503, std::string(e.what()) + "; retry later");
  } catch (const mailstore::TemporaryFailure& e) {
    return json_error(503, std::string(e.what()) + "; retry later");
  }
  return json_error(404, fmt::format("no such resource: {}", path));
}

HttpResponse metrics_response(const IngestQueue& queue) {
  const IngestCounters c = queue.counters();
  std::string out;
  append_metric(out, "umstore_ingest_accepted_total", MetricType::Counter, "Recordings accepted into the ingest queue.", c.accepted);
  append_metric(out, "umstore_ingest_duplicates_total", MetricType::Counter,
                "Submissions answered from an earlier one (Idempotency-Key).", c.duplicates);
  append_metric(out, "umstore_ingest_delivered_total", MetricType::Counter, "Messages delivered to a mailbox.", c.delivered);
  append_metric(out, "umstore_ingest_failed_total", MetricType::Counter, "Recordings that failed for good.", c.failed);
  append_metric(out, "umstore_ingest_queue_depth", MetricType::Gauge, "Jobs waiting or in progress.", c.depth);
  append_metric(out, "umstore_ingest_webhooks_sent_total", MetricType::Counter, "Webhooks a receiver answered with 2xx.",
                c.webhooks_sent);
  append_metric(out, "umstore_ingest_webhook_failures_total", MetricType::Counter,
                "Webhook attempts that failed (each retry counts).", c.webhooks_failed);
  append_metric(out, "umstore_ingest_webhooks_pending", MetricType::Gauge, "Webhooks waiting for a (re)try.", c.webhooks_pending);
  append_histogram(out, "umstore_ingest_latency_seconds", "From accept to delivery.", c.latency_bounds,
                   c.latency_buckets, c.latency_count, c.latency_sum);
  return {200, std::string(kMetricsContentType), out, {}};
}

}  // namespace umstore::ingest
