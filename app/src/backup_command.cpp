// umstore backup DIR / umstore restore DIR: a consistent copy of a data
// directory, taken while the server runs, and its way back into an empty
// one. Consistent per part, without stopping anything:
//   - SQLite databases (accounts.db, ingest/queue.db) through SQLite's
//     online backup API: a snapshot of committed transactions;
//   - each Maildir folder under its umstore-uidlist.lock, the flock every
//     writer holds while it changes the folder's files or UID list, so the
//     UID list and the files copied agree (deliveries to that folder wait
//     for the copy of that one folder);
//   - everything else (queue files, TLS keys, spool) as files: each is
//     written whole and renamed into place by its writer.
// With [store] backend = postgresql the messages, accounts and queues are in
// the database: pg_dump takes them as one snapshot (a repeatable-read
// transaction, so the server goes on writing) into DIR/database.pgdump, and
// restore gives them to pg_restore in a single transaction.
// run/ (this server's lock and ports) is not copied. Written files are
// fsynced, and the backup is complete only when DIR/umstore-backup exists.
#include <fcntl.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "common/child_process.hpp"
#include "common/durable_file.hpp"
#include "pgsql/connection.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBackupUsage = R"(usage: umstore [--data-dir DIR] backup TARGET
       umstore [--data-dir DIR] restore SOURCE

backup copies the data directory into TARGET (new or empty) while the server
runs: databases through SQLite's online backup, each mail folder with its UID
list under the folder's lock (so every message keeps its UID and flags),
queues and keys as files. With [store] backend = postgresql the database is
taken by pg_dump as one snapshot. restore copies a complete backup into an
empty (or new) data directory, and a database into the configured one, which
must be new (createdb; no 'umstore db migrate'); no server may run on either.
)";

constexpr const char* kCompleteMark = "umstore-backup";
constexpr const char* kUidList = "umstore-uidlist";
constexpr const char* kUidListLock = "umstore-uidlist.lock";
constexpr const char* kDatabaseDump = "database.pgdump";

void copy_file_durably(const fs::path& from, const fs::path& to) {
  replace_file_durably(to, read_file(from));
}

