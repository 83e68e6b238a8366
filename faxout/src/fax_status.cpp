#include "faxout/fax_status.hpp"

namespace umstore::faxout {
namespace {

using nlohmann::json;

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

nlohmann::json status_json(const FaxJob& job) {
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

}  // namespace umstore::faxout
