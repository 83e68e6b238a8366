// The admin API's resources: mailboxes and their messages, the queues,
// gateways, the audit log and the dashboard (docs/admin-api.yaml).
#include <algorithm>

#include <fmt/format.h>

#include "api.hpp"
#include "auth/gateway_tokens.hpp"
#include "common/ascii.hpp"
#include "common/log.hpp"
#include "faxout/fax_jobs.hpp"
#include "faxout/fax_status.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/folder.hpp"
#include "mailstore/mail_store.hpp"
#include "message_views.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::admin {
namespace {

using nlohmann::json;
using mailstore::Account;

std::string new_password() { return auth::random_token(12); }

json account_json(const Account& a, const std::optional<mailstore::MailboxDelivery>& d) {
  json j{{"number", a.number}, {"name", a.name}, {"email", a.email}, {"quota_bytes", a.quota_bytes}};
  if (d) j["profile"] = {{"playable", mailstore::to_string(d->playable)}, {"fax_pdf", d->fax_pdf}, {"file_by_kind", d->file_by_kind}};
  return j;
}

json days_json(std::optional<unsigned> days) { return days ? json(*days) : json(nullptr); }

// A mailbox's own aging days (null: the default) and what applies.
json aging_json(const mailstore::MailboxAging& own, const mailstore::AgingDays& defaults) {
  const auto applied = mailstore::effective_aging(own, defaults);
  return {{"age_days", days_json(own.move_to_trash_days)},
          {"trash_days", days_json(own.purge_trash_days)},
          {"effective", {{"age_days", applied.move_to_trash}, {"trash_days", applied.purge_trash}}}};
}

// The newest entry the aging job wrote (message_aging_job.hpp) for `target`, or for any when empty.
json last_aging_run(const AdminStore& admins, std::string_view target = {}) {
  for (const auto& e : admins.audit(1000))
    if (e.action == "aging.run" && (target.empty() || e.target == target))
      return {{"at_ms", e.at_ms}, {"target", e.target}, {"outcome", e.outcome}};
  return nullptr;
}

Account existing(const Call& call) {
  auto a = call.context.services.accounts.find(call.params.at(0));
  if (!a) throw mailstore::AccountError("there is no mailbox " + call.params.at(0));
  return *a;
}

// Account fields from a JSON body onto `a`; the delivery profile onto `d`.
void apply_fields(const json& body, Account& a, mailstore::MailboxDelivery& d) {
  try {
    if (body.contains("name")) a.name = body["name"].get<std::string>();
    if (body.contains("email")) a.email = body["email"].get<std::string>();
    if (body.contains("quota_bytes")) a.quota_bytes = body["quota_bytes"].get<std::uint64_t>();
    if (!body.contains("profile")) return;
    const auto& p = body["profile"];
    if (p.contains("playable")) {
      auto playable = mailstore::parse_playable(p["playable"].get<std::string>());
      if (!playable) throw BadRequest("profile.playable is wav, mp3 or none");
      d.playable = *playable;
    }
    if (p.contains("fax_pdf")) d.fax_pdf = p["fax_pdf"].get<bool>();
    if (p.contains("file_by_kind")) d.file_by_kind = p["file_by_kind"].get<bool>();
  } catch (const json::exception&) {
    throw BadRequest("name and email are strings, quota_bytes a number, profile.fax_pdf and file_by_kind true or false");
  }
}

// quota_messages and quota_minutes from a JSON body, kept by the store
// beside the byte quota (which is the account's); nullopt when neither is given.
std::optional<std::pair<std::uint64_t, std::uint64_t>> count_limits(const json& body,
                                                                    const mailstore::QuotaUsage& current) {
  if (!body.contains("quota_messages") && !body.contains("quota_minutes")) return std::nullopt;
  try {
    return std::pair{body.value("quota_messages", current.limit_messages),
                     body.contains("quota_minutes") ? body["quota_minutes"].get<std::uint64_t>() * 60
                                                    : current.limit_seconds};
  } catch (const json::exception&) {
    throw BadRequest("quota_messages and quota_minutes are numbers (0: unlimited)");
  }
}

void set_limits(const Call& call, const Account& a, const json& body) {
  const auto mailbox = call.context.services.store.user(a.number);
  mailbox->set_quota_limit(a.quota_bytes);
  if (const auto counts = count_limits(body, mailbox->quota())) mailbox->set_count_limits(counts->first, counts->second);
}

json quota_json(const mailstore::QuotaUsage& u) {
  return {{"quota_messages", u.limit_messages},
          {"quota_minutes", u.limit_seconds / 60},
          {"usage", {{"bytes", u.bytes}, {"messages", u.messages}, {"seconds", u.seconds}}}};
}

template <typename F>
http::Response account_action(F&& action) {
  try {
    return action();
  } catch (const mailstore::AccountError& e) {
    return http::json_error(422, e.what());
  }
}

http::Response list_mailboxes(const Call& call) {
  const std::string q = ascii_lower(call.request.query("q").value_or(""));
  json out = json::array();
  for (const auto& a : call.context.services.accounts.list())
    if (q.empty() || a.number.find(q) != std::string::npos || ascii_lower(a.name).find(q) != std::string::npos)
      out.push_back(account_json(a, std::nullopt));
  return json_response(200, out);
}

http::Response get_mailbox(const Call& call) {
  return account_action([&] {
    const auto a = existing(call);
    json j = account_json(a, call.context.services.accounts.delivery(a.number));
    j.update(quota_json(call.context.services.store.user(a.number)->quota()));
    const auto aging = call.context.services.accounts.aging(a.number).value_or(mailstore::MailboxAging{});
    j["aging"] = aging_json(aging, call.context.services.aging_defaults);
    j["last_aging"] = last_aging_run(call.context.services.admins, a.number);
    j["greeting"] = has_greeting(call.context.services, a.number);
    return json_response(200, j);
  });
}

http::Response create_mailbox(const Call& call) {
  const json body = call.body();
  return account_action([&] {
    Account a;
    a.number = body.value("number", "");
    mailstore::MailboxDelivery d;
    apply_fields(body, a, d);
    const std::string password = new_password();
    call.context.services.accounts.add(a, password);
    call.context.services.accounts.set_delivery(a.number, d);
    set_limits(call, a, body);
    call.audit("mailbox.create", a.number);
    json j = account_json(a, d);
    j.update(quota_json(call.context.services.store.user(a.number)->quota()));
    j["password"] = password;  // shown once
    return json_response(201, j);
  });
}

http::Response edit_mailbox(const Call& call) {
  const json body = call.body();
  return account_action([&] {
    Account a = existing(call);
    auto d = call.context.services.accounts.delivery(a.number).value_or(mailstore::MailboxDelivery{});
    apply_fields(body, a, d);
    call.context.services.accounts.update(a);
    call.context.services.accounts.set_delivery(a.number, d);
    set_limits(call, a, body);
    call.audit("mailbox.edit", a.number);
    json j = account_json(a, d);
    j.update(quota_json(call.context.services.store.user(a.number)->quota()));
    return json_response(200, j);
  });
}

// PUT .../aging {"age_days": N|null, "trash_days": N|null}: retention, so admin only.
http::Response set_aging(const Call& call) {
  const json body = call.body();
  return account_action([&] {
    const auto a = existing(call);
    mailstore::MailboxAging aging;
    const auto days = [&](const char* key) -> std::optional<unsigned> {
      if (!body.contains(key) || body[key].is_null()) return std::nullopt;
      if (!body[key].is_number_unsigned()) throw BadRequest(std::string(key) + " is a number of days (0: never) or null (the default)");
      return body[key].get<unsigned>();
    };
    aging.move_to_trash_days = days("age_days");
    aging.purge_trash_days = days("trash_days");
    call.context.services.accounts.set_aging(a.number, aging);
    call.audit("mailbox.aging", a.number,
               fmt::format("ok: age_days {}, trash_days {}", days_json(aging.move_to_trash_days).dump(),
                           days_json(aging.purge_trash_days).dump()));
    return json_response(200, aging_json(aging, call.context.services.aging_defaults));
  });
}

http::Response reset_password(const Call& call) {
  return account_action([&] {
    const auto a = existing(call);
    const std::string password = new_password();
    call.context.services.accounts.set_password(a.number, password);
    call.audit("mailbox.password_reset", a.number);
    return json_response(200, {{"number", a.number}, {"password", password}});
  });
}

http::Response remove_mailbox(const Call& call) {
  return account_action([&] {
    const auto a = existing(call);
    call.context.services.accounts.remove(a.number);
    call.audit("mailbox.remove", a.number);
    return json_response(200, {{"number", a.number}, {"status", "removed; its messages stay on disk"}});
  });
}

http::Response list_mailbox_messages(const Call& call) {
  return account_action([&] {
    const auto a = existing(call);
    json out = json::array();
    for (const auto& m : list_messages(*call.context.services.store.user(a.number)))
      out.push_back({{"folder", m.folder}, {"uid", m.uid}, {"kind", m.kind}, {"caller", m.caller},
                     {"caller_name", m.caller_name}, {"subject", m.subject}, {"date_ms", m.date_ms},
                     {"duration_seconds", m.duration_seconds}, {"pages", m.pages}, {"seen", m.seen}});
    return json_response(200, out);
  });
}

// GET .../messages/{folder}/{uid}/audio or /fax: audited before it answers.
http::Response message_content(const Call& call, bool voice) {
  return account_action([&] {
    const auto a = existing(call);
    const std::string& folder_name = call.params.at(1);
    if (!is_message_folder(folder_name)) return http::json_error(404, "messages are in INBOX, Voicemail or Fax");
    const auto uid = std::strtoul(call.params.at(2).c_str(), nullptr, 10);
    const std::string target = fmt::format("{}/{}/{}", a.number, folder_name, uid);
    mailstore::MessageDataPtr data;
    try {
      data = call.context.services.store.user(a.number)->open(folder_name)->open_message(static_cast<std::uint32_t>(uid));
    } catch (const mailstore::FolderNotFound&) {
    }
    if (!data) return http::json_error(404, "no message " + target);
    auto content = voice ? voice_audio(data->bytes()) : fax_pdf(data->bytes());
    if (!content) return http::json_error(404, fmt::format("message {} has no {}", target, voice ? "voice part" : "fax part"));
    call.audit(voice ? "message.play" : "message.view_fax", target);
    return http::Response{200, content->content_type, std::move(content->bytes), "Cache-Control: no-store\r\n"};
  });
}

json envelope_json(const smtp::QueuedEnvelope& e) {
  json recipients = json::array();
  for (const auto& r : e.recipients)
    recipients.push_back({{"address", r.address}, {"state", smtp::state_name(r.state)}, {"attempts", r.attempts},
                          {"last_reply", r.last_reply}});
  auto seconds = [](smtp::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  };
  return {{"id", e.id}, {"sender", e.sender}, {"arrival", seconds(e.arrival)}, {"next_attempt", seconds(e.next_attempt)},
          {"recipients", recipients}};
}

json ingest_json(const ingest::IngestCounters& c) {
  return {{"depth", c.depth}, {"accepted", c.accepted}, {"delivered", c.delivered}, {"failed", c.failed},
          {"duplicates", c.duplicates}, {"webhooks_pending", c.webhooks_pending}};
}

// Waiting or failed: what an administrator may need to act on.
json ingest_job_json(const ingest::IngestStatus& s) {
  return {{"id", s.id}, {"state", ingest::state_name(s.state)}, {"kind", s.kind == ingest::Kind::Voice ? "voice" : "fax"},
          {"mailbox", s.mailbox}, {"source", s.source}, {"reason", s.reason}, {"accepted_ms", s.accepted_ms},
          {"finished_ms", s.finished_ms}};
}

constexpr std::size_t kListedIngestJobs = 200;
constexpr std::size_t kListedFaxJobs = 200;

// A fax as its sender's application sees it, and who sent it.
json fax_json(const faxout::FaxJob& job) {
  json j = faxout::status_json(job);
  j["source"] = job.source;  // "smtp" or "http:GATEWAY"
  j["user"] = job.user;
  j["sender"] = job.sender;
  j["smtp_id"] = job.smtp_id;
  return j;
}

http::Response list_queues(const Call& call) {
  auto& queue = call.context.services.smtp_queue;
  json smtp = json::array();
  for (const auto& id : queue.ids())
    if (auto e = queue.envelope(id)) smtp.push_back(envelope_json(*e));
  json jobs = json::array();
  for (const auto& s : call.context.services.ingest_queue.open_jobs(kListedIngestJobs)) jobs.push_back(ingest_job_json(s));
  json faxes = json::array();
  if (const auto* fax_jobs = call.context.services.fax_jobs)
    for (const auto& job : fax_jobs->list(kListedFaxJobs)) faxes.push_back(fax_json(job));
  return json_response(200, {{"smtp", smtp},
                             {"ingest", ingest_json(call.context.services.ingest_queue.counters())},
                             {"ingest_jobs", jobs},
                             {"fax_out", faxes}});
}

// Any fax, queued or ended (records are kept 7 days): what its sender's
// DSN (X-Fax-Job-Id) or the 250 reply named.
http::Response fax_status(const Call& call) {
  const auto* fax_jobs = call.context.services.fax_jobs;
  if (!fax_jobs) return http::json_error(404, "faxes are not sent here ([fax_out] is not configured)");
  const auto job = fax_jobs->find(call.params.at(0));
  if (!job) return http::json_error(404, "no fax with id " + call.params.at(0));
  return json_response(200, fax_json(*job));
}

// POST .../retry: a failed job runs again. DELETE: a queued or failed job
// and its original are gone (a queued one is never delivered).
http::Response ingest_job_action(const Call& call, bool retry) {
  auto& queue = call.context.services.ingest_queue;
  const std::string& id = call.params.at(0);
  if (retry && !queue.retry_failed(id))
    return http::json_error(404, "no failed ingest job " + id + " (only failed jobs can be retried)");
  if (!retry && !queue.remove(id))
    return http::json_error(404, "no queued or failed ingest job " + id +
                                     " (one being stored right now is finished: erase its message in the mailbox)");
  call.audit(retry ? "ingest.retry" : "ingest.delete", id);
  return json_response(200, {{"id", id}, {"status", retry ? "queued again" : "deleted with its recording"}});
}

http::Response queue_action(const Call& call, bool retry) {
  auto& queue = call.context.services.smtp_queue;
  const std::string& id = call.params.at(0);
  auto e = smtp::is_queue_id(id) ? queue.envelope(id) : std::nullopt;
  if (!e) return http::json_error(404, "no message " + id + " in the SMTP queue");
  if (retry) {
    e->next_attempt = smtp::Clock::now();
    queue.update(*e);
    if (call.context.services.wake_smtp_queue) call.context.services.wake_smtp_queue();
  } else {
    queue.remove(id);
  }
  call.audit(retry ? "queue.retry" : "queue.delete", id);
  return json_response(200, {{"id", id}, {"status", retry ? "retrying now" : "deleted"}});
}

bool configured_gateway(const Call& call, std::string_view name) {
  const auto& names = call.context.services.gateways;
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Those of [gateways] (tokens in the config file) and those issued here (tokens hashed in the store).
http::Response list_gateways(const Call& call) {
  json out = json::array();
  for (const auto& g : call.context.services.gateways) out.push_back({{"name", g}, {"source", "config"}});
  for (const auto& t : call.context.services.admins.gateway_tokens())
    out.push_back({{"name", t.gateway}, {"source", "console"}, {"created_ms", t.created_ms}, {"created_by", t.created_by}});
  return json_response(200, {{"gateways", out}});
}

// POST /api/gateways {"name"}: a new token, shown in full this once.
http::Response create_gateway_token(const Call& call) {
  const json body = call.body();
  if (!body.contains("name") || !body["name"].is_string()) throw BadRequest("send {\"name\": the gateway's name}");
  const std::string name = body["name"].get<std::string>();
  try {
    require_admin_name(name);
  } catch (const AdminError&) {
    return http::json_error(422, "a gateway's name is 1 to 64 letters, digits, '.', '_' or '-'");
  }
  if (configured_gateway(call, name))
    return http::json_error(409, "gateway " + name + " has its token in [gateways] of the config file; pick another name");
  const std::string token = auth::new_gateway_token();
  const IssuedGatewayToken issued{name, auth::gateway_token_hash(token), now_ms(), call.session.user};
  try {
    call.context.services.admins.add_gateway_token(issued);
  } catch (const AdminError& e) {
    return http::json_error(409, e.what());
  }
  if (call.context.services.issued_tokens) call.context.services.issued_tokens->add(issued.token_hash, name);
  call.audit("gateway.token_create", name);
  return json_response(201, {{"name", name}, {"token", token}, {"source", "console"}});
}

http::Response revoke_gateway_token(const Call& call) {
  const std::string& name = call.params.at(0);
  if (!call.context.services.admins.remove_gateway_token(name)) {
    if (configured_gateway(call, name))
      return http::json_error(409, "gateway " + name + "'s token is in [gateways] of the config file: remove it there and reload");
    return http::json_error(404, "no token issued for gateway " + name);
  }
  if (call.context.services.issued_tokens) call.context.services.issued_tokens->remove(name);
  call.audit("gateway.token_revoke", name);
  return json_response(200, {{"name", name}, {"status", "revoked: its requests now get 401"}});
}

http::Response audit_log(const Call& call) {
  const auto before = std::strtoll(call.request.query("before").value_or("0").c_str(), nullptr, 10);
  const auto limit = std::clamp<long long>(std::strtoll(call.request.query("limit").value_or("100").c_str(), nullptr, 10), 1, 1000);
  json out = json::array();
  for (const auto& e : call.context.services.admins.audit(static_cast<std::size_t>(limit), before))
    out.push_back({{"id", e.id}, {"at_ms", e.at_ms}, {"actor", e.actor}, {"action", e.action}, {"target", e.target},
                   {"address", e.address}, {"outcome", e.outcome}});
  return json_response(200, out);
}

// The store's file system or database; null (and logged) when it cannot be read.
json storage_json(mailstore::MailStore& store) {
  try {
    const auto u = store.storage_usage();
    json j{{"kind", u.kind}, {"name", u.name}, {"used_bytes", u.used_bytes}};
    j["free_bytes"] = u.free_bytes ? json(*u.free_bytes) : json(nullptr);
    j["size_bytes"] = u.size_bytes ? json(*u.size_bytes) : json(nullptr);
    return j;
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "admin", "the dashboard cannot read the store's usage: {}", e.what());
    return nullptr;
  }
}

http::Response dashboard(const Call& call) {
  const auto& services = call.context.services;
  const auto counters = services.ingest_queue.counters();
  return json_response(200, {{"messages_per_hour", call.context.activity.per_hour(now_ms())},
                             {"storage", storage_json(services.store)},
                             {"ingest", ingest_json(counters)},
                             {"smtp_queue_depth", services.smtp_queue.ids().size()},
                             {"failed_jobs", counters.failed},
                             {"mailboxes", services.accounts.list().size()},
                             {"failed_admin_logins", call.context.failed_logins.load()},
                             {"last_aging", last_aging_run(services.admins)}});
}

}  // namespace