// SQLite's online backup of a live database into a new file.
void backup_database(const fs::path& from, const fs::path& to) {
  sqlite3* source = nullptr;
  sqlite3* target = nullptr;
  const auto close = [&] {
    sqlite3_close(source);
    sqlite3_close(target);
  };
  if (sqlite3_open_v2(from.c_str(), &source, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(source);
    close();
    throw std::runtime_error("cannot open database " + from.string() + ": " + why);
  }
  if (sqlite3_open_v2(to.c_str(), &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(target);
    close();
    throw std::runtime_error("cannot create database " + to.string() + ": " + why);
  }
  sqlite3_busy_timeout(source, 10000);
  sqlite3_backup* backup = sqlite3_backup_init(target, "main", source, "main");
  int rc = backup ? SQLITE_OK : sqlite3_errcode(target);
  // Every page in one step: a copy that restarts whenever the server writes
  // (as page-by-page steps would) may never finish under load.
  if (backup) {
    do {
      rc = sqlite3_backup_step(backup, -1);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
  }
  const std::string why = sqlite3_errmsg(target);
  close();
  if (rc != SQLITE_DONE) throw std::runtime_error("backup of database " + from.string() + " failed: " + why);
  const UniqueFd fd(::open(to.c_str(), O_RDONLY | O_CLOEXEC));
  fsync_fd(fd.get(), to);
}

bool is_database(const fs::path& file) { return file.extension() == ".db"; }
bool is_database_journal(const fs::path& file) {
  const std::string name = file.filename().string();
  return name.ends_with(".db-wal") || name.ends_with(".db-shm") || name.ends_with(".db-journal");
}

void copy_tree(const fs::path& from, const fs::path& to, const std::vector<fs::path>& skip = {});

// A Maildir folder: its UID list and message files under its lock; tmp/
// (files not yet delivered) stays behind.
void copy_folder(const fs::path& from, const fs::path& to) {
  create_directories_durably(to);
  const FileLock lock(from / kUidListLock);
  for (const auto& entry : fs::directory_iterator(from)) {
    const std::string name = entry.path().filename().string();
    // The full-text index and the metadata files are caches, made again when missing.
    if (name == kUidListLock || name == "tmp" || name == "umstore-fts" || name == "umstore-metadata") continue;
    if (name == "cur" || name == "new") {
      create_directories_durably(to / name);
      for (const auto& message : fs::directory_iterator(entry.path()))
        if (message.is_regular_file()) copy_file_durably(message.path(), to / name / message.path().filename());
      fsync_directory(to / name);
      create_directories_durably(to / "tmp");
    } else if (entry.is_directory()) {
      copy_tree(entry.path(), to / name);  // a subfolder
    } else if (entry.is_regular_file()) {
      copy_file_durably(entry.path(), to / name);
    }
  }
  fsync_directory(to);
}

// Everything below `from` but `skip`, each kind as the header says.
void copy_tree(const fs::path& from, const fs::path& to, const std::vector<fs::path>& skip) {
  if (fs::exists(from / kUidList)) return copy_folder(from, to);
  create_directories_durably(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    const fs::path target = to / entry.path().filename();
    if (std::find(skip.begin(), skip.end(), entry.path()) != skip.end()) {
      continue;
    } else if (entry.is_directory()) {
      copy_tree(entry.path(), target);
    } else if (!entry.is_regular_file() || is_database_journal(entry.path())) {
      continue;  // sockets, links; journals are folded into the database copy
    } else if (is_database(entry.path())) {
      backup_database(entry.path(), target);
    } else {
      copy_file_durably(entry.path(), target);
    }
  }
  fsync_directory(to);
}

void require_empty(const fs::path& dir, const std::string& what) {
  if (fs::exists(dir) && !fs::is_empty(dir))
    throw std::runtime_error(what + " " + dir.string() + " is not empty; give a new or empty directory");
}

// pg_dump or pg_restore to a successful end, or an error a user can act on.
void run_postgresql_tool(const std::vector<std::string>& argv, const Environment& env) {
  const auto status = run_program(argv, env);
  if (!status) throw std::runtime_error(argv[0] + " is not installed (apt-get install postgresql-client)");
  if (*status != 0)
    throw std::runtime_error(argv[0] + " failed (exit status " + std::to_string(*status) + "; its messages are above)");
}

bool in_database(const Settings& s) { return s.store_backend == mailstore::StoreBackend::postgresql; }

// The database pg_restore restores into: the DSN's, or libpq's default (the user's name).
std::string database_name(const Environment& env) {
  for (const char* key : {"PGDATABASE", "PGUSER"})
    for (const auto& [name, value] : env)
      if (name == key) return value;
  const char* user = std::getenv("USER");
  return user ? user : "postgres";
}

void dump_database(const std::string& dsn, const fs::path& file) {
  run_postgresql_tool({"pg_dump", "--format=custom", "--no-owner", "--file=" + file.string()},
                      pgsql::client_environment(dsn));
  const UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  fsync_fd(fd.get(), file);
}

// Into a new database only: restoring over umstore tables would mix two stores.
void restore_database(const std::string& dsn, const fs::path& file) {
  {
    pgsql::Connection c(dsn);
    if (c.exec("SELECT 1 FROM pg_tables WHERE schemaname = 'public' LIMIT 1").rows() > 0)
      throw std::runtime_error("the [store] database already holds tables; restore into a new database (createdb)");
  }
  const Environment env = pgsql::client_environment(dsn);
  run_postgresql_tool({"pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
                       "--dbname=" + database_name(env), file.string()},
                      env);
}

int backup(const Settings& s, const fs::path& target) {
  const DataLayout& data = s.data;
  if (!in_database(s) && !fs::exists(data.accounts_db()))
    throw std::runtime_error("no umstore data in " + data.root.string());
  require_empty(target, "backup directory");
  copy_tree(data.root, target, {data.run_dir()});
  if (in_database(s)) dump_database(s.store_dsn, target / kDatabaseDump);
  replace_file_durably(target / kCompleteMark, "umstore backup of " + data.root.string() + "\n");
  std::cout << "backed up " << data.root.string() << (in_database(s) ? " and the database" : "") << " to "
            << target.string() << "\n";
  return 0;
}

int restore(const Settings& s, const fs::path& source) {
  const DataLayout& data = s.data;
  if (!fs::exists(source / kCompleteMark))
    throw std::runtime_error(source.string() + " is no complete umstore backup (" + kCompleteMark + " is missing)");
  const bool dumped = fs::exists(source / kDatabaseDump);
  if (dumped != in_database(s))
    throw std::runtime_error(dumped ? "this backup holds a PostgreSQL database: restore it with [store] backend = postgresql"
                                    : "this backup holds a Maildir store: restore it with [store] backend = maildir");
  require_empty(data.root, "data directory");
  if (dumped) restore_database(s.store_dsn, source / kDatabaseDump);
  copy_tree(source, data.root, {source / kCompleteMark, source / kDatabaseDump});
  std::cout << "restored " << source.string() << " into " << data.root.string() << (dumped ? " and the database" : "")
            << "\n";
  return 0;
}

}  // namespace

int run_backup(std::span<const std::string> args, bool restoring) {
  CommandLine cmd(args, with_global_options({}));
  if (cmd.printed_help(kBackupUsage)) return 0;
  const Settings s = load_settings(cmd);
  const fs::path dir = fs::absolute(cmd.single(restoring ? "SOURCE directory" : "TARGET directory"));
  return restoring ? restore(s, dir) : backup(s, dir);
}

}  // namespace umstore::app
