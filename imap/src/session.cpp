#include "session.hpp"

#include <algorithm>
#include <chrono>

#include "common/log.hpp"
#include "mailbox_name.hpp"
#include "response_writer.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kFlushThreshold = 64 * 1024;
constexpr std::size_t kDirectWriteThreshold = 16 * 1024;
constexpr std::size_t kPreAuthLiteralLimit = 8 * 1024;
constexpr std::size_t kDiscardChunk = 64 * 1024;
constexpr std::size_t kKeptBufferBytes = 4096;  // idle sessions keep small buffers
constexpr auto kPreAuthTimeout = std::chrono::seconds(60);

}  // namespace

bool is_uid_command(const Command& cmd) { return cmd.name.starts_with("UID "); }

Session::Session(ServerContext& context, net::tcp::socket socket, Tls tls)
    : ctx_(context), conn_(std::move(socket), context.config.max_line_bytes), implicit_tls_(tls == Tls::Implicit) {
  conn_.set_idle_timeout(std::min<std::chrono::steady_clock::duration>(ctx_.config.idle_timeout, kPreAuthTimeout));
  conn_.set_line_timeout(ctx_.config.line_timeout);
  // Logging in, however slowly, must be done within this (cleared at login).
  conn_.set_deadline(net::Connection::Clock::now() + ctx_.config.login_timeout);
}

std::vector<std::string_view> Session::command_names() {
  std::vector<std::string_view> names;
  for (const CommandSpec& spec : command_table()) names.push_back(spec.name);
  return names;
}

const std::vector<Session::CommandSpec>& Session::command_table() {
  constexpr unsigned any = kNotAuthenticated | kAuthenticated | kSelected;
  constexpr unsigned authed = kAuthenticated | kSelected;
  static const std::vector<CommandSpec> table{
      {"CAPABILITY", &Session::cmd_capability, any, Runs::Strand},
      {"NOOP", &Session::cmd_noop, any, Runs::Strand},
      {"LOGOUT", &Session::cmd_logout, any, Runs::Strand},
      {"ID", &Session::cmd_id, any, Runs::Strand},
      {"STARTTLS", &Session::cmd_starttls, kNotAuthenticated, Runs::Strand},
      {"COMPRESS", &Session::cmd_compress, kAuthenticated | kSelected, Runs::Strand},
      {"LOGIN", &Session::cmd_login, kNotAuthenticated, Runs::Strand},
      {"AUTHENTICATE", &Session::cmd_authenticate, kNotAuthenticated, Runs::Strand},
      {"ENABLE", &Session::cmd_enable, authed},
      {"NAMESPACE", &Session::cmd_namespace, authed, Runs::Strand},
      {"SELECT", &Session::cmd_select, authed},
      {"EXAMINE", &Session::cmd_select, authed},
      {"CREATE", &Session::cmd_create, authed},
      {"DELETE", &Session::cmd_delete, authed},
      {"RENAME", &Session::cmd_rename, authed},
      {"SUBSCRIBE", &Session::cmd_subscribe, authed},
      {"UNSUBSCRIBE", &Session::cmd_subscribe, authed},
      {"LIST", &Session::cmd_list, authed},
      {"LSUB", &Session::cmd_list, authed},
      {"STATUS", &Session::cmd_status, authed},
      {"APPEND", &Session::cmd_append, authed},
      {"IDLE", &Session::cmd_idle, authed, Runs::Strand},
      {"NOTIFY", &Session::cmd_notify, authed},
      {"CHECK", &Session::cmd_check, kSelected},
      {"CLOSE", &Session::cmd_close, kSelected},
      {"UNSELECT", &Session::cmd_close, kSelected},
      {"EXPUNGE", &Session::cmd_expunge, kSelected},
      {"UID EXPUNGE", &Session::cmd_expunge, kSelected},
      {"SEARCH", &Session::cmd_search, kSelected},
      {"UID SEARCH", &Session::cmd_search, kSelected},
      {"CANCELUPDATE", &Session::cmd_cancelupdate, kSelected, Runs::Strand},
      {"SORT", &Session::cmd_sort, kSelected},
      {"UID SORT", &Session::cmd_sort, kSelected},
      {"THREAD", &Session::cmd_thread, kSelected},
      {"UID THREAD", &Session::cmd_thread, kSelected},
      {"FETCH", &Session::cmd_fetch, kSelected, Runs::Strand},
      {"UID FETCH", &Session::cmd_fetch, kSelected, Runs::Strand},
      {"STORE", &Session::cmd_store, kSelected},
      {"UID STORE", &Session::cmd_store, kSelected},
      {"COPY", &Session::cmd_copy, kSelected},
      {"UID COPY", &Session::cmd_copy, kSelected},
      {"MOVE", &Session::cmd_copy, kSelected},
      {"UID MOVE", &Session::cmd_copy, kSelected},
      {"GETQUOTA", &Session::cmd_getquota, authed},
      {"GETQUOTAROOT", &Session::cmd_getquota, authed},
      {"SETQUOTA", &Session::cmd_setquota, authed},
  };
  return table;
}

