#include <fmt/ranges.h>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include "admin/admin_console.hpp"
#include "admin/admin_store.hpp"
#include "admin/issued_token_sync.hpp"
#include "commands.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/periodic_task.hpp"
#include "imap/imap_server.hpp"
#include "mailstore/store_metrics.hpp"
#include "message_aging_job.hpp"
#include "ingest/http_api.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/routing.hpp"
#include "ingest/spool_watcher.hpp"
#include "mailstore/store.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"
#include "acme_service.hpp"
#include "reloadable_tls.hpp"
#include "server_health.hpp"
#include "service_notify.hpp"
#include "settings.hpp"
#include "settings_reload.hpp"
#include "sip/sip_server.hpp"
#include "fax_out_service.hpp"
#include "faxout/fax_out_api.hpp"
#include "smtp/queue_runner.hpp"
#include "smtp/smtp_server.hpp"

namespace umstore::app {
namespace {

// How soon a gateway token issued or revoked elsewhere (`umstore gateway`,
// another node's console) takes effect on this node's gateway API.
constexpr std::chrono::seconds kIssuedTokenRefresh{10};
constexpr int kMallocArenas = 2;
constexpr std::chrono::minutes kHeapTrimInterval{1};

constexpr const char* kServeUsage = R"(usage: umstore serve [--config FILE] [--data-dir DIR] [--smtp ADDR:PORT]
                     [--imap ADDR:PORT] [--http ADDR:PORT] [--domain DOMAIN]
                     [--submission ADDR:PORT] [--admin ADDR:PORT]
                     [--imaps ADDR:PORT] [--submissions ADDR:PORT]

Runs the SMTP server (default 127.0.0.1:2525), the IMAP server (127.0.0.1:1143),
the HTTP API (127.0.0.1:8025) and the admin console (127.0.0.1:8026; an empty
[listen] admin turns it off), and when configured submission (AUTH
required), IMAPS and submission over implicit TLS (RFC 8314: TLS from the
first byte, as ports 993 and 465), until SIGTERM or SIGINT. Port 0 picks a free
port; the ports in use are written to DATA_DIR/run/server.json once every
listener runs (and systemd is told READY=1 under Type=notify). SIGHUP reads
the config file again: log level and format, the TLS certificate, the
limits ([smtp] max_message_bytes, max_recipients, idle_timeout, [codecs],
[sip] rate_limit, rate_window) and the retry schedule ([smtp] retry_base,
retry_max, max_queue_age, delay_warning) change at once, other settings at
the next restart.
)";

// The configured certificate, else the one ACME issued, else a self-signed one in DATA_DIR/tls.
TlsFiles tls_files(const Settings& s) {
  if (!s.tls_cert.empty() && !s.tls_key.empty()) return {s.tls_cert, s.tls_key};
  if (const auto issued = acme_certificate(s)) return {issued->cert, issued->key};
  create_directories_durably(s.data.tls_dir());
  TlsFiles files{s.data.tls_dir() / "cert.pem", s.data.tls_dir() / "key.pem"};
  net::ensure_self_signed_certificate(files.cert, files.key, s.domain);
  return files;
}

void apply_logging(const Settings& s) {
  set_log_level(parse_log_level(s.log_level).value_or(LogLevel::Info));
  set_log_format(parse_log_format(s.log_format).value_or(LogFormat::Text));
  set_log_redact_numbers(s.log_redact_numbers);
}

smtp::RetrySchedule retry_schedule(const Settings& s) {
  return {std::chrono::seconds(s.retry_base_seconds), std::chrono::seconds(s.retry_max_seconds),
          std::chrono::seconds(s.max_queue_age_seconds), std::chrono::seconds(s.delay_warning_seconds)};
}

// What SIGHUP changes under running connections, and the settings last applied.
struct Reloadable {
  ReloadableTls& tls;
  std::vector<smtp::SmtpServer*> smtp_servers;
  smtp::QueueRunner& queue_runner;
  ingest::IngestQueue& ingest_queue;
  sip::SipServer* sip_server;  // null without [sip] listen
  Settings applied;
};

void apply_limits(const Settings& s, Reloadable& running) {
  for (smtp::SmtpServer* server : running.smtp_servers)
    server->set_limits({s.max_message_bytes, s.smtp_max_recipients, std::chrono::seconds(s.smtp_idle_timeout_seconds)});
  running.queue_runner.set_schedule(retry_schedule(s));
  running.ingest_queue.set_codec_limits(s.voice_limits, s.fax_limits);
  if (running.sip_server) running.sip_server->set_rate_limit(s.sip_rate_limit, std::chrono::seconds(s.sip_rate_window));
}

// SIGHUP: the config file is read again and what can change under running
// connections does; a config that does not load changes nothing. The rest
// (listeners, domain, queue schedule) needs a restart, and the log line
// names what changed of it.
void reload(const CommandLine& cmd, Reloadable& running) {
  notify_reloading();
  try {
    Settings fresh = load_settings(cmd);
    const TlsFiles files = tls_files(fresh);
    running.tls.reload(files);
    apply_logging(fresh);
    apply_limits(fresh, running);
    const auto limits = changed_limits(running.applied, fresh);
    const auto waiting = changed_needing_restart(running.applied, fresh);
    log(LogLevel::Info, "serve", "SIGHUP: reloaded log_level={} log_format={} tls_cert={}; limits changed: {}",
        fresh.log_level, fresh.log_format, files.cert.string(), describe(limits));
    if (!waiting.empty())
      log(LogLevel::Warning, "serve", "SIGHUP: changed but kept until the next restart: {}",
          fmt::join(waiting, ", "));
    running.applied = std::move(fresh);
  } catch (const std::exception& e) {
    log(LogLevel::Error, "serve", "SIGHUP: reload failed, running on with the previous settings: {}", e.what());
  }
  notify_service_manager("READY=1");
}

std::string endpoint_text(const net::tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

int run_serve(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--smtp", "--submission", "--submissions", "--imap", "--imaps", "--http", "--admin", "--domain"}, {}}));
  if (cmd.printed_help(kServeUsage)) return 0;
  if (!cmd.positionals().empty()) throw UsageError("serve takes no arguments");
  // glibc gives threads arenas of their own (up to 8 per core) and returns
  // freed memory from the top of each only: 30,000 deliveries into one
  // mailbox left 46 MiB of anonymous memory for a 12 MiB peak heap. With two
  // arenas (before any thread starts) and a trim a minute, 22 MiB, at the
  // same delivery rate (README, Benchmarks: the soak).
  mallopt(M_ARENA_MAX, kMallocArenas);
  const PeriodicTask heap_trim(kHeapTrimInterval, kHeapTrimInterval, [] { malloc_trim(0); });
  Settings s = load_settings(cmd);
  apply_logging(s);
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
  // Left by a server that was killed: it must not point anyone at its ports
  // while this one starts (readers also check its pid and the lock).
  std::filesystem::remove(s.data.server_info());

  const auto [store, account_store] = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *account_store;
  ReloadableTls reloadable_tls(tls_files(s));
  const auto& tls = reloadable_tls.context();

  asio::io_context io;
  // From here on SIGHUP is caught (reloading once io runs) instead of ending the process.
  asio::signal_set hangup(io, SIGHUP);

  // One throttle and one password pool for every listener: a guesser
  // switching protocols keeps its count, and Argon2id's memory is bounded once.
  auth::ThrottleLimits throttle_limits;
  throttle_limits.max_failures_per_address = s.auth_failures_per_address;
  const auto login_throttle = std::make_shared<auth::LoginThrottle>(throttle_limits);
  const auto password_pool = std::make_shared<auth::PasswordPool>(s.password_threads, s.password_queue);
  // One memory budget for what clients make every listener hold.
  const auto buffer_budget = std::make_shared<net::MemoryBudget>(s.buffered_bytes);
  const auto smtp_metrics = std::make_shared<smtp::SmtpMetrics>();  // SMTP, submission and the queue runner

  smtp::SmtpServerConfig smtp_config;
  smtp_config.login_throttle = login_throttle;
  smtp_config.password_pool = password_pool;
  smtp_config.buffer_budget = buffer_budget;
  smtp_config.metrics = smtp_metrics;
  smtp_config.hostname = s.domain;
  smtp_config.local_domains = {s.domain};
  smtp_config.max_message_bytes = s.max_message_bytes;
  smtp_config.max_recipients = s.smtp_max_recipients;
  smtp_config.idle_timeout = std::chrono::seconds(s.smtp_idle_timeout_seconds);
  smtp_config.tls = tls;
  smtp_config.max_connections = s.smtp_connections.total;
  smtp_config.max_connections_per_address = s.smtp_connections.per_address;
  // Mail for other domains and DSNs wait in DATA_DIR/queue; the runner
  // picks up whatever a previous run (or crash) left there.
  const auto opened_queue = s.delivery_queue();
  smtp::DeliveryQueue& smtp_queue = *opened_queue;
  smtp::QueueRunnerConfig runner_config;
  runner_config.hostname = s.domain;
  runner_config.local_domains = {s.domain};
  runner_config.smarthost = s.smarthost;
  runner_config.smarthost_tls = s.smarthost_tls;
  runner_config.schedule = retry_schedule(s);
  // Local copies get playable forms and folder filing (delivery/).
  delivery::DeliverySettings delivery_policy;
  delivery_policy.domain = s.domain;
  delivery_policy.gateways = s.gateway_emails;
  delivery_policy.destinations = s.relay_profiles;
  delivery_policy.mailbox_profiles = [&accounts](std::string_view number) {
    return delivery::mailbox_profile(accounts, number);
  };
  delivery_policy.mailbox_exists = [&accounts](std::string_view number) {
    return accounts.find(number).has_value();
  };
  runner_config.delivery_policy = delivery_policy;
  for (const auto& key : s.dkim_keys)  // a key that cannot be used stops the start, naming the file
    runner_config.dkim_keys.push_back(mailauth::load_dkim_key(key.domain, key.selector, key.key));
  runner_config.metrics = smtp_metrics;
  // One resolver (one cache) for sender authentication and ENUM.
  const auto resolver = std::make_shared<dns::Resolver>(s.dns);
  if (!s.enum_trees.empty()) runner_config.enum_routes = std::make_shared<dns::EnumLookup>(resolver, s.enum_trees);
  runner_config.resolver = resolver;  // MX lookups too
  if (s.mta_sts)
    runner_config.mta_sts = std::make_shared<smtp::MtaStsPolicies>(
        smtp::MtaStsConfig{resolver, s.data.root / "mta-sts", s.mta_sts_ca_file, std::chrono::seconds(30), 443});
  // Copies the ingest queue forwards to a mailbox's email address leave with
  // this return path and the ingest id as ENVID; DSNs to it update the job.
  const std::string ingest_return_path = s.ingest_return_path.empty() ? "ingest-dsn@" + s.domain : s.ingest_return_path;
  ingest::IngestQueue* ingest_reports = nullptr;  // set below, before the runner starts
  runner_config.report_address = ingest_return_path;
  runner_config.report_sink = [&ingest_reports](std::string_view message) {
    return ingest_reports && ingest_reports->apply_report(message);
  };
  smtp::QueueRunner queue_runner(runner_config, smtp_queue, *store, accounts);
  smtp_config.queue = &smtp_queue;
  smtp_config.queued = [&queue_runner] { queue_runner.wake(); };
  smtp_config.trusted_networks = s.trusted_networks;
  smtp_config.aliases = s.smtp_aliases;
  smtp_config.report_address = ingest_return_path;
  smtp_config.delivery_policy = delivery_policy;
  smtp_config.enum_routes = runner_config.enum_routes;
  if (s.mailauth_enabled)
    smtp_config.sender_checks = smtp::SenderChecks{resolver,
                                                   s.mailauth_authserv_id.empty() ? s.domain : s.mailauth_authserv_id};
  smtp_config.auth = true;
  smtp_config.auth_requires_tls = s.auth_requires_tls;
  std::unique_ptr<FaxOutService> fax_out;  // [fax_out]: its dialler starts with the SIP endpoint
  if (s.fax_out) {
    fax_out = std::make_unique<FaxOutService>(s);
    smtp_config.fax_outbox = fax_out->outbox();
  }
  std::unique_ptr<smtp::SmtpServer> submission_server;
  if (!s.submission_listen.empty()) {
    auto submission_config = smtp_config;
    submission_config.require_auth = true;  // RFC 6409
    submission_server = std::make_unique<smtp::SmtpServer>(io, net::parse_endpoint(s.submission_listen),
                                                           submission_config, *store, accounts);
  }
  std::unique_ptr<smtp::SmtpServer> submissions_server;  // RFC 8314: submission with TLS from the first byte
  if (!s.submissions_listen.empty()) {
    auto submissions_config = smtp_config;
    submissions_config.require_auth = true;
    submissions_config.implicit_tls = true;
    submissions_server = std::make_unique<smtp::SmtpServer>(io, net::parse_endpoint(s.submissions_listen),
                                                            submissions_config, *store, accounts);
  }
  smtp::SmtpServer smtp_server(io, net::parse_endpoint(s.smtp_listen), smtp_config, *store, accounts);

  imap::ImapServerConfig imap_config;
  imap_config.hostname = s.domain;
  imap_config.tls = tls;
  imap_config.login_requires_tls = s.imap_login_requires_tls;
  imap_config.max_connections = s.imap_connections.total;
  imap_config.login_throttle = login_throttle;
  imap_config.password_pool = password_pool;
  imap_config.literal_budget = buffer_budget;
  imap_config.max_connections_per_address = s.imap_connections.per_address;
  if (!s.imaps_listen.empty()) imap_config.implicit_tls_listen = net::parse_endpoint(s.imaps_listen);
  imap::ImapServer imap_server(io, net::parse_endpoint(s.imap_listen), imap_config, *store, accounts);

  // The ingest queue is the single point of durability for gateways: the
  // HTTP API and the spool both submit into it, workers deliver into the store.
  ingest::IngestQueueConfig queue_config = s.ingest_queue();
  queue_config.mailbox_profiles = delivery_policy.mailbox_profiles;  // forms and folders, as for SMTP
  queue_config.forward_address = [&accounts](std::string_view number) {
    const auto account = accounts.find(number);
    return account ? account->email : std::string();
  };
  queue_config.forward = [&smtp_queue, &queue_runner, &ingest_return_path,
                          &accounts](const ingest::ForwardRequest& copy) {
    smtp::QueuedEnvelope envelope;
    // One queue entry per ingest job: queued again after a crash, it is not doubled.
    envelope.id = "F" + copy.id;
    if (smtp_queue.envelope(envelope.id)) return;
    envelope.sender = ingest_return_path;
    envelope.envid = smtp::xtext_encode(copy.id);
    envelope.received_from = "umstore ingest";
    envelope.arrival = smtp::Clock::now();
    envelope.next_attempt = envelope.arrival;
    smtp::QueuedRecipient to;
    to.address = copy.to;
    to.mailbox = queue_runner.local_mailbox(copy.to);
    // A number of ours without a mailbox (enum_address): left to the runner, which follows its ENUM route.
    if (!to.mailbox.empty() && !accounts.find(to.mailbox)) to.mailbox.clear();
    envelope.recipients.push_back(std::move(to));
    smtp_queue.enqueue(envelope, copy.rfc822);
    queue_runner.wake();
  };
  // Gateways' voicemail and fax for a number without a mailbox here follow
  // the number's ENUM route through the SMTP queue, as SMTP mail to it does.
  const bool enum_routing = runner_config.enum_routes != nullptr;
  if (enum_routing)
    queue_config.enum_address = [&accounts, domain = s.domain](std::string_view number) {
      return accounts.find(number) ? std::string() : std::string(number) + "@" + domain;
    };
  ingest::IngestQueue ingest_queue(queue_config, *store);
  ingest_reports = &ingest_queue;
  ingest::RoutingRules routing = s.routing;
  routing.enum_for_unknown = enum_routing;
  ingest::Router router(routing, accounts);
  ingest::SpoolWatcher spool(s.spool_dir, ingest_queue, router);
  // Admin accounts, the audit log and the gateway tokens issued in the console or with `umstore gateway`.
  const std::unique_ptr<admin::AdminStore> admin_store = open_admin_store(s);
  std::unique_ptr<admin::AdminConsole> admin_console;  // set below when [listen] admin is
  ingest_queue.on_final([&spool, &admin_console](const ingest::IngestStatus& status) {
    spool.on_final(status);
    if (admin_console) admin_console->record_final(status);
  });
  ServerHealth health(s.data, accounts, smtp_queue, ingest_queue);
  ingest::HttpApiConfig http_config;
  http_config.gateway_tokens = s.gateway_tokens;
  // Gateway tokens issued in a console or with `umstore gateway`: kept (hashed) in the admin store.
  auto issued_tokens = std::make_shared<auth::GatewayTokens>();
  const admin::IssuedTokenSync token_sync(*admin_store, issued_tokens, kIssuedTokenRefresh);
  http_config.issued_tokens = issued_tokens;
  http_config.max_connections = s.http_connections.total;
  http_config.login_throttle = login_throttle;
  http_config.body_budget = buffer_budget;
  http_config.max_connections_per_address = s.http_connections.per_address;
  http_config.gateway_callbacks = s.gateway_callbacks;
  if (fax_out)
    http_config.gateway_endpoints["/v1/fax-out"] = [outbox = fax_out->outbox(), callbacks = s.gateway_callbacks](
                                                       const http::Request& request, std::string_view path,
                                                       const std::string& gateway) {
      const auto callback = callbacks.find(gateway);
      return faxout::handle_fax_out_request(request, path, gateway,
                                            callback == callbacks.end() ? "" : callback->second, *outbox);
    };
  http_config.probes["/healthz"] = [&health] { return health.health(); };
  http_config.probes["/readyz"] = [&health] { return health.readiness(); };
  std::unique_ptr<sip::SipServer> sip_server;  // set below when [sip] listen is
  http_config.more_metrics = [&] {
    std::string out = health.metrics();
    smtp_metrics->append(out, smtp_queue);
    imap_server.metrics().append(out);
    if (sip_server) sip_server->append_metrics(out);
    if (queue_config.settings.recognition.pool) queue_config.settings.recognition.pool->append_metrics(out);
    mailstore::append_store_metrics(out);
    return out;
  };
  ingest::HttpApi http_api(io, net::parse_endpoint(s.http_listen), http_config, ingest_queue, router);
  // A mailbox's greeting file: the SIP endpoint plays it, the console sets it.
  std::function<std::optional<std::filesystem::path>(std::string_view)> greeting_for;
  if (!s.sip_greeting_dir.empty())
    greeting_for = [dir = s.sip_greeting_dir](std::string_view number) {
      return std::optional<std::filesystem::path>(greeting_file(dir, number));
    };
  if (!s.admin_listen.empty()) {
    admin::AdminConsoleConfig admin_config;
    admin_config.server.name = "admin";
    admin_config.server.max_connections = s.http_connections.total;
    admin_config.server.max_connections_per_address = s.http_connections.per_address;
    admin_config.server.body_budget = buffer_budget;
    admin_config.server.max_body_bytes = admin::kMaxGreetingUploadBytes;  // JSON, and greetings
    if (s.admin_tls) admin_config.server.tls = tls;
    std::vector<std::string> gateways;
    for (const auto& [token, name] : s.gateway_tokens) gateways.push_back(name);
    admin_console = std::make_unique<admin::AdminConsole>(
        io, net::parse_endpoint(s.admin_listen), admin_config,
        admin::AdminServices{*admin_store, accounts, *store, smtp_queue, ingest_queue, gateways, login_throttle,
                             [&queue_runner] { queue_runner.wake(); }, s.aging, greeting_for,
                             issued_tokens, s.spool_dir, s.data.root / "tmp", queue_config.settings.decode,
                             fax_out ? &fax_out->jobs() : nullptr});
  }
  ingest_queue.start();
  spool.start();
  const AgingSchedule aging(*store, accounts, s.aging, admin_store.get(), std::chrono::seconds(s.aging_interval_seconds));

  // Calls forwarded by SIP gateways: recordings and faxes go through the ingest queue.
  if (!s.sip_listen.empty()) {
    sip::SipServerConfig sip_config;
    const auto sip_endpoint = net::parse_endpoint(s.sip_listen);
    sip_config.listen = asio::ip::udp::endpoint(sip_endpoint.address(), sip_endpoint.port());
    for (const auto& g : s.sip_gateways) sip_config.allowed_gateways.push_back(asio::ip::make_address(g));
    sip_config.max_calls = s.sip_max_calls;
    sip_config.max_subscriptions = s.sip_max_subscriptions;
    sip_config.max_subscriptions_per_address = s.sip_max_subscriptions_per_address;
    sip_config.recordings_dir = s.data.root / "sip" / "recordings";
    sip_config.catch_all_mailbox = s.sip_catch_all;
    sip_config.enum_for_unknown = enum_routing && s.sip_catch_all.empty();
    sip_config.tcp = s.sip_tcp;
    sip_config.tcp_idle_timeout = std::chrono::seconds(s.sip_tcp_idle_timeout);
    if (!s.sip_tls_listen.empty()) {
      sip_config.tls_listen = net::parse_endpoint(s.sip_tls_listen);
      sip_config.tls = tls;  // the [tls] (or [acme]) certificate, reloaded with it
      sip_config.tls_client_ca = s.sip_tls_client_ca;
    }
    sip_config.tls_ca_file = s.sip_tls_ca_file;  // faxes we dial over TLS need no listener
    if (s.sip_tls_present_certificate)  // the certificate served now: a reload changes it for new connections
      sip_config.tls_client_certificate = [&reloadable_tls](SSL* ssl) { return reloadable_tls.present(ssl); };
    sip_config.srtp = s.sip_srtp == "off"        ? sip::SipServerConfig::Srtp::Off
                      : s.sip_srtp == "required" ? sip::SipServerConfig::Srtp::Required
                                                 : sip::SipServerConfig::Srtp::Optional;
    sip_config.requests_per_window = s.sip_rate_limit;
    sip_config.rate_window = std::chrono::seconds(s.sip_rate_window);
    sip_config.auth_realm = s.sip_auth_realm;
    sip_config.auth_users = s.sip_auth_users;
    sip_config.auth_algorithms = s.sip_auth_algorithms;
    sip_config.greeting_for = greeting_for;
    sip_config.deliver = [&ingest_queue](ingest::Recording recording) {
      ingest::SubmitOptions options;
      options.source = "sip";
      ingest_queue.submit(recording, options);
    };
    if (s.store_backend == mailstore::StoreBackend::postgresql) {  // subscriptions outlive this node
      sip_config.subscriptions_dsn = s.store_dsn;
      sip_config.node_id = s.node_id;
      sip_config.subscription_lease = std::chrono::seconds(s.lease_seconds);
    }
    sip_server = std::make_unique<sip::SipServer>(io, std::move(sip_config), accounts, *store);
    sip_server->start();
    if (fax_out) fax_out->start(*sip_server, smtp_queue, queue_runner, runner_config.enum_routes, resolver);
  }

  Reloadable running{reloadable_tls, {&smtp_server}, queue_runner, ingest_queue, sip_server.get(), s};
  if (submission_server) running.smtp_servers.push_back(submission_server.get());
  if (submissions_server) running.smtp_servers.push_back(submissions_server.get());
  std::function<void()> await_hangup = [&] {
    hangup.async_wait([&](const std::error_code& ec, int) {
      if (ec) return;
      reload(cmd, running);
      await_hangup();
    });
  };
  await_hangup();

  // [acme]: the certificate from the CA, presented by every listener once issued or renewed.
  std::unique_ptr<AcmeService> acme_service;
  if (s.acme.enabled) {
    acme_service = std::make_unique<AcmeService>(io, s, [&reloadable_tls, &s] {
      try {
        reloadable_tls.reload(tls_files(s));
      } catch (const std::exception& e) {
        log(LogLevel::Error, "acme", "cannot present the new certificate: {}", e.what());
      }
    });
    acme_service->start();
  }

  smtp_server.start();
  if (submission_server) submission_server->start();
  if (submissions_server) submissions_server->start();
  queue_runner.start();
  imap_server.start();
  http_api.start();
  if (admin_console) admin_console->start();

  nlohmann::json info = {{"pid", ::getpid()},
                         {"data_dir", s.data.root.string()},
                         {"domain", s.domain},
                         {"smtp", endpoint_text(smtp_server.local_endpoint())},
                         {"imap", endpoint_text(imap_server.local_endpoint())},
                         {"http", endpoint_text(http_api.local_endpoint())},
                         {"spool", s.spool_dir.string()}};
  if (admin_console) info["admin"] = endpoint_text(admin_console->local_endpoint());
  if (submission_server) info["submission"] = endpoint_text(submission_server->local_endpoint());
  if (submissions_server) info["submissions"] = endpoint_text(submissions_server->local_endpoint());
  if (const auto imaps = imap_server.implicit_tls_endpoint()) info["imaps"] = endpoint_text(*imaps);
  if (acme_service) info["acme_http"] = endpoint_text(acme_service->challenge_endpoint());
  if (sip_server) {
    const auto sip_endpoint = sip_server->local_endpoint();
    info["sip"] = sip_endpoint.address().to_string() + ":" + std::to_string(sip_endpoint.port());
    if (const auto sip_tls = sip_server->tls_endpoint()) info["sip_tls"] = endpoint_text(*sip_tls);
  }
  replace_file_durably(s.data.server_info(), info.dump(2) + "\n");
  health.set_ready(true);
  notify_service_manager("READY=1\nMAINPID=" + std::to_string(::getpid()));
  log(LogLevel::Info, "serve", "umstore {} ready: smtp {} imap {} http {} domain {} data {}", UMSTORE_VERSION,
      info["smtp"].get<std::string>(), info["imap"].get<std::string>(), info["http"].get<std::string>(), s.domain,
      s.data.root.string());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal) {
    if (ec) return;
    log(LogLevel::Info, "serve", "signal {}: shutting down", signal);
    health.set_ready(false);
    notify_service_manager("STOPPING=1");
    if (acme_service) acme_service->stop();
    smtp_server.stop();
    if (submission_server) submission_server->stop();
    if (submissions_server) submissions_server->stop();
    imap_server.stop();
    http_api.stop();
    if (admin_console) admin_console->stop();
    if (sip_server) sip_server->stop();
    hangup.cancel();
    io.stop();
  });

  // Connections are coroutines on strands, so a few threads share all of
  // them; more threads than cores would only add contention.
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::jthread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  pool.clear();
  if (fax_out) fax_out->stop();
  queue_runner.stop();
  spool.stop();
  ingest_queue.stop();
  std::filesystem::remove(s.data.server_info());
  log(LogLevel::Info, "serve", "stopped");
  return 0;
}

}  // namespace umstore::app
