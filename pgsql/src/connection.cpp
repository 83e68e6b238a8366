#include "pgsql/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>

#include "common/parse_number.hpp"

namespace umstore::pgsql {
namespace {

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// libpq reads these from the connection string; ours are added unless the
// operator gave them. Keepalives notice a peer that vanished while we wait
// for an answer (about 11 s); the user timeout one that stopped taking
// what we send (10 s).
std::string with_defaults(std::string conninfo, std::chrono::seconds timeout) {
  const bool uri = conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
  const auto add = [&](std::string_view key, const std::string& value) {
    if (conninfo.find(key) != std::string::npos) return;
    if (uri)
      conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&");
    else
      conninfo += ' ';
    conninfo += std::string(key) + "=" + value;
  };
  add("connect_timeout", std::to_string(std::max<long long>(2, timeout.count())));
  add("keepalives_idle", "5");
  add("keepalives_interval", "2");
  add("keepalives_count", "3");
  add("tcp_user_timeout", "10000");
  return conninfo;
}

}  // namespace

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    PQclear(r_);
    r_ = std::exchange(other.r_, nullptr);
  }
  return *this;
}
Result::~Result() { PQclear(r_); }
int Result::rows() const noexcept { return PQntuples(r_); }
int Result::columns() const noexcept { return PQnfields(r_); }
bool Result::is_null(int row, int column) const noexcept { return PQgetisnull(r_, row, column) != 0; }
std::string_view Result::view(int row, int column) const noexcept {
  return {PQgetvalue(r_, row, column), static_cast<std::size_t>(PQgetlength(r_, row, column))};
}
std::int64_t Result::integer(int row, int column) const {
  const auto s = view(row, column);
  const auto v = parse_number<std::int64_t>(s);
  if (!v)
    throw PgError("column " + std::to_string(column) + " is not an integer: '" + std::string(s) + "'", "", false);
  return *v;
}
std::int64_t Result::affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::stoll(n) : 0;
}

Connection::Connection(const std::string& conninfo, std::chrono::seconds timeout)
    : c_(PQconnectdb(with_defaults(conninfo, timeout).c_str())) {
  if (!c_) throw PgError("out of memory connecting to PostgreSQL", "", true);
  if (PQstatus(c_) != CONNECTION_OK) {
    // libpq's message names the host and port it tried ("connection to
    // server at "127.0.0.1", port 5432 failed: ...").
    const std::string message = "cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(c_));
    PQfinish(c_);
    c_ = nullptr;
    throw PgError(message, "", true);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
}
Connection::Connection(Connection&& other) noexcept
    : c_(std::exchange(other.c_, nullptr)),
      broken_(std::exchange(other.broken_, false)),
      prepared_(std::move(other.prepared_)) {}
Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (c_) PQfinish(c_);
    c_ = std::exchange(other.c_, nullptr);
    broken_ = std::exchange(other.broken_, false);
    prepared_ = std::move(other.prepared_);
  }
  return *this;
}
Connection::~Connection() {
  if (c_) PQfinish(c_);
}

void Connection::fail(pg_result* result, std::string_view what) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = std::string(what) + ": " + trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(c_));
  if (result) PQclear(result);
  const bool lost = PQstatus(c_) != CONNECTION_OK;
  std::string sqlstate = state ? state : "";
  // Class 08 is "connection exception"; 57P01-03 the server shutting down;
  // 25006 a read-only server: a standby, or the old primary come back as
  // one. Either way this connection is done: the pool drops it and the next
  // connection looks for the server that takes writes.
  const bool gone = lost || sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "25006";
  broken_ = broken_ || gone;
  throw PgError(message, std::move(sqlstate), gone);
}

Result Connection::checked(pg_result* r) {
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(r, "PostgreSQL statement failed");
  return Result(r);
}

// Without parameters: the simple query protocol, which takes several
// statements at once (migrations).
Result Connection::exec(std::string_view sql) {
  const std::string statement(sql);
  pg_result* r = PQexec(c_, statement.c_str());
  return checked(r);
}

Result Connection::exec(std::string_view sql, std::span<const Param> params) { return run(sql, params, 0, true); }

Result Connection::exec_planned_for_values(std::string_view sql, std::initializer_list<Param> params) {
  return run(sql, std::span<const Param>(params.begin(), params.size()), 0, false);
}