std::optional<std::string> Session::mailbox_arg(const Arg& arg) const {
  if (!arg.is_astring()) return std::nullopt;
  return mailbox_from_wire(arg.text, utf8_);
}

std::string Session::mailbox_to_wire(std::string_view name) const {
  std::string out;
  // UTF-8 goes quoted to IMAP4rev2 clients (RFC 9051 §4.3), as a literal
  // to UTF8=ACCEPT ones, which either grammar allows.
  if (utf8_)
    append_astring(out, name, rev2_);
  else
    append_astring(out, encode_mutf7(name));
  return out;
}

bool Session::login_disabled() const { return ctx_.config.login_requires_tls && !conn_.is_tls(); }

std::string Session::capabilities() const {
  std::string caps = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT SPECIAL-USE CHILDREN"
      " ESEARCH QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE BINARY CONDSTORE LIST-EXTENDED LIST-STATUS STATUS=SIZE WITHIN SORT ESORT"
      " MULTIAPPEND CATENATE UTF8=ACCEPT COMPRESS=DEFLATE QRESYNC SEARCHRES CONTEXT=SEARCH"
      " THREAD=ORDEREDSUBJECT THREAD=REFERENCES OBJECTID PARTIAL SAVEDATE NOTIFY";
  if (state_ == kNotAuthenticated) {
    if (ctx_.config.tls && !conn_.is_tls()) caps += " STARTTLS";
    caps += login_disabled() ? " LOGINDISABLED" : " AUTH=PLAIN";
  }
  return caps;
}

void Session::untagged(std::string_view text) {
  out_ += "* ";
  out_ += text;
  out_ += "\r\n";
}

void Session::reply(const Command& cmd, std::string_view status, std::string_view text) {
  pending_reply_ = cmd.tag;
  pending_reply_ += ' ';
  pending_reply_ += status;
  pending_reply_ += ' ';
  pending_reply_ += text;
  pending_reply_ += "\r\n";
}

net::Task<void> Session::flush() {
  if (out_.empty()) co_return;
  std::string pending;
  pending.swap(out_);
  co_await conn_.write(pending);
  if (pending.capacity() <= kKeptBufferBytes) {
    pending.clear();
    out_.swap(pending);  // keep the buffer for the next response
  }
}

net::Task<void> Session::append_literal(std::string_view bytes) {
  out_ += '{' + std::to_string(bytes.size()) + "}\r\n";
  if (bytes.size() < kDirectWriteThreshold) {
    out_ += bytes;
  } else {
    co_await flush();
    co_await conn_.write(bytes);
  }
  if (out_.size() > kFlushThreshold) co_await flush();
}

net::Task<Session::ReadStatus> Session::read_command(std::string& text, net::MemoryReservation& held) {
  text.clear();
  std::size_t literal_total = 0;
  const std::size_t literal_limit =
      state_ == kNotAuthenticated ? kPreAuthLiteralLimit : ctx_.config.max_literal_bytes;
  for (;;) {
    auto line = co_await conn_.read_line();
    if (line.status == net::LineResult::Status::Closed) co_return ReadStatus::Closed;
    if (line.status == net::LineResult::Status::TooLong) {
      text += line.line;  // its head: the tag for the tagged BAD
      co_return ReadStatus::TooLong;
    }
    text += line.line;
    auto literal = trailing_literal(line.line);
    if (!literal) co_return ReadStatus::Ok;
    literal_total += literal->size;
    auto refusal = ReadStatus::Ok;
    if (literal_total > literal_limit)
      refusal = ReadStatus::TooBig;
    else if (!held.cover(static_cast<std::size_t>(literal_total)))
      refusal = ReadStatus::OverBudget;
    if (refusal != ReadStatus::Ok) {
      if (literal->synchronizing) co_return refusal;
      // A non-synchronizing literal is on its way: drop it, or hang up when absurd.
      if (literal->size > 2 * literal_limit + kDiscardChunk) co_return ReadStatus::Closed;
      std::string sink;
      for (std::uint64_t left = literal->size; left > 0;) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kDiscardChunk));
        sink.clear();
        const bool got = co_await conn_.read_exact(n, sink);
        if (!got) co_return ReadStatus::Closed;
        left -= n;
      }
      auto rest = co_await conn_.read_line();
      if (rest.status == net::LineResult::Status::Closed) co_return ReadStatus::Closed;
      co_return refusal;
    }
    if (literal->synchronizing) {
      out_ += "+ Ready for literal data\r\n";
      co_await flush();
    }
    text += "\r\n";
    // (g++ 12 miscompiles co_await inside conditions: keep each co_await a statement.)
    const bool got = co_await conn_.read_exact(static_cast<std::size_t>(literal->size), text);
    if (!got) co_return ReadStatus::Closed;
  }
}

