#pragma once
#include <filesystem>
#include <string>

#include "command_line.hpp"

namespace umstore::app {

// Where everything lives below the data directory.
struct DataLayout {
  std::filesystem::path root;
  std::filesystem::path accounts_db() const { return root / "accounts.db"; }
  std::filesystem::path mail() const { return root / "mail"; }
  std::filesystem::path tls_dir() const { return root / "tls"; }
  std::filesystem::path run_dir() const { return root / "run"; }
  std::filesystem::path serve_lock() const { return run_dir() / "serve.lock"; }
  std::filesystem::path server_info() const { return run_dir() / "server.json"; }
};

// Configuration: built-in defaults, then the config file (INI), then
// command-line options, each overriding the one before.
struct Settings {
  DataLayout data;
  std::string domain = "localhost";
  std::string smtp_listen = "127.0.0.1:2525";
  std::string imap_listen = "127.0.0.1:1143";
  std::string http_listen = "127.0.0.1:8025";
  std::filesystem::path tls_cert;  // empty: a self-signed one in <data>/tls
  std::filesystem::path tls_key;
  bool imap_login_requires_tls = false;
  std::size_t max_message_bytes = 50u << 20;
  std::string log_level = "info";
};

// Options every command takes.
OptionSpec with_global_options(OptionSpec spec);

Settings load_settings(const CommandLine& cmd);

}  // namespace umstore::app
