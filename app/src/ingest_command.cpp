#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "common/e164.hpp"
#include "common/log.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/pipeline.hpp"
#include "mailstore/store.hpp"
#include "settings.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::app {
namespace {

constexpr const char* kIngestUsage = R"(usage:
  umstore [--data-dir DIR] ingest voice --to NUMBER --from CALLER [--caller-name NAME] FILE
  umstore [--data-dir DIR] ingest fax   --to NUMBER --from CALLER [--caller-name NAME] FILE

Transcodes FILE (voice: WAV, AU and the other formats libsndfile reads; fax:
TIFF) into a VPIM v2 voice message or an Internet fax message and delivers it
to mailbox NUMBER. When 'umstore serve' runs on the same data directory the
message goes to it over SMTP like any other mail; otherwise this process runs
the ingest queue (as the server would) until the message is in the mailstore.
FILE is never modified. CALLER is the calling number (E.164 or an extension);
use --from "" for a withheld number.

Exit status: 0 delivered, 1 failed (the reason on stderr), 75 not delivered
yet (a temporary failure such as a full mailbox: the job stays queued and the
next 'umstore serve' or 'umstore ingest' retries it).
)";

constexpr int kExitTemporaryFailure = 75;  // EX_TEMPFAIL

mime::Caller caller_from(const CommandLine& cmd) {
  auto from = cmd.value("--from");
  if (!from) throw UsageError("ingest needs --from CALLER (use --from \"\" when the number was withheld)");
  mime::Caller caller;
  caller.name = cmd.value("--caller-name").value_or("");
  if (auto e164 = normalise_e164(*from)) {
    caller.number = *e164;
  } else if (from->find_first_not_of("0123456789") == std::string::npos) {
    caller.number = *from;  // an extension or a national number as the network gave it
  } else {
    throw UsageError("--from '" + *from + "' is neither an E.164 number (+15550123) nor digits");
  }
  return caller;
}

struct RunningServer {
  std::string host;
  unsigned short port = 0;
  std::string domain;
};

// The server's SMTP endpoint and mail domain from run/server.json.
RunningServer running_server(const DataLayout& data) {
  const auto info = nlohmann::json::parse(read_file(data.server_info()));
  const std::string smtp = info.at("smtp").get<std::string>();
  const auto colon = smtp.rfind(':');
  return {smtp.substr(0, colon), static_cast<unsigned short>(std::stoi(smtp.substr(colon + 1))),
          info.at("domain").get<std::string>()};
}

// No server: the recording goes through the ingest queue in this process,
// the same code the server runs (trace headers, the mailbox's forms and
// folder, crash recovery, retries), until the job is done.
int ingest_here(const Settings& s, mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                const ingest::Recording& recording) {
  ingest::IngestQueueConfig config = s.ingest_queue(Settings::QueueOwner::command);
  config.mailbox_profiles = [&accounts](std::string_view number) {
    return delivery::mailbox_profile(accounts, number);
  };
  config.workers = 1;
  ingest::IngestQueue queue(config, store);
  set_log_level(LogLevel::Error);  // this command reports the job's outcome itself
  queue.start();  // also resumes what an interrupted run left queued
  ingest::SubmitOptions options;
  options.source = "cli";
  options.origin = recording.file_name;
  const std::string id = queue.submit(recording, options).id;
  while (!queue.wait_idle(std::chrono::milliseconds(200))) {
  }
  queue.stop();
  const auto status = queue.status(id);
  if (!status) throw std::runtime_error("ingest job " + id + " vanished from the queue");
  if (status->state == ingest::IngestState::Failed) throw std::runtime_error(status->reason);
  if (status->state == ingest::IngestState::Queued) {
    std::cerr << "umstore ingest: not delivered yet: " << status->reason << "; job " << id
              << " stays queued and is retried by the next 'umstore serve' or 'umstore ingest'\n";
    return kExitTemporaryFailure;
  }
  const std::string_view kind = recording.kind == ingest::Kind::Voice ? "voice" : "fax";
  std::cout << "delivered " << kind << " message to " << status->mailbox << " (UID " << status->uid << ", ingest id "
            << id << ", directly into the mailstore: no server running)\n";
  return 0;
}

}  // namespace

int run_ingest(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--to", "--from", "--caller-name"}, {}}));
  if (cmd.printed_help(kIngestUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.size() != 2 || (pos[0] != "voice" && pos[0] != "fax"))
    throw UsageError("ingest needs a kind (voice or fax) and one FILE");
  const Settings s = load_settings(cmd);

  ingest::Recording recording;
  recording.kind = pos[0] == "voice" ? ingest::Kind::Voice : ingest::Kind::Fax;
  const auto to = cmd.value("--to");
  if (!to) throw UsageError("ingest needs --to NUMBER");
  const auto number = normalise_e164(*to);
  if (!number) throw UsageError("--to '" + *to + "' is not an E.164 number: write it as + and 2 to 15 digits");
  recording.to_number = *number;
  recording.caller = caller_from(cmd);
  recording.file_name = pos[1];

  const auto [store, account_store] = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *account_store;
  const auto account = accounts.find(recording.to_number);
  if (!account) throw std::runtime_error("no mailbox " + recording.to_number + " (add it with 'umstore mailbox add')");
  recording.to_name = account->name;

  const std::string bytes = read_file(pos[1]);
  recording.file.assign(bytes.begin(), bytes.end());

  create_directories_durably(s.data.run_dir());
  FileLock no_server(s.data.serve_lock(), FileLock::Mode::Try);
  if (no_server.held()) return ingest_here(s, *store, accounts, recording);
  const RunningServer server = running_server(s.data);
  const ingest::ComposedMessage message = ingest::compose(recording, {server.domain, s.voice_limits, s.fax_limits, s.decode, start_recognition(s.recognition)});
  // Call-answer messages have no one to return errors to; the sender stays
  // null until ingest tracks delivery status itself (RFC 3801 section 4.2.6).
  const delivery::MailboxForm form =
      delivery::form_for_mailbox(message.rfc822, delivery::mailbox_profile(accounts, message.recipient_number));
  const smtp::SmtpReply reply =
      smtp::submit(server.host, server.port, {"", {message.recipient_address}, form.message}, server.domain);
  std::cout << "delivered " << message.summary << " to " << message.recipient_number << " (via SMTP "
            << server.host << ":" << server.port << ": " << reply.code << " " << reply.text << ")\n";
  return 0;
}

}  // namespace umstore::app