net::Task<void> Session::run() {
  notifier_ = std::make_shared<ChangeNotifier>(conn_.executor());
  ctx_.metrics.connections.add();
  const GaugeHold open(ctx_.metrics.connections_open);
  log_(LogLevel::Debug, "connect peer={}", conn_.peer());
  if (implicit_tls_) {
    const bool secured = co_await conn_.start_tls(*ctx_.config.tls);  // not in the if: g++ 12 bug
    if (!secured) {
      log_(LogLevel::Info, "TLS handshake with {} failed{}", conn_.peer(), conn_.timed_out() ? " (timed out)" : "");
      co_return;
    }
  }
  const auto began = std::chrono::steady_clock::now();
  std::size_t commands = 0;
  untagged("OK [CAPABILITY " + capabilities() + "] " + ctx_.config.hostname + " umstore IMAP4rev1 ready");
  co_await flush();
  std::string text;
  net::MemoryReservation held(ctx_.literal_budget);  // a command's literals, until it is done
  while (!logout_ && conn_.is_open()) {
    if (notify_ && conn_.buffered() == 0) {
      const bool more = co_await wait_for_command();
      if (!more) break;
    }
    auto status = co_await read_command(text, held);
    if (status == ReadStatus::Closed) break;
    if (status == ReadStatus::TooLong) {
      out_ += std::string(guess_tag(text)) + " BAD [TOOBIG] Command line too long\r\n";
    } else if (status == ReadStatus::TooBig) {
      out_ += std::string(guess_tag(text)) + " NO [TOOBIG] Literal too big\r\n";
    } else if (status == ReadStatus::OverBudget) {
      out_ += std::string(guess_tag(text)) + " NO [LIMIT] The server holds too much client data; try again later\r\n";
    } else if (!text.empty()) {
      ++commands;
      arg_storage_.clear();
      auto parsed = parse_command(text, arg_storage_);
      if (!parsed.command) {
        out_ += std::string(guess_tag(text)) + " BAD Syntax error: " + parsed.error + "\r\n";
      } else {
        try {
          co_await dispatch(*parsed.command);
        } catch (const mailstore::TemporaryFailure& e) {
          // Expected conditions get their RFC 5530 codes, not SERVERBUG.
          log_(LogLevel::Warning, "peer={} {} failed: {}", conn_.peer(), parsed.command->name, e.what());
          reply(*parsed.command, "NO", "[UNAVAILABLE] The mail store cannot do this now; try again later");
        } catch (const mailstore::QuotaExceeded& e) {
          reply(*parsed.command, "NO", std::string("[OVERQUOTA] ") + e.what());
        } catch (const mailstore::InvalidKeyword& e) {
          reply(*parsed.command, "NO", std::string("[LIMIT] ") + e.what());
        } catch (const std::exception& e) {
          log_(LogLevel::Error, "peer={} {} failed: {}", conn_.peer(), parsed.command->name, e.what());
          reply(*parsed.command, "NO", "[SERVERBUG] Internal error");
        }
        out_ += pending_reply_;
        pending_reply_.clear();
      }
    }
    co_await flush();
    held.release();
    if (text.capacity() > kKeptBufferBytes) std::string().swap(text);  // e.g. after a large APPEND
  }
  deselect();
  notify_.reset();
  // One line per session at info level, so a login can be followed to its end.
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  log_(LogLevel::Info, "peer={} user={} ended: {} after {} command(s) in {:.1f} s", conn_.peer(),
       user_ ? user_->number() : "-", logout_ ? "logout" : conn_.timed_out() ? "timed out" : "connection closed",
       commands, seconds);
  conn_.close();
}

net::Task<void> Session::dispatch(const Command& cmd) {
  const auto& table = command_table();
  const auto found = std::find_if(table.begin(), table.end(), [&](const CommandSpec& s) { return s.name == cmd.name; });
  // Counted and timed however the command ends; unknown ones as "other".
  const ScopedLatency timed(ctx_.metrics.command(static_cast<std::size_t>(found - table.begin())));
  if (found == table.end()) {
    reply(cmd, "BAD", "Unknown command");
    co_return;
  }
  const CommandSpec& spec = *found;
  if (!(spec.states & state_)) {
    reply(cmd, "BAD", state_ == kNotAuthenticated ? "Log in first" : "Command not valid in this state");
    co_return;
  }
  // RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH, STORE or SEARCH.
  const bool numbers_in_use = cmd.name.ends_with("FETCH") || cmd.name.ends_with("STORE") ||
                              cmd.name.ends_with("SEARCH") || cmd.name.ends_with("SORT") ||
                              cmd.name.ends_with("THREAD");
  const auto catch_up = [this, numbers_in_use] {
    if (state_ == kSelected && !logout_) report_changes(!numbers_in_use);
  };
  if (spec.runs == Runs::Strand) {
    co_await (this->*spec.handler)(cmd);
    if (state_ == kSelected && !logout_) co_await in_store(catch_up);
    co_return;
  }
  co_await asio::co_spawn(
      ctx_.store_pool,
      [this, &spec, &cmd, &catch_up]() -> net::Task<void> {
        co_await (this->*spec.handler)(cmd);
        catch_up();
      },
      asio::use_awaitable);
}

}  // namespace umstore::imap
