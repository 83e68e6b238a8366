#include "faxout/fax_out_api.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/rfc5322_date.hpp"
#include "ingest/multipart.hpp"
#include "faxout/fax_status.hpp"

namespace umstore::faxout {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 4096;  // the text field may be a short letter
constexpr std::size_t kMaxParts = 32;

http::Response json_response(int status, const json& body) {
  return {status, "application/json", body.dump(), {}};
}

http::Response submit(const http::Request& request, const std::string& gateway, std::string_view gateway_callback,
                      Outbox& outbox) {
  const auto boundary = ingest::form_boundary(request.header("content-type").value_or(""));
  if (!boundary)
    return http::json_error(415, "send multipart/form-data: a 'to' field and the documents as file parts");
  FaxRequest fax;
  fax.gateway = gateway;
  fax.idempotency_key = std::string(request.header("idempotency-key").value_or(""));
  if (fax.idempotency_key.size() > 255) return http::json_error(400, "Idempotency-Key is longer than 255 characters");
  fax.callback_url = std::string(request.header("x-umstore-callback-url").value_or(""));
  std::vector<ingest::FormPart> form;
  try {
    form = ingest::parse_form(request.body, *boundary, kMaxParts);
  } catch (const ingest::MalformedForm& e) {
    return http::json_error(400, e.what());
  }
  for (const auto& part : form) {
    if (!part.filename.empty()) {
      fax.parts.push_back({part.filename, part.data, part.content_type.starts_with("text/plain")});
      continue;
    }
    if (part.data.size() > kMaxFieldBytes) return http::json_error(400, "form field '" + part.name + "' is too long");
    const std::string value(part.data);
    if (part.name == "to") fax.number = value;
    else if (part.name == "sub_address") fax.sub_address = value;
    else if (part.name == "from") fax.cover.from = value;
    else if (part.name == "subject") fax.cover.subject = value;
    else if (part.name == "callback_url") fax.callback_url = value;
    else if (part.name == "text") fax.parts.insert(fax.parts.begin(), DocumentPart{"text", part.data, true});
    else
      return http::json_error(400, "unknown form field '" + part.name +
                                       "' (to, sub_address, from, subject, text, callback_url)");
  }
  if (fax.number.empty()) return http::json_error(400, "the form has no 'to' field (the number to fax)");
  if (!std::all_of(fax.sub_address.begin(), fax.sub_address.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return http::json_error(400, "sub_address takes digits only (T.33)");
  if (fax.callback_url.empty()) fax.callback_url = gateway_callback;
  if (!fax.callback_url.empty() && !fax.callback_url.starts_with("http://") && !fax.callback_url.starts_with("https://"))
    return http::json_error(400, "callback_url must be an http:// or https:// URL");
  if (fax.callback_url.size() > 2048) return http::json_error(400, "callback_url is longer than 2048 characters");
  fax.cover.date = format_rfc5322_date(Clock::now());
  const auto outcome = outbox.submit_request(fax);
  if (outcome.status >= 400) return http::json_error(outcome.status, outcome.error);
  json body = status_json(outcome.job);
  if (outcome.duplicate) body["duplicate"] = true;
  auto response = json_response(outcome.status, body);
  response.extra_headers = "Location: /v1/fax-out/" + outcome.job.id + "\r\n";
  return response;
}

}  // namespace

http::Response handle_fax_out_request(const http::Request& request, std::string_view path, const std::string& gateway,
                                      std::string_view gateway_callback, Outbox& outbox) {
  if (path == "/v1/fax-out") {
    if (request.method != "POST") return http::json_error(405, "use POST for /v1/fax-out");
    return submit(request, gateway, gateway_callback, outbox);
  }
  if (request.method != "GET" && request.method != "HEAD") return http::json_error(405, "use GET for /v1/fax-out/{id}");
  const std::string id(path.substr(std::string_view("/v1/fax-out/").size()));
  const auto job = outbox.jobs().find(id);
  // An application sees only the faxes it asked for.
  if (!job || job->source != "http:" + gateway) return http::json_error(404, "no fax with id " + id);
  return json_response(200, status_json(*job));
}

}  // namespace umstore::faxout