Result Connection::exec_binary(std::string_view sql, std::initializer_list<Param> params) {
  return run(sql, std::span<const Param>(params.begin(), params.size()), 1, true);
}

Result Connection::run(std::string_view sql, std::span<const Param> params, int result_format, bool prepare) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  std::vector<std::string> text_copies;  // text parameters must end in NUL
  text_copies.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (p.kind == Param::Kind::Null) continue;
    if (p.kind == Param::Kind::Bytes) {
      values[i] = p.data.data();
      lengths[i] = static_cast<int>(p.data.size());
      formats[i] = 1;
    } else {
      values[i] = text_copies.emplace_back(p.data).c_str();
    }
  }
  const std::string statement(sql);
  const int count = static_cast<int>(params.size());
  const char* name = prepare ? prepared(statement, count) : nullptr;
  pg_result* r = name ? PQexecPrepared(c_, name, count, values.data(), lengths.data(), formats.data(), result_format)
                      : PQexecParams(c_, statement.c_str(), count, nullptr, values.data(), lengths.data(),
                                     formats.data(), result_format);
  return checked(r);
}

const char* Connection::prepared(const std::string& sql, int parameters) {
  if (const auto it = prepared_.find(sql); it != prepared_.end()) return it->second.c_str();
  if (prepared_.size() >= kMaxPrepared) return nullptr;
  std::string name = "umstore_" + std::to_string(prepared_.size());
  // Parameter types as PQexecParams would infer them: from the statement.
  checked(PQprepare(c_, name.c_str(), sql.c_str(), parameters, nullptr));
  return prepared_.emplace(sql, std::move(name)).first->second.c_str();
}

bool Connection::healthy() const noexcept { return c_ && !broken_ && PQstatus(c_) == CONNECTION_OK; }

bool Connection::still_open() {
  if (!healthy()) return false;
  // An idle connection that does not LISTEN has nothing to read unless the
  // server is closing it: end of file, or a FATAL (57P01) before it, which
  // libpq would read as a success and only fail on the next statement.
  // Anything readable retires it; a new connection is cheap beside a
  // statement failing.
  pollfd p{PQsocket(c_), POLLIN, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  broken_ = true;
  return false;
}
std::string Connection::host() const { return std::string(PQhost(c_)) + ":" + PQport(c_); }
int Connection::socket() const noexcept { return PQsocket(c_); }

void Connection::listen(std::string_view channel) { exec("LISTEN " + quote_identifier(channel)); }

std::vector<Notification> Connection::take_notifications() {
  if (PQconsumeInput(c_) == 0) fail(nullptr, "PostgreSQL connection lost while waiting for notifications");
  std::vector<Notification> out;
  while (PGnotify* n = PQnotifies(c_)) {
    out.push_back({n->relname, n->extra ? n->extra : ""});
    PQfreemem(n);
  }
  return out;
}

Transaction::Transaction(Connection& c, std::string_view begin) : c_(c) { c_.exec(begin); }
Transaction::~Transaction() {
  if (!open_) return;
  try {
    if (c_.healthy()) c_.exec("ROLLBACK");
  } catch (...) {
    // A broken connection has rolled back by itself.
  }
}
void Transaction::commit() {
  c_.exec("COMMIT");
  open_ = false;
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string with_database_clock(std::string_view sql) {
  constexpr std::string_view marker = "{now}";
  constexpr std::string_view clock = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
  std::string out;
  for (auto at = sql.find(marker); at != std::string_view::npos; at = sql.find(marker)) {
    out.append(sql.substr(0, at)).append(clock);
    sql.remove_prefix(at + marker.size());
  }
  return out.append(sql);
}

std::vector<std::pair<std::string, std::string>> client_environment(const std::string& dsn) {
  char* error = nullptr;
  const std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(dsn.c_str(), &error),
                                                                              &PQconninfoFree);
  if (!options) {
    PQfreemem(error);  // libpq's reason quotes the DSN, which may hold a password
    throw PgError("the PostgreSQL DSN does not parse (key=value pairs or a postgresql:// URI)", "", false);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const PQconninfoOption* o = options.get(); o->keyword; ++o)
    if (o->val && *o->val && o->envvar) out.emplace_back(o->envvar, o->val);
  return out;
}

}  // namespace umstore::pgsql
