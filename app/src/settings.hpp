#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codecs/audio.hpp"
#include "codecs/fax.hpp"
#include "command_line.hpp"
#include "fax_out_settings.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/routing.hpp"
#include "dns/resolver.hpp"
#include "mailstore/message_aging.hpp"
#include "mailstore/store.hpp"
#include "recognition_settings.hpp"
#include "smtp/relay_client.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::admin {
class AdminStore;
}

namespace umstore::app {

// Where everything lives below the data directory.
// A mailbox's greeting, <greeting_dir>/<NUMBER>.wav: the SIP endpoint
// plays it, the console sets it, an erasure of the mailbox removes it.
inline std::filesystem::path greeting_file(const std::filesystem::path& greeting_dir, std::string_view number) {
  return greeting_dir / (std::string(number) + ".wav");
}

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

// Connections one listener takes at once ([limits]): in all, and from one
// IP address (below the total, so one client cannot lock the others out).
struct ConnectionLimit {
  std::size_t total;
  std::size_t per_address;
};

// A DKIM signing key ([dkim] or [dkim.NAME]): read when the server starts.
struct DkimKeySetting {
  std::string domain;
  std::string selector;
  std::filesystem::path key;
};

// Configuration: built-in defaults, then the config file (INI), then
// command-line options, each overriding the one before.
struct Settings {
  DataLayout data;
  mailstore::StoreBackend store_backend = mailstore::StoreBackend::maildir;  // [store] backend
  std::string store_dsn;                                                     // [store] dsn
  std::size_t store_pool_size = 16;                                          // [store] pool_size
  bool store_fulltext_index = true;                                          // [store] fulltext_index
  std::size_t accounts_pool_size = 4;                                        // [store] accounts_pool_size
  std::size_t ingest_pool_size = 4;                                          // [store] ingest_pool_size
  std::size_t smtp_queue_pool_size = 2;                                      // [store] smtp_queue_pool_size
  std::size_t mailboxes_in_memory = 1000;                                    // [store] mailboxes_in_memory
  mailstore::StoreSettings store() const {
    return {store_backend,   data.mail(),          data.accounts_db(), store_dsn,
            store_pool_size, store_fulltext_index, accounts_pool_size, mailboxes_in_memory};
  }
  // [cluster]: this node's name among the nodes sharing one database (unique
  // per node; default: the host name), and how long a job stays with a node
  // that stopped renewing its leases before another takes it over.
  std::string node_id;
  unsigned lease_seconds = 30;
  // The ingest queue as configured: jobs in the database with the
  // PostgreSQL backend (shared by the nodes), else under the data directory.
  // A command that runs a queue of its own for a while (ingest, import) is
  // a node of its own: its jobs must not look like the server's, whose
  // heartbeat would then keep them leased after the command is gone.
  enum class QueueOwner { server, command };
  ingest::IngestQueueConfig ingest_queue(QueueOwner owner = QueueOwner::server) const;
  // The SMTP delivery queue, where the ingest queue's jobs are kept too.
  std::unique_ptr<smtp::DeliveryQueue> delivery_queue() const;
  std::string domain = "localhost";
  std::string smtp_listen = "127.0.0.1:2525";
  std::string imap_listen = "127.0.0.1:1143";
  std::string imaps_listen;                  // IMAP over implicit TLS (993); empty: none
  std::string http_listen = "127.0.0.1:8025";
  std::string admin_listen = "127.0.0.1:8026";  // the admin console and API; empty: none
  bool admin_tls = false;                        // [admin] tls: https on the admin listener ([tls] certificate)
  // [acme]: the [tls] certificate from an ACME CA (RFC 8555), kept in <data>/acme.
  struct Acme {
    bool enabled = false;
    std::string directory;                 // the CA's directory URL
    std::vector<std::string> domains;      // empty: the server's domain
    std::string email;                     // contact for the CA; may be empty
    std::filesystem::path ca_file;         // CAs trusted for the ACME server besides the system's
    std::string http_listen = "0.0.0.0:80";  // where http-01 challenges are answered
    unsigned renew_before_days = 30;
  } acme;
  std::filesystem::path acme_dir() const { return data.root / "acme"; }
  std::filesystem::path tls_cert;  // empty: a self-signed one in <data>/tls
  std::filesystem::path tls_key;
  bool imap_login_requires_tls = false;
  std::size_t max_message_bytes = 50u << 20;
  unsigned smtp_max_recipients = 100;            // [smtp] max_recipients: RCPTs per message
  unsigned smtp_idle_timeout_seconds = 300;      // [smtp] idle_timeout: RFC 5321 4.5.3.2 asks for 5 minutes
  ConnectionLimit smtp_connections{1000, 50};   // each of the SMTP and submission listeners
  ConnectionLimit imap_connections{20000, 100};
  ConnectionLimit http_connections{1000, 50};
  unsigned auth_failures_per_address = 20;      // then the address is refused for 15 minutes
  unsigned password_threads = 2;                // concurrent Argon2id checks (64 MiB each)
  unsigned password_queue = 8;                  // checks waiting; more get a temporary failure
  std::size_t buffered_bytes = 512u << 20;      // client input held in memory: SMTP, IMAP literals, HTTP bodies
  // SMTP relaying, submission and the queue ([smtp] and [listen] submission).
  std::string submission_listen;             // empty: no submission listener
  std::string submissions_listen;            // submission over implicit TLS (465); empty: none
  std::string smarthost;                     // host:port; empty: MX hosts
  std::vector<std::string> trusted_networks; // may relay without AUTH
  bool auth_requires_tls = true;
  unsigned retry_base_seconds = 60;
  unsigned retry_max_seconds = 3600;
  unsigned max_queue_age_seconds = 5 * 24 * 3600;
  unsigned delay_warning_seconds = 4 * 3600;
  smtp::RelayTlsPolicy smarthost_tls;        // [smtp] smarthost_tls, smarthost_ca_file
  bool mta_sts = true;                       // [smtp] mta_sts: MX delivery honours MTA-STS policies
  std::filesystem::path mta_sts_ca_file;     // [smtp] mta_sts_ca_file: CAs trusted besides the system's
  std::map<std::string, std::vector<std::string>> smtp_aliases;  // [aliases] local part -> mailboxes
  // Sender authentication of inbound SMTP ([mailauth]) and DKIM signing of
  // what leaves ([dkim]).
  bool mailauth_enabled = false;
  std::string mailauth_authserv_id;   // empty: the domain
  dns::DnsConfig dns;                   // [dns] resolver, timeout
  std::vector<std::string> enum_trees;  // [enum] domains, in the order to ask them
  std::vector<DkimKeySetting> dkim_keys;
  std::string log_level = "info";     // [umstore] log_level: debug, info, warning, error
  std::string log_format = "text";    // [log] format: text or json (common/log.hpp)
  bool log_redact_numbers = false;    // [log] redact_numbers: mask E.164 numbers in the log
  // Message aging ([aging]): the days of a mailbox without its own setting
  // (0 = never), and how often `serve` runs it.
  mailstore::AgingDays aging;                   // move_to_trash_days, purge_trash_days
  unsigned aging_interval_seconds = 3600;       // interval_seconds
  // Gateway ingest ([ingest], [gateways], [routing]).
  std::filesystem::path spool_dir;                    // empty: <data>/spool
  unsigned ingest_workers = 2;
  unsigned ingest_batch = 8;                          // due voice jobs a worker encodes side by side
  // [ingest] sandbox, decode_cpu_seconds, decode_memory_mb, decode_wall_seconds:
  // recordings decoded by umstore-decode beside this program, confined
  // (load_settings turns it on).
  ingest::DecodeSandbox decode;
  std::map<std::string, std::string> gateway_tokens;  // token -> gateway name
  std::map<std::string, std::string> gateway_callbacks;  // gateway name -> webhook URL ([webhooks])
  std::vector<unsigned> ingest_retry_intervals = {60};  // seconds between retries; the last repeats
  unsigned ingest_max_age_seconds = 24 * 3600;          // temporary failures become final after this
  unsigned webhook_attempts = 10;
  unsigned webhook_retry_base_seconds = 5;              // doubling up to webhook_retry_max
  unsigned webhook_retry_max_seconds = 600;
  std::filesystem::path webhook_ca_file;                // PEM CAs for https:// webhooks besides the system CAs
  std::string ingest_return_path;                       // envelope sender of forwarded copies; empty: ingest-dsn@domain
  ingest::RoutingRules routing;
  // SIP endpoint ([sip]): listen empty = no SIP endpoint.
  std::string sip_listen;                                // e.g. 0.0.0.0:5060 (UDP)
  std::vector<std::string> sip_gateways = {"127.0.0.1"}; // addresses that may INVITE/SUBSCRIBE
  unsigned sip_max_calls = 200;
  unsigned sip_max_subscriptions = 10000;                // live message-summary subscriptions
  unsigned sip_max_subscriptions_per_address = 2000;     // of them from one source address
  std::filesystem::path sip_greeting_dir;                // <dir>/<+NUMBER>.wav per mailbox
  std::string sip_catch_all;                             // mailbox for unknown targets; empty: 404
  bool sip_tcp = true;                                   // TCP on the listen port number too
  unsigned sip_tcp_idle_timeout = 300;                   // seconds
  std::string sip_tls_listen;                            // SIP over TLS, e.g. 0.0.0.0:5061; empty: none
  std::filesystem::path sip_tls_client_ca;               // set: gateways' TLS client certificates must chain to these
  std::filesystem::path sip_tls_ca_file;                 // besides the system's, the CAs of gateways we call over TLS
  bool sip_tls_present_certificate = false;              // gateways we call over TLS that ask get the [tls] certificate
  std::string sip_srtp = "optional";                     // off | optional | required
  unsigned sip_rate_limit = 200;                         // INVITEs + SUBSCRIBEs per source per window
  unsigned sip_rate_window = 10;                         // seconds
  std::string sip_auth_realm;                            // set: digest authentication required
  std::vector<std::pair<std::string, std::string>> sip_auth_users;  // user, password
  std::vector<std::string> sip_auth_algorithms = {"SHA-256", "MD5"};
  // Voicemail emails from PBXs turned into VPIM ([gateway_email.NAME]) and
  // the form relayed messages take per recipient domain ([relay] profiles).
  std::vector<delivery::GatewayRule> gateway_emails;
  delivery::DestinationRules relay_profiles;
  // Limits on what the codecs accept ([codecs]): voice and fax inputs over
  // them are refused with an error naming the file and the limit.
  codecs::AudioLimits voice_limits;
  codecs::FaxLimits fax_limits;
  RecognitionConfig recognition;  // [transcription], [fax_ocr]
  std::optional<FaxOutSettings> fax_out;  // [fax_out]: unset without a gateway
  std::filesystem::path fax_queue() const { return data.queue() / "fax"; }
};

// Options every command takes.
OptionSpec with_global_options(OptionSpec spec);

Settings load_settings(const CommandLine& cmd);

// The admin accounts and audit log, next to the mailbox accounts of the configured backend.
std::unique_ptr<admin::AdminStore> open_admin_store(const Settings& s);

// "a, b,,c" -> {"a", "b", "c"}: the lists config values (and some options) hold.
std::vector<std::string> comma_list(const std::string& text);

}  // namespace umstore::app
