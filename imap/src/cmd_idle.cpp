// IDLE (RFC 2177). One read stays outstanding for the whole IDLE (a reader
// coroutine on the session's strand waits for "DONE"), so no input is lost
// and TLS streams are never cancelled mid-record. The session waits on the
// notifier's timer, which the folder listener or the reader cancel to wake it.
// The folder's listener hears this process's changes at once and, in every
// backend that can (Folder::listeners_hear_everyone: the Maildir's inotify
// watch, PostgreSQL's change feed), other processes' and nodes' changes
// too. An idle session therefore costs no CPU at all. Only when the backend
// cannot hear other writers does the timer also fire every kPollInterval
// for a look at the store.
#include "session.hpp"
#include "common/ascii.hpp"

namespace umstore::imap {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(800);  // other processes' deliveries within 1 s

struct IdleRead {
  bool done = false;
  net::LineResult::Status status = net::LineResult::Status::Closed;
  std::string line;
};

net::Task<void> read_idle_end(net::Connection& conn, std::shared_ptr<IdleRead> result,
                              std::shared_ptr<ChangeNotifier> notifier) {
  auto line = co_await conn.read_line();
  result->status = line.status;
  result->line = std::string(line.line.substr(0, 64));
  result->done = true;
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
  for (;;) {
    bool poll_due = false;
    if (!result->done && !notifier_->changed) {
      if (!selected_ || selected_->hears_everyone)  // nothing to look for, or the listener hears it
        notifier_->timer.expires_at(asio::steady_timer::time_point::max());
      else
        notifier_->timer.expires_after(kPollInterval);
      const auto woke = co_await notifier_->timer.async_wait(net::use_nothrow);
      poll_due = !std::get<0>(woke);  // expired, not cancelled
    }
    if (notifier_->changed || poll_due) {
      co_await in_store([this] { report_changes(true); });
      co_await flush();
    }
    if (result->done) break;
  }
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
