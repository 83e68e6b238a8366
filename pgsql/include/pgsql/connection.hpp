#pragma once
// The PostgreSQL connection every part that keeps state in the database
// shares (the mailstore backend, the ingest queue, the cluster registry).
// A thin RAII layer over libpq, the PostgreSQL protocol's reference client.
// libpq rather than libpqxx: Debian 12 ships libpqxx 6 (the old API), and
// libpq gives what the backend needs directly: parameters in binary for
// bodies, the connection's socket for LISTEN/NOTIFY on an event loop, and
// SQLSTATE codes to tell a lost connection (temporary) from a refusal.
//
// A Connection is used by one thread at a time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace umstore::pgsql {

// A statement or the connection failed. `sqlstate` is PostgreSQL's five-
// character code ("" when the connection broke before the server answered).
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)), connection_lost_(connection_lost) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  // This connection is of no more use: the server went away, the network
  // failed, the server is shutting down (57P01-03) or no longer takes
  // writes (25006, a primary turned standby). A new connection, perhaps to
  // another host of the DSN, may work.
  bool connection_lost() const noexcept { return connection_lost_; }
  // Serialization failure or deadlock: the transaction may simply be retried.
  bool retryable() const noexcept { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }
  bool unique_violation() const noexcept { return sqlstate_ == "23505"; }

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

// One statement parameter: text, bytes (sent as bytea, binary) or NULL.
struct Param {
  enum class Kind { Null, Text, Bytes };
  Kind kind = Kind::Null;
  std::string_view data;
  static Param null() { return {}; }
  static Param text(std::string_view s) { return {Kind::Text, s}; }
  static Param bytes(std::string_view b) { return {Kind::Bytes, b}; }
};
// Integers are sent as text; the value must outlive the call.
struct IntParam {
  explicit IntParam(std::int64_t v) : text(std::to_string(v)) {}
  std::string text;
  operator Param() const { return Param::text(text); }
};

class Result {
 public:
  explicit Result(pg_result* r) noexcept : r_(r) {}
  Result(Result&& other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result();

  int rows() const noexcept;
  int columns() const noexcept;
  bool is_null(int row, int column) const noexcept;
  // The value as sent: text for text columns, raw bytes for binary results.
  std::string_view view(int row, int column) const noexcept;
  std::string text(int row, int column) const { return std::string(view(row, column)); }
  std::int64_t integer(int row, int column) const;
  bool boolean(int row, int column) const { return view(row, column) == "t"; }
  // Affected rows of INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  pg_result* r_;
};

struct Notification {
  std::string channel;
  std::string payload;
};

class Connection {
 public:
  // `conninfo`: a URI or key=value string, several hosts allowed
  // ("host=a,b port=5432,5433 target_session_attrs=read-write": libpq tries
  // them in order and keeps the first that takes writes, which is how a
  // node follows a promotion). Throws PgError naming the host when it
  // cannot connect within `timeout` per host. TCP keepalives and a TCP
  // user timeout are added unless given, so a statement sent to a host
  // that vanished fails in seconds instead of hanging.
  explicit Connection(const std::string& conninfo, std::chrono::seconds timeout = std::chrono::seconds(10));
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  Result exec(std::string_view sql);
  // Parameters as given ($1, $2, ...); text results. Each statement text is
  // prepared on this connection the first time it is run (up to
  // kMaxPrepared of them) and executed by name after: parsed once per
  // connection, and planned once too when PostgreSQL finds a plan for any
  // values as good as one for each (plan_cache_mode = auto): planning the
  // hot statements every time cost more than running them. Statement texts
  // are constants of the code, a few dozen per part; the limit only keeps a
  // text built with values in it from growing the server's memory.
  static constexpr std::size_t kMaxPrepared = 256;
  Result exec(std::string_view sql, std::span<const Param> params);
  Result exec(std::string_view sql, std::initializer_list<Param> params) {
    return exec(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // Not prepared: planned for these values every time, for a statement
  // whose best plan depends on them (a LIKE pattern that suits a trigram
  // index or not), which a plan made once would not see.
  Result exec_planned_for_values(std::string_view sql, std::initializer_list<Param> params);
  // Binary results: bytea columns arrive as their raw octets (message
  // bodies without hex doubling); select only bytea columns with it.
  Result exec_binary(std::string_view sql, std::initializer_list<Param> params);

  // False once the connection broke or a statement failed in a way that
  // makes it useless (PgError::connection_lost()).
  bool healthy() const noexcept;
  // For an idle connection that does not LISTEN: checks without blocking
  // that the server has not closed it since its last use (killed, shut
  // down, failed over).
  bool still_open();
  std::string host() const;  // the server this connection reached
  int socket() const noexcept;

  void listen(std::string_view channel);
  // Reads what arrived on the socket without blocking and returns the
  // notifications received so far.
  std::vector<Notification> take_notifications();

 private:
  Result run(std::string_view sql, std::span<const Param> params, int result_format, bool prepare);
  // The name `sql` is prepared under, preparing it now; nullptr past the limit.
  const char* prepared(const std::string& sql, int parameters);
  Result checked(pg_result* result);
  [[noreturn]] void fail(pg_result* result, std::string_view what);
  pg_conn* c_ = nullptr;
  bool broken_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // statement text -> name
};

// BEGIN on construction; ROLLBACK unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& c, std::string_view begin = "BEGIN");
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();
  Connection& connection() noexcept { return c_; }

 private:
  Connection& c_;
  bool open_ = true;
};

// SQL identifiers and literals built from names we chose (never from input).
std::string quote_identifier(std::string_view name);

// `sql` with every "{now}" replaced by the database's clock in Unix
// milliseconds: leases shared by several nodes compare against one clock,
// whatever the nodes' own clocks say.
std::string with_database_clock(std::string_view sql);

// A wall-clock time as the Unix milliseconds the queues' due columns hold.
inline std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The settings a DSN gives, as the PG* environment variables libpq's own
// programs read (pg_dump, pg_restore, psql: PGHOST, PGPASSWORD...), so that
// running one never puts a password on a command line where `ps` shows it.
// Throws PgError for a DSN libpq cannot parse.
std::vector<std::pair<std::string, std::string>> client_environment(const std::string& dsn);

}  // namespace umstore::pgsql
