// Data-protection requests in the console, through the same code as
// `umstore mailbox export` and `umstore privacy erase`: a mailbox exported
// as an archive (every message as .eml and a JSON manifest), a mailbox
// erased for real, a caller's messages and recordings erased everywhere.
// All three are for admins only, and audited.
#include <sys/stat.h>

#include <atomic>

#include <fmt/format.h>

#include "api.hpp"
#include "common/durable_file.hpp"
#include "mailstore/account_store.hpp"
#include "privacy/caller_erasure.hpp"
#include "privacy/mailbox_export.hpp"

namespace umstore::admin {
namespace {

using nlohmann::json;

struct ExportFormat {
  privacy::ArchiveFormat format;
  const char* extension;
  const char* content_type;
};

ExportFormat export_format(std::string_view name) {
  if (name == "zip") return {privacy::ArchiveFormat::Zip, ".zip", "application/zip"};
  if (name == "tar.gz" || name == "tgz") return {privacy::ArchiveFormat::TarGz, ".tar.gz", "application/gzip"};
  if (name == "tar") return {privacy::ArchiveFormat::Tar, ".tar", "application/x-tar"};
  throw BadRequest("format is zip, tar.gz or tar");
}

std::string existing_number(const Call& call) {
  const std::string& number = call.params.at(0);
  if (!call.context.services.accounts.find(number)) throw mailstore::AccountError("there is no mailbox " + number);
  return number;
}

template <typename F>
http::Response refusing_unknown(F&& action) {
  try {
    return action();
  } catch (const mailstore::AccountError& e) {
    return http::json_error(404, e.what());
  }
}

// GET /api/mailboxes/{number}/export?format=zip|tar.gz|tar: the archive is
// written to a file with no name (so a crash leaves nothing behind) and sent
// from it, never held in memory whole.
http::Response export_mailbox(const Call& call) {
  const auto format = export_format(call.request.query("format").value_or("zip"));
  // One export at a time: it holds one of the console's two blocking
  // threads for as long as the mailbox takes to read, and the other must
  // stay free for everything else the console does.
  static std::atomic<bool> exporting{false};
  if (exporting.exchange(true)) return http::retry_later(503, "another export is being written; try again shortly", 30);
  struct Done {
    ~Done() { exporting = false; }
  } done;
  return refusing_unknown([&] {
    const std::string number = existing_number(call);
    const auto& scratch = call.context.services.scratch_dir;
    create_directories_durably(scratch);
    auto body = std::make_shared<http::FileBody>();
    body->fd = open_unnamed_file(scratch);
    const auto counts = privacy::write_mailbox_archive(*call.context.services.store.user(number), body->fd.get(),
                                                       format.format, "the export of " + number);
    struct stat st {};
    if (::fstat(body->fd.get(), &st) != 0) throw IoError("cannot size the export in", scratch, errno);
    body->size = static_cast<std::uint64_t>(st.st_size);
    call.audit("mailbox.export", number, fmt::format("ok: {} messages, {} bytes", counts.messages, counts.bytes));
    http::Response r{200, format.content_type, "",
                     fmt::format("Content-Disposition: attachment; filename=\"mailbox-{}{}\"\r\n"
                                 "Cache-Control: no-store\r\n",
                                 number, format.extension)};
    r.file = std::move(body);
    return r;
  });
}

json erased_messages_json(const privacy::ErasureReport& report) {
  json out = json::array();
  for (const auto& m : report.messages)
    out.push_back({{"mailbox", m.mailbox}, {"folder", m.folder}, {"uid", m.uid}, {"kind", m.kind}, {"date", m.date}});
  return out;
}

// POST /api/mailboxes/{number}/erase: every message and folder, the account
// and the greeting, for real (not into Trash).
http::Response erase_mailbox(const Call& call) {
  return refusing_unknown([&] {
    const std::string number = existing_number(call);
    auto& services = call.context.services;
    const auto report = privacy::erase_mailbox(services.store, services.accounts, number);
    bool greeting_removed = false;
    if (const auto greeting = services.greeting_for ? services.greeting_for(number) : std::nullopt) {
      greeting_removed = std::filesystem::remove(*greeting);
      if (greeting_removed) fsync_directory(greeting->parent_path());
    }
    call.audit("mailbox.erase", number, fmt::format("ok: {} messages", report.messages.size()));
    return json_response(200, {{"number", number},
                               {"messages", erased_messages_json(report)},
                               {"folders_removed", report.folders_removed},
                               {"account_removed", report.account_removed},
                               {"greeting_removed", greeting_removed}});
  });
}

// POST /api/privacy/erase-caller {"caller": NUMBER, "dry_run": bool}
http::Response erase_caller(const Call& call) {
  const json body = call.body();
  if (!body.is_object() || !body.contains("caller") || !body["caller"].is_string() ||
      body["caller"].get<std::string>().empty())
    throw BadRequest("send {\"caller\": the caller's number, as in the messages' Caller-ID, \"dry_run\": true or false}");
  const std::string caller = body["caller"].get<std::string>();
  const bool dry_run = body.value("dry_run", false);
  auto& services = call.context.services;
  const auto erased = privacy::erase_caller_everywhere(services.spool_dir, services.ingest_queue, services.store,
                                                       services.accounts, caller, dry_run);
  json jobs = json::array();
  for (const auto& j : erased.jobs)
    jobs.push_back({{"id", j.id}, {"state", j.state}, {"kind", j.kind}, {"accepted_ms", j.accepted_ms}});
  json spool = json::array();
  for (const auto& f : erased.spool_files) spool.push_back(f.filename().string());
  call.audit(dry_run ? "privacy.erase_caller_dry_run" : "privacy.erase_caller", caller,
             fmt::format("ok: {} messages, {} ingest jobs, {} spool files", erased.mailboxes.messages.size(),
                         erased.jobs.size(), erased.spool_files.size()));
  return json_response(200, {{"caller", caller},
                             {"dry_run", dry_run},
                             {"messages", erased_messages_json(erased.mailboxes)},
                             {"ingest_jobs", jobs},
                             {"spool_files", spool}});
}

}  // namespace

void add_privacy_routes(ApiRouter& router) {
  router.add("GET", "/api/mailboxes/{}/export", {export_mailbox, true});
  router.add("POST", "/api/mailboxes/{}/erase", {erase_mailbox, true});
  router.add("POST", "/api/privacy/erase-caller", {erase_caller, true});
}

}  // namespace umstore::admin
