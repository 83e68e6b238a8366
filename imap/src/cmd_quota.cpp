// QUOTA (RFC 9208): one quota root, "", per user, covering all folders.
// STORAGE (in units of 1024 octets) and MESSAGE have limits, so
// QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE are advertised (minutes of voice
// have no IMAP resource); limits are set by the administrator
// (`umstore mailbox set --quota --quota-messages`), never over IMAP.
#include "response_writer.hpp"
#include "session.hpp"
#include "store_error.hpp"

namespace umstore::imap {
namespace {

std::string quota_line(const mailstore::QuotaUsage& usage) {
  std::string resources;
  if (usage.limit_bytes)
    resources = "STORAGE " + std::to_string((usage.bytes + 1023) / 1024) + " " + std::to_string(usage.limit_bytes / 1024);
  if (usage.limit_messages)
    resources += std::string(resources.empty() ? "" : " ") + "MESSAGE " + std::to_string(usage.messages) + " " +
                 std::to_string(usage.limit_messages);
  return "QUOTA \"\" (" + resources + ")";
}

}  // namespace

net::Task<void> Session::cmd_getquota(const Command& cmd) {
  if (cmd.args.size() != 1 || !cmd.args[0].is_astring()) {
    reply(cmd, "BAD", cmd.name + " needs one argument");
    co_return;
  }
  if (cmd.name == "GETQUOTAROOT") {
    std::optional<std::string> name = mailbox_arg(cmd.args[0]);
    const auto error = store_error_of([&] {
      if (!name) throw mailstore::InvalidFolderName("bad name");
      user_->open(*name);
    });
    if (error) {
      reply(cmd, "NO", *error);
      co_return;
    }
    std::string root_line = "QUOTAROOT ";
    append_astring(root_line, cmd.args[0].text);
    untagged(root_line + " \"\"");
  } else if (!cmd.args[0].text.empty()) {
    reply(cmd, "NO", "[NONEXISTENT] No such quota root");
    co_return;
  }
  untagged(quota_line(user_->quota()));
  reply(cmd, "OK", cmd.name + " completed");
}

net::Task<void> Session::cmd_setquota(const Command& cmd) {
  reply(cmd, "NO", "[NOPERM] Quotas are set by the administrator");
  co_return;
}

}  // namespace umstore::imap
