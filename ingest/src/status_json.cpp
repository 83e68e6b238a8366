#include "status_json.hpp"

#include <fmt/format.h>

#include <ctime>

#include "queued_job.hpp"

namespace umstore::ingest {
namespace {

std::string iso_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

}  // namespace

nlohmann::json status_json(const IngestStatus& s) {
  nlohmann::json j = {{"id", s.id},
                      {"status", state_name(s.state)},
                      {"kind", kind_name(s.kind)},
                      {"mailbox", s.mailbox},
                      {"accepted_at", iso_time(s.accepted_ms)}};
  if (!s.reason.empty()) j["reason"] = s.reason;
  if (s.uid != 0) j["imap_uid"] = s.uid;
  if (s.finished_ms != 0) j["finished_at"] = iso_time(s.finished_ms);
  if (!s.forwarded_to.empty()) j["forwarded_to"] = s.forwarded_to;
  if (!s.dsn.empty()) {
    nlohmann::json dsn = {{"action", s.dsn.action}, {"status", s.dsn.status}};
    if (!s.dsn.diagnostic_code.empty()) dsn["diagnostic_code"] = s.dsn.diagnostic_code;
    if (!s.dsn.final_recipient.empty()) dsn["final_recipient"] = s.dsn.final_recipient;
    if (!s.dsn.remote_mta.empty()) dsn["remote_mta"] = s.dsn.remote_mta;
    j["dsn"] = std::move(dsn);
  }
  return j;
}

}  // namespace umstore::ingest
