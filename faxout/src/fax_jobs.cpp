#include "faxout/fax_jobs.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

#include "common/durable_file.hpp"
#include "common/log.hpp"

namespace umstore::faxout {
namespace {

using nlohmann::json;

std::int64_t to_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
Clock::time_point from_seconds(std::int64_t s) { return Clock::time_point(std::chrono::seconds(s)); }

JobState state_from(std::string_view name) {
  if (name == "sent") return JobState::sent;
  if (name == "failed") return JobState::failed;
  if (name == "relayed") return JobState::relayed;
  return JobState::pending;
}

json to_json(const CallReport& c) {
  return {{"outcome", c.outcome},       {"sip_status", c.sip_status},         {"sip_reason", c.sip_reason},
          {"t30_result", c.t30_result}, {"pages_sent", c.pages_sent},         {"remote_station", c.remote_station},
          {"duration_ms", c.duration.count()}, {"t38", c.t38},                {"at", to_seconds(c.at)}};
}

CallReport call_from(const json& j) {
  CallReport c;
  c.outcome = j.value("outcome", "");
  c.sip_status = j.value("sip_status", 0);
  c.sip_reason = j.value("sip_reason", "");
  c.t30_result = j.value("t30_result", "");
  c.pages_sent = j.value("pages_sent", 0u);
  c.remote_station = j.value("remote_station", "");
  c.duration = std::chrono::milliseconds(j.value("duration_ms", std::int64_t{0}));
  c.t38 = j.value("t38", false);
  c.at = from_seconds(j.value("at", std::int64_t{0}));
  return c;
}

}  // namespace

std::string_view to_string(JobState state) noexcept {
  switch (state) {
    case JobState::pending: return "pending";
    case JobState::sent: return "sent";
    case JobState::failed: return "failed";
    case JobState::relayed: return "relayed";
  }
  return "pending";
}

std::string serialise_job(const FaxJob& job) {
  json j = {{"id", job.id},         {"source", job.source},     {"idempotency_key", job.idempotency_key},
            {"relayed_to", job.relayed_to}, {"smtp_id", job.smtp_id}, {"sender", job.sender},
            {"user", job.user},     {"address", job.address},   {"orcpt", job.orcpt},
            {"notify", smtp::format_notify(job.notify)},         {"ret", job.ret},
            {"envid", job.envid},   {"received_from", job.received_from},
            {"number", job.number}, {"sub_address", job.sub_address},
            {"pages", job.pages},   {"state", to_string(job.state)},
            {"attempts", job.attempts}, {"arrival", to_seconds(job.arrival)},
            {"next_attempt", to_seconds(job.next_attempt)}};
  if (!job.callback_url.empty()) j["callback_url"] = job.callback_url;
  if (job.last_call) j["last_call"] = to_json(*job.last_call);
  return j.dump(1) + "\n";
}

FaxJob parse_job(std::string_view text) {
  const json j = json::parse(text);
  FaxJob job;
  job.id = j.at("id").get<std::string>();
  job.source = j.value("source", "smtp");
  job.idempotency_key = j.value("idempotency_key", "");
  job.relayed_to = j.value("relayed_to", "");
  job.smtp_id = j.value("smtp_id", "");
  job.sender = j.value("sender", "");
  job.user = j.value("user", "");
  job.address = j.at("address").get<std::string>();
  job.orcpt = j.value("orcpt", "");
  job.notify = smtp::parse_notify(j.value("notify", "")).value_or(smtp::NotifyRequest{});
  job.ret = j.value("ret", "");
  job.envid = j.value("envid", "");
  job.received_from = j.value("received_from", "");
  job.number = j.at("number").get<std::string>();
  job.sub_address = j.value("sub_address", "");
  job.pages = j.value("pages", 0u);
  job.state = state_from(j.value("state", "pending"));
  job.attempts = j.value("attempts", 0u);
  job.arrival = from_seconds(j.value("arrival", std::int64_t{0}));
  job.next_attempt = from_seconds(j.value("next_attempt", std::int64_t{0}));
  job.callback_url = j.value("callback_url", "");
  if (j.contains("last_call")) job.last_call = call_from(j.at("last_call"));
  return job;
}

FileFaxJobs::FileFaxJobs(std::filesystem::path directory) : directory_(std::move(directory)) {
  create_directories_durably(directory_);
}

std::filesystem::path FileFaxJobs::path(std::string_view id, std::string_view extension) const {
  return directory_ / (std::string(id) + std::string(extension));
}

void FileFaxJobs::add(const FaxJob& job, std::string_view tiff, std::string_view message) {
  if (!smtp::is_queue_id(job.id)) throw std::invalid_argument("fax job id " + job.id + " is not a queue id");
  replace_file_durably(path(job.id, ".tif"), tiff);
  replace_file_durably(path(job.id, ".eml"), message);
  replace_file_durably(path(job.id, ".json"), serialise_job(job));
}

void FileFaxJobs::update(const FaxJob& job) { replace_file_durably(path(job.id, ".json"), serialise_job(job)); }

void FileFaxJobs::remove(std::string_view id) {
  std::error_code ec;
  // The job first: a crash in between leaves pages without a job, which remove_orphans() clears.
  std::filesystem::remove(path(id, ".json"), ec);
  std::filesystem::remove(path(id, ".tif"), ec);
  std::filesystem::remove(path(id, ".eml"), ec);
  fsync_directory(directory_);
}

std::vector<FaxJob> FileFaxJobs::take() { return list(std::numeric_limits<std::size_t>::max()); }

std::vector<FaxJob> FileFaxJobs::list(std::size_t limit) const {
  std::vector<FaxJob> jobs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const auto name = entry.path().filename().string();
    const auto dot = name.find('.');
    if (dot == std::string::npos || !smtp::is_queue_id(name.substr(0, dot))) continue;
    const std::string id = name.substr(0, dot), extension = name.substr(dot);
    if (extension == ".json") {
      try {
        jobs.push_back(parse_job(read_file(entry.path())));
      } catch (const std::exception& e) {
        log(LogLevel::Error, "fax", "job {} is damaged ({}): left in {}", id, e.what(), directory_.string());
      }
    }
  }
  std::sort(jobs.begin(), jobs.end(), [](const FaxJob& a, const FaxJob& b) { return a.id < b.id; });
  if (jobs.size() > limit) jobs.resize(limit);
  return jobs;
}

