#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "ingest/routing.hpp"

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
  std::filesystem::path queue() const { return root / "queue"; }
  std::filesystem::path ingest_dir() const { return root / "ingest"; }
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
  // SMTP relaying, submission and the queue ([smtp] and [listen] submission).
  std::string submission_listen;             // empty: no submission listener
  std::string smarthost;                     // host:port; empty: MX hosts
  std::vector<std::string> trusted_networks; // may relay without AUTH
  bool auth_requires_tls = true;
  unsigned retry_base_seconds = 60;
  unsigned retry_max_seconds = 3600;
  unsigned max_queue_age_seconds = 5 * 24 * 3600;
  unsigned delay_warning_seconds = 4 * 3600;
  std::string log_level = "info";
  // Gateway ingest ([ingest], [gateways], [routing]).
  std::filesystem::path spool_dir;                    // empty: <data>/spool
  unsigned ingest_workers = 2;
  std::map<std::string, std::string> gateway_tokens;  // token -> gateway name
  ingest::RoutingRules routing;
  // SIP endpoint ([sip]): listen empty = no SIP endpoint.
  std::string sip_listen;                                // e.g. 0.0.0.0:5060 (UDP)
  std::vector<std::string> sip_gateways = {"127.0.0.1"}; // addresses that may INVITE/SUBSCRIBE
  unsigned sip_max_calls = 200;
  std::filesystem::path sip_greeting_dir;                // <dir>/<+NUMBER>.wav per mailbox
  std::string sip_catch_all;                             // mailbox for unknown targets; empty: 404
};

// Options every command takes.
OptionSpec with_global_options(OptionSpec spec);

Settings load_settings(const CommandLine& cmd);

}  // namespace umstore::app
