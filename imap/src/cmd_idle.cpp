// IDLE (RFC 2177). One read stays outstanding for the whole IDLE (a reader
// coroutine on the session's strand waits for "DONE"), so no input is lost
// and TLS streams are never cancelled mid-record. The session waits on the
// notifier's timer, which the folder listener or the reader cancel to wake it
// (push_changes_until in notify.cpp, shared with NOTIFY).
// The folder's listener hears this process's changes at once and, in every
// backend that can (Folder::listeners_hear_everyone: the Maildir's inotify
// watch, PostgreSQL's change feed), other processes' and nodes' changes
// too. An idle session therefore costs no CPU at all. Only when the backend
// cannot hear other writers does the timer also fire now and then for a
// look at the store.
#include "session.hpp"
#include "common/ascii.hpp"

namespace umstore::imap {
namespace {

struct IdleRead {
  std::shared_ptr<bool> done = std::make_shared<bool>(false);
  net::LineResult::Status status = net::LineResult::Status::Closed;
  std::string line;
};

net::Task<void> read_idle_end(net::Connection& conn, std::shared_ptr<IdleRead> result,
                              std::shared_ptr<ChangeNotifier> notifier) {
  auto line = co_await conn.read_line();
  result->status = line.status;
  result->line = std::string(line.line.substr(0, 64));
  *result->done = true;
  notifier->timer.cancel();
}

}  // namespace

net::Task<void> Session::cmd_idle(const Command& cmd) {
  if (!cmd.args.empty()) {
    reply(cmd, "BAD", "IDLE takes no arguments");
    co_return;
  }
  co_await in_store([this] { report_changes(true); });
  out_ += "+ idling\r\n";
  co_await flush();
  auto result = std::make_shared<IdleRead>();
  asio::co_spawn(conn_.executor(), read_idle_end(conn_, result, notifier_), asio::detached);
  co_await push_changes_until(result->done, true);
  if (result->status != net::LineResult::Status::Ok) {
    logout_ = true;
    co_return;
  }
  if (ascii_iequals(result->line, "DONE"))
    reply(cmd, "OK", "IDLE terminated");
  else
    reply(cmd, "BAD", "Expected DONE");
}

}  // namespace umstore::imap