void add_api_routes(ApiRouter& router) {
  router.add("GET", "/api/dashboard", {dashboard});
  router.add("GET", "/api/mailboxes", {list_mailboxes});
  router.add("POST", "/api/mailboxes", {create_mailbox, true});
  router.add("GET", "/api/mailboxes/{}", {get_mailbox});
  router.add("PATCH", "/api/mailboxes/{}", {edit_mailbox, true});
  router.add("DELETE", "/api/mailboxes/{}", {remove_mailbox, true});
  router.add("POST", "/api/mailboxes/{}/password", {reset_password});
  router.add("PUT", "/api/mailboxes/{}/aging", {set_aging, true});
  router.add("GET", "/api/mailboxes/{}/messages", {list_mailbox_messages});
  router.add("GET", "/api/mailboxes/{}/messages/{}/{}/audio", {[](const Call& c) { return message_content(c, true); }});
  router.add("GET", "/api/mailboxes/{}/messages/{}/{}/fax", {[](const Call& c) { return message_content(c, false); }});
  router.add("GET", "/api/queues", {list_queues});
  router.add("POST", "/api/queues/smtp/{}/retry", {[](const Call& c) { return queue_action(c, true); }, true});
  router.add("DELETE", "/api/queues/smtp/{}", {[](const Call& c) { return queue_action(c, false); }, true});
  router.add("POST", "/api/queues/ingest/{}/retry", {[](const Call& c) { return ingest_job_action(c, true); }, true});
  router.add("DELETE", "/api/queues/ingest/{}", {[](const Call& c) { return ingest_job_action(c, false); }, true});
  router.add("GET", "/api/fax-out/{}", {fax_status});
  router.add("GET", "/api/gateways", {list_gateways});
  router.add("POST", "/api/gateways", {create_gateway_token, true});
  router.add("DELETE", "/api/gateways/{}", {revoke_gateway_token, true});
  router.add("GET", "/api/audit", {audit_log});
}

}  // namespace umstore::admin
