#pragma once
// A SQLite database file and its prepared statements, for the embedded
// stores (accounts, the ingest queue, admin accounts and the audit log).
// Every database is opened the same way: WAL, synchronous=FULL (a committed
// transaction is on disk before anyone is told so), and a busy timeout, since
// the server and the admin CLI may use one file at the same time.
//
// A Database and its statements are used under the owner's mutex: one
// thread at a time.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace umstore::sqlite {

// Any SQLite failure; what() names the database ("account database: ...").
class SqliteError : public std::runtime_error {
 public:
  SqliteError(const std::string& message, int code) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }  // SQLite's extended result code
  bool constraint() const noexcept;           // a UNIQUE, NOT NULL... constraint refused the change

 private:
  int code_;
};

// Runs `work`; a SqliteError from it becomes `Error` with the same message,
// the owner's error type that its callers already handle.
template <typename Error, typename Work>
auto errors_as(Work&& work) {
  try {
    return work();
  } catch (const SqliteError& e) {
    throw Error(e.what());
  }
}

class Database {
 public:
  // Opens (creating when missing) `file`; `name` starts every error message.
  Database(const std::filesystem::path& file, std::string name);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);  // one or more statements, no results
  int changes() const noexcept;     // rows the last INSERT/UPDATE/DELETE touched
  std::int64_t last_insert_rowid() const noexcept;
  bool has_column(std::string_view table, std::string_view column);

  sqlite3* handle() const noexcept { return db_; }
  const std::string& name() const noexcept { return name_; }
  [[noreturn]] void fail(std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string name_;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

// A prepared statement. After the last row (or an error) it is reset and
// its values cleared, so it may run again, and a SELECT holds no read
// snapshot past its use.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);  // as TEXT
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind(int index, std::int64_t value);
  Statement& bind_null(int index);
  // True while there is a row to read; false when done. Throws SqliteError.
  bool step();
  void reset() noexcept;

  std::string text(int column) const;  // TEXT or BLOB; "" for NULL
  std::int64_t integer(int column) const;
  bool is_null(int column) const;

  // One execution of a statement kept prepared: reset however the scope
  // ends, so an early return leaves no read snapshot open.
  class Run {
   public:
    explicit Run(Statement& statement) : s_(statement) {}
    ~Run() { s_.reset(); }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    template <typename Value>
    Run& bind(int index, const Value& value) {
      s_.bind(index, value);
      return *this;
    }
    Run& bind_null(int index) {
      s_.bind_null(index);
      return *this;
    }
    bool step() { return s_.step(); }
    std::string text(int column) const { return s_.text(column); }
    std::int64_t integer(int column) const { return s_.integer(column); }

   private:
    Statement& s_;
  };
  Run run() { return Run(*this); }

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace umstore::sqlite