void FileFaxJobs::remove_orphans() {
  std::error_code ec;
  std::vector<std::filesystem::path> orphans;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const auto name = entry.path().filename().string();
    const auto dot = name.find('.');
    if (dot == std::string::npos || !smtp::is_queue_id(name.substr(0, dot))) continue;
    const std::string extension = name.substr(dot);
    if ((extension == ".tif" || extension == ".eml") && !std::filesystem::exists(path(name.substr(0, dot), ".json")))
      orphans.push_back(entry.path());
  }
  for (const auto& orphan : orphans) std::filesystem::remove(orphan, ec);
}

std::optional<FaxJob> FileFaxJobs::find(std::string_view id) const {
  if (!smtp::is_queue_id(id)) return std::nullopt;
  // A job archived meanwhile is gone from the first place and found in the second.
  for (const auto& file : {path(id, ".json"), record(id)}) {
    std::string text;
    try {
      text = read_file(file);
    } catch (const IoError&) {
      continue;
    }
    return parse_job(text);
  }
  return std::nullopt;
}

std::filesystem::path FileFaxJobs::record(std::string_view id) const { return directory_ / "done" / (std::string(id) + ".json"); }

std::filesystem::path FileFaxJobs::webhook(std::string_view id) const {
  return directory_ / "webhooks" / (std::string(id) + ".json");
}

void FileFaxJobs::archive(const FaxJob& job) {
  // The webhook first: a crash before the record is written leaves the job
  // to end again, and the webhook waits for that (FaxWebhooks skips a job
  // still pending); the other way round a crash would lose the webhook.
  if (!job.callback_url.empty()) {
    create_directories_durably(directory_ / "webhooks");
    replace_file_durably(webhook(job.id), json{{"url", job.callback_url}, {"attempts", 0}, {"next_ms", 0}}.dump() + "\n");
  }
  create_directories_durably(directory_ / "done");
  replace_file_durably(record(job.id), serialise_job(job));
  remove(job.id);
}

// One thread sends webhooks on one node: nothing to claim against.
std::optional<OwedWebhook> FileFaxJobs::next_webhook(std::chrono::milliseconds) {
  std::error_code ec;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  for (const auto& entry : std::filesystem::directory_iterator(directory_ / "webhooks", ec)) {
    const auto id = entry.path().stem().string();
    if (entry.path().extension() != ".json" || !smtp::is_queue_id(id)) continue;
    try {
      const json j = json::parse(read_file(entry.path()));
      if (j.value("next_ms", std::int64_t{0}) <= now)
        return OwedWebhook{id, j.at("url").get<std::string>(), j.value("attempts", 0u)};
    } catch (const std::exception& e) {
      // Set aside, so it is reported once and not at every poll.
      const auto aside = entry.path().string() + ".damaged";
      log(LogLevel::Error, "fax", "webhook {} is damaged ({}): kept as {}", id, e.what(), aside);
      std::filesystem::rename(entry.path(), aside, ec);
    }
  }
  return std::nullopt;
}

void FileFaxJobs::webhook_attempted(std::string_view id, unsigned attempts, std::optional<Clock::time_point> retry_at) {
  if (!retry_at) {
    std::error_code ec;
    std::filesystem::remove(webhook(id), ec);
    fsync_directory(directory_ / "webhooks");
    return;
  }
  const auto owed = json::parse(read_file(webhook(id)));
  const auto next = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at->time_since_epoch()).count();
  replace_file_durably(webhook(id), json{{"url", owed.at("url")}, {"attempts", attempts}, {"next_ms", next}}.dump() + "\n");
}

void FileFaxJobs::expire_archive(std::chrono::seconds age) {
  std::error_code ec;
  const auto cutoff = std::filesystem::file_time_type::clock::now() - age;
  std::vector<std::filesystem::path> old;
  for (const auto& entry : std::filesystem::directory_iterator(directory_ / "done", ec))
    if (entry.last_write_time(ec) < cutoff) old.push_back(entry.path());
  for (const auto& file : old) std::filesystem::remove(file, ec);
}

std::optional<FaxJob> FileFaxJobs::find_by_key(std::string_view source, std::string_view key) const {
  if (key.empty()) return std::nullopt;
  std::error_code ec;
  for (const auto& dir : {directory_, directory_ / "done"}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      try {
        auto job = parse_job(read_file(entry.path()));
        if (job.source == source && job.idempotency_key == key) return job;
      } catch (const std::exception&) {
        continue;  // take() logs damaged jobs
      }
    }
  }
  return std::nullopt;
}

std::string FileFaxJobs::message(std::string_view id) const { return read_file(path(id, ".eml")); }

}  // namespace umstore::faxout
