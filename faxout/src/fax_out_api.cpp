#include "faxout/fax_out_api.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/rfc5322_date.hpp"
#include "ingest/multipart.hpp"

namespace umstore::faxout {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 4096;  // the text field may be a short letter
constexpr std::size_t kMaxParts = 32;

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// What a job says to the application that asked for it.
json status_json(const FaxJob& job) {
  std::string status(to_string(job.state));
  if (job.state == JobState::pending) status = job.attempts == 0 ? "queued" : "retrying";
  json body = {{"id", job.id},       {"status", status},     {"number", job.number},
               {"pages", job.pages}, {"attempts", job.attempts}, {"status_url", "/v1/fax-out/" + job.id}};
  if (!job.sub_address.empty()) body["sub_address"] = job.sub_address;
  if (job.state == JobState::pending) body["next_attempt"] = unix_seconds(job.next_attempt);
  if (!job.relayed_to.empty()) body["relayed_to"] = job.relayed_to;
  if (const auto& c = job.last_call) {
    body["last_call"] = {{"outcome", c->outcome},         {"sip_status", c->sip_status},
                         {"sip_reason", c->sip_reason},   {"t30_result", c->t30_result},
                         {"pages_sent", c->pages_sent},   {"remote_station", c->remote_station},
                         {"duration_seconds", c->duration.count() / 1000.0},
                         {"transport", c->t38 ? "T.38" : "G.711"}, {"at", unix_seconds(c->at)}};
  }
  return body;
}

http::Response json_response(int status, const json& body) {
  return {status, "application/json", body.dump(), {}};
}

http::Response submit(const http::Request& request, const std::string& gateway, Outbox& outbox) {
  const auto boundary = ingest::form_boundary(request.header("content-type").value_or(""));
  if (!boundary)
    return http::json_error(415, "send multipart/form-data: a 'to' field and the documents as file parts");
  FaxRequest fax;
  fax.gateway = gateway;
  fax.idempotency_key = std::string(request.header("idempotency-key").value_or(""));
  if (fax.idempotency_key.size() > 255) return http::json_error(400, "Idempotency-Key is longer than 255 characters");
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
    else if (part.name == "text") fax.parts.insert(fax.parts.begin(), DocumentPart{"text", part.data, true});
    else return http::json_error(400, "unknown form field '" + part.name + "' (to, sub_address, from, subject, text)");
  }
  if (fax.number.empty()) return http::json_error(400, "the form has no 'to' field (the number to fax)");
  if (!std::all_of(fax.sub_address.begin(), fax.sub_address.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return http::json_error(400, "sub_address takes digits only (T.33)");
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
                                      Outbox& outbox) {
  if (path == "/v1/fax-out") {
    if (request.method != "POST") return http::json_error(405, "use POST for /v1/fax-out");
    return submit(request, gateway, outbox);
  }
  if (request.method != "GET" && request.method != "HEAD") return http::json_error(405, "use GET for /v1/fax-out/{id}");
  const std::string id(path.substr(std::string_view("/v1/fax-out/").size()));
  const auto job = outbox.jobs().find(id);
  // An application sees only the faxes it asked for.
  if (!job || job->source != "http:" + gateway) return http::json_error(404, "no fax with id " + id);
  return json_response(200, status_json(*job));
}

}  // namespace umstore::faxout
