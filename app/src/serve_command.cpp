#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "imap/imap_server.hpp"
#include "ingest/http_api.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"
#include "settings.hpp"
#include "smtp/smtp_server.hpp"

namespace umstore::app {
namespace {

constexpr const char* kServeUsage = R"(usage: umstore serve [--config FILE] [--data-dir DIR] [--smtp ADDR:PORT]
                     [--imap ADDR:PORT] [--http ADDR:PORT] [--domain DOMAIN]

Runs the SMTP server (default 127.0.0.1:2525), the IMAP server (127.0.0.1:1143)
and the HTTP API (127.0.0.1:8025) until SIGTERM or SIGINT. Port 0 picks a free
port; the ports in use are written to DATA_DIR/run/server.json.
)";

std::shared_ptr<asio::ssl::context> tls_context(const Settings& s) {
  auto cert = s.tls_cert, key = s.tls_key;
  if (cert.empty() || key.empty()) {
    create_directories_durably(s.data.tls_dir());
    cert = s.data.tls_dir() / "cert.pem";
    key = s.data.tls_dir() / "key.pem";
    net::ensure_self_signed_certificate(cert, key, s.domain);
  }
  return net::make_server_tls_context(cert, key);
}

LogLevel parse_log_level(const std::string& text) {
  if (text == "debug") return LogLevel::Debug;
  if (text == "warning") return LogLevel::Warning;
  if (text == "error") return LogLevel::Error;
  return LogLevel::Info;
}

std::string endpoint_text(const net::tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

int run_serve(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--smtp", "--imap", "--http", "--domain"}, {}}));
  if (cmd.wants_help()) {
    std::cout << kServeUsage;
    return 0;
  }
  if (!cmd.positionals().empty()) throw UsageError("serve takes no arguments");
  Settings s = load_settings(cmd);
  set_log_level(parse_log_level(s.log_level));
  create_directories_durably(s.data.run_dir());
  create_directories_durably(s.data.mail());

  // One server per data directory: the ingest CLI uses this lock to decide
  // whether to hand messages to a running server or to deliver itself.
  FileLock lock(s.data.serve_lock(), FileLock::Mode::Try);
  if (!lock.held()) {
    std::cerr << "umstore serve: another umstore serve is running with data directory " << s.data.root.string()
              << "\n";
    return 1;
  }

  mailstore::AccountStore accounts(s.data.accounts_db());
  auto store = mailstore::open_maildir_store(s.data.mail());
  auto tls = tls_context(s);

  asio::io_context io;
  smtp::SmtpServerConfig smtp_config;
  smtp_config.hostname = s.domain;
  smtp_config.local_domains = {s.domain};
  smtp_config.max_message_bytes = s.max_message_bytes;
  smtp_config.tls = tls;
  smtp::SmtpServer smtp_server(io, net::parse_endpoint(s.smtp_listen), smtp_config, *store, accounts);

  imap::ImapServerConfig imap_config;
  imap_config.hostname = s.domain;
  imap_config.tls = tls;
  imap_config.login_requires_tls = s.imap_login_requires_tls;
  imap::ImapServer imap_server(io, net::parse_endpoint(s.imap_listen), imap_config, *store, accounts);

  ingest::HttpApi http_api(io, net::parse_endpoint(s.http_listen), ingest::HttpApiConfig{});

  smtp_server.start();
  imap_server.start();
  http_api.start();

  nlohmann::json info = {{"pid", ::getpid()},
                         {"data_dir", s.data.root.string()},
                         {"domain", s.domain},
                         {"smtp", endpoint_text(smtp_server.local_endpoint())},
                         {"imap", endpoint_text(imap_server.local_endpoint())},
                         {"http", endpoint_text(http_api.local_endpoint())}};
  replace_file_durably(s.data.server_info(), info.dump(2) + "\n");
  log(LogLevel::Info, "serve", "umstore {} ready: smtp {} imap {} http {} domain {} data {}", UMSTORE_VERSION,
      info["smtp"].get<std::string>(), info["imap"].get<std::string>(), info["http"].get<std::string>(), s.domain,
      s.data.root.string());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal) {
    if (ec) return;
    log(LogLevel::Info, "serve", "signal {}: shutting down", signal);
    smtp_server.stop();
    imap_server.stop();
    http_api.stop();
    io.stop();
  });

  // Connections are coroutines on strands, so a few threads share all of
  // them; more threads than cores would only add contention.
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::jthread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  pool.clear();
  std::filesystem::remove(s.data.server_info());
  log(LogLevel::Info, "serve", "stopped");
  return 0;
}

}  // namespace umstore::app
