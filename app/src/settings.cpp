#include "settings.hpp"
#include "common/ascii.hpp"
#include "common/log.hpp"

#include <fmt/format.h>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <limits>

namespace umstore::app {

OptionSpec with_global_options(OptionSpec spec) {
  spec.with_value.insert({"--data-dir", "--config"});
  return spec;
}

std::vector<std::string> comma_list(const std::string& text) {
  Poco::StringTokenizer items(text, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  return {items.begin(), items.end()};
}

namespace {

// [ingest] sandbox, decode_cpu_seconds, decode_memory_mb, decode_wall_seconds:
// the decoder process and its limits, each at least 1.
void apply_decode_config(const Poco::Util::AbstractConfiguration& ini, ingest::DecodeSandbox& decode) {
  decode.enabled = ini.getBool("ingest.sandbox", decode.enabled);
  const auto positive = [&](const std::string& key, std::uint64_t fallback) -> std::uint64_t {
    if (!ini.has("ingest." + key)) return fallback;
    try {
      if (const std::uint64_t value = ini.getUInt64("ingest." + key); value > 0 && value <= 1u << 20) return value;
    } catch (const Poco::Exception&) {
    }
    throw UsageError("[ingest] " + key + " must be a whole number from 1 to 1048576, not '" +
                     ini.getString("ingest." + key) + "'");
  };
  decode.cpu = std::chrono::seconds(positive("decode_cpu_seconds", static_cast<std::uint64_t>(decode.cpu.count())));
  decode.memory_mb = static_cast<std::size_t>(positive("decode_memory_mb", decode.memory_mb));
  decode.wall = std::chrono::seconds(positive("decode_wall_seconds", static_cast<std::uint64_t>(decode.wall.count())));
}

// [ingest] spool_dir, workers, batch, retry_intervals, max_age, webhook_attempts,
// webhook_retry_base, webhook_retry_max, webhook_ca_file, return_path; [gateways] NAME = TOKEN;
// [webhooks] NAME = URL; [routing] country_code,
// national_prefix, international_prefix, extensions (comma-separated
// FIRST-LAST=+PREFIX), catch_all.
void apply_ingest_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.spool_dir = ini.getString("ingest.spool_dir", s.spool_dir.string());
  s.ingest_workers = ini.getUInt("ingest.workers", s.ingest_workers);
  s.ingest_batch = std::max(1u, ini.getUInt("ingest.batch", s.ingest_batch));
  apply_decode_config(ini, s.decode);
  if (ini.has("ingest.retry_intervals")) {
    s.ingest_retry_intervals.clear();
    const std::vector<std::string> intervals = comma_list(ini.getString("ingest.retry_intervals"));
    try {
      for (const auto& interval : intervals) s.ingest_retry_intervals.push_back(static_cast<unsigned>(std::stoul(interval)));
    } catch (const std::exception&) {
      throw UsageError("[ingest] retry_intervals must be seconds separated by commas, e.g. 60, 300, 900");
    }
    if (s.ingest_retry_intervals.empty()) throw UsageError("[ingest] retry_intervals is empty");
  }
  s.ingest_max_age_seconds = ini.getUInt("ingest.max_age", s.ingest_max_age_seconds);
  s.webhook_attempts = std::max(1u, ini.getUInt("ingest.webhook_attempts", s.webhook_attempts));
  s.webhook_retry_base_seconds = ini.getUInt("ingest.webhook_retry_base", s.webhook_retry_base_seconds);
  s.webhook_retry_max_seconds = ini.getUInt("ingest.webhook_retry_max", s.webhook_retry_max_seconds);
  s.ingest_return_path = ini.getString("ingest.return_path", s.ingest_return_path);
  s.webhook_ca_file = ini.getString("ingest.webhook_ca_file", s.webhook_ca_file.string());
  if (!s.webhook_ca_file.empty() && !std::ifstream(s.webhook_ca_file))
    throw UsageError("[ingest] webhook_ca_file: cannot read " + s.webhook_ca_file.string());
  Poco::Util::AbstractConfiguration::Keys callbacks;
  ini.keys("webhooks", callbacks);
  for (const auto& name : callbacks) {
    const std::string url = ini.getString("webhooks." + name);
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      throw UsageError("[webhooks] " + name + ": the URL must start with http:// or https://");
    s.gateway_callbacks[name] = url;
  }
  Poco::Util::AbstractConfiguration::Keys gateways;
  ini.keys("gateways", gateways);
  for (const auto& name : gateways) {
    const std::string token = ini.getString("gateways." + name);
    if (token.size() < 16) throw UsageError("gateway token for '" + name + "' is shorter than 16 characters");
    s.gateway_tokens[token] = name;
  }
  auto& r = s.routing;
  r.country_code = ini.getString("routing.country_code", r.country_code);
  r.national_prefix = ini.getString("routing.national_prefix", r.national_prefix);
  r.international_prefix = ini.getString("routing.international_prefix", r.international_prefix);
  r.catch_all = ini.getString("routing.catch_all", r.catch_all);
  const std::vector<std::string> ranges = comma_list(ini.getString("routing.extensions", ""));
  try {
    for (const auto& range : ranges) r.extensions.push_back(ingest::parse_extension_range(range));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("[routing] extensions: ") + e.what());
  }
}

// [smtp] smarthost, trusted_networks (comma-separated CIDR), auth_requires_tls,
// retry_base, retry_max, max_queue_age, delay_warning (seconds), smarthost_tls,
// smarthost_ca_file, max_recipients, idle_timeout (seconds), mta_sts, mta_sts_ca_file;
// [listen] submission and submissions.
void apply_smtp_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.submission_listen = ini.getString("listen.submission", s.submission_listen);
  s.submissions_listen = ini.getString("listen.submissions", s.submissions_listen);
  s.smarthost = ini.getString("smtp.smarthost", s.smarthost);
  s.trusted_networks = comma_list(ini.getString("smtp.trusted_networks", ""));
  s.auth_requires_tls = ini.getBool("smtp.auth_requires_tls", s.auth_requires_tls);
  s.retry_base_seconds = ini.getUInt("smtp.retry_base", s.retry_base_seconds);
  s.retry_max_seconds = ini.getUInt("smtp.retry_max", s.retry_max_seconds);
  s.max_queue_age_seconds = ini.getUInt("smtp.max_queue_age", s.max_queue_age_seconds);
  s.delay_warning_seconds = ini.getUInt("smtp.delay_warning", s.delay_warning_seconds);
  s.smtp_max_recipients = ini.getUInt("smtp.max_recipients", s.smtp_max_recipients);
  if (s.smtp_max_recipients == 0) throw UsageError("[smtp] max_recipients: must be at least 1");
  s.smtp_idle_timeout_seconds = ini.getUInt("smtp.idle_timeout", s.smtp_idle_timeout_seconds);
  if (s.smtp_idle_timeout_seconds < 10) throw UsageError("[smtp] idle_timeout: at least 10 seconds (RFC 5321 asks for 300)");
  // smarthost_requires_tls = true, the older key, is smarthost_tls = encrypt.
  std::string level = ini.getBool("smtp.smarthost_requires_tls", false) ? "encrypt" : "may";
  level = ini.getString("smtp.smarthost_tls", level);
  const std::map<std::string, smtp::RelayTls> levels{{"none", smtp::RelayTls::Off},
                                                     {"may", smtp::RelayTls::Opportunistic},
                                                     {"encrypt", smtp::RelayTls::Required},
                                                     {"verify", smtp::RelayTls::Verified}};
  const auto found = levels.find(level);
  if (found == levels.end()) throw UsageError("[smtp] smarthost_tls: '" + level + "' (none, may, encrypt or verify)");
  s.smarthost_tls.level = found->second;
  s.smarthost_tls.ca_file = ini.getString("smtp.smarthost_ca_file", "");
  if (!s.smarthost_tls.ca_file.empty() && !std::ifstream(s.smarthost_tls.ca_file))
    throw UsageError("[smtp] smarthost_ca_file: cannot read " + s.smarthost_tls.ca_file.string());
  s.mta_sts = ini.getBool("smtp.mta_sts", s.mta_sts);
  s.mta_sts_ca_file = ini.getString("smtp.mta_sts_ca_file", "");
  if (!s.mta_sts_ca_file.empty() && !std::ifstream(s.mta_sts_ca_file))
    throw UsageError("[smtp] mta_sts_ca_file: cannot read " + s.mta_sts_ca_file.string());
}

// [acme] enabled, directory, domains, email, ca_file, http_listen, renew_before_days.
void apply_acme_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  auto& a = s.acme;
  a.enabled = ini.getBool("acme.enabled", a.enabled);
  a.directory = ini.getString("acme.directory", a.directory);
  a.domains = comma_list(ini.getString("acme.domains", ""));  // empty: the server's domain
  a.email = ini.getString("acme.email", a.email);
  a.ca_file = ini.getString("acme.ca_file", "");
  a.http_listen = ini.getString("acme.http_listen", a.http_listen);
  a.renew_before_days = ini.getUInt("acme.renew_before_days", a.renew_before_days);
  if (!a.enabled) return;
  if (!a.directory.starts_with("https://")) throw UsageError("[acme] directory: an https:// URL of the CA's directory");
  if (!a.ca_file.empty() && !std::ifstream(a.ca_file)) throw UsageError("[acme] ca_file: cannot read " + a.ca_file.string());
  if (!s.tls_cert.empty()) throw UsageError("[acme] enabled and [tls] cert set: the certificate comes from one of them");
}

// [dns] resolver (IP or IP:PORT; unset: the system's) and timeout
// (seconds), for sender authentication and ENUM alike; [mailauth] resolver
// and dns_timeout are their older names. [enum] domains: the ENUM trees.
void apply_dns_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  const std::string resolver = ini.getString("dns.resolver", ini.getString("mailauth.resolver", ""));
  const auto colon = resolver.rfind(':');
  // One colon: IPv4:PORT; [IPv6]:PORT; else the address alone.
  const bool has_port = colon != std::string::npos &&
                        (resolver.front() == '[' || resolver.find(':') == colon);
  s.dns.server = has_port ? resolver.substr(0, colon) : resolver;
  if (s.dns.server.starts_with('[') && s.dns.server.ends_with(']'))
    s.dns.server = s.dns.server.substr(1, s.dns.server.size() - 2);
  try {
    if (has_port) s.dns.port = static_cast<std::uint16_t>(std::stoul(resolver.substr(colon + 1)));
  } catch (const std::exception&) {
    throw UsageError("[dns] resolver: '" + resolver + "' (an IP address, optionally with :PORT)");
  }
  s.dns.timeout = std::chrono::seconds(ini.getUInt("dns.timeout", ini.getUInt("mailauth.dns_timeout", 5)));
  s.dns.trust_anchor_file = ini.getString("dns.trust_anchor_file", "");
  if (!s.dns.trust_anchor_file.empty() && !std::ifstream(s.dns.trust_anchor_file))
    throw UsageError("[dns] trust_anchor_file: cannot read " + s.dns.trust_anchor_file.string());
  s.enum_trees.clear();
  for (auto tree : comma_list(ini.getString("enum.domains", ""))) {
    while (tree.ends_with('.')) tree.pop_back();
    if (tree.empty() || tree.find_first_of(" /@") != std::string::npos)
      throw UsageError("[enum] domains: '" + tree + "' is not a domain (e.g. e164.arpa)");
    s.enum_trees.push_back(ascii_lower(tree));
  }
}

// [mailauth] enabled, authserv_id; [dkim] and [dkim.NAME] domain (default:
// the server's for [dkim]), selector, key.
void apply_trust_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.mailauth_enabled = ini.getBool("mailauth.enabled", s.mailauth_enabled);
  s.mailauth_authserv_id = ini.getString("mailauth.authserv_id", s.mailauth_authserv_id);
  // An empty domain in [dkim] is the server's, known once --domain is read.
  const auto add_key = [&](const std::string& section, bool domain_optional) {
    DkimKeySetting key{ini.getString(section + ".domain", ""), ini.getString(section + ".selector", ""),
                       ini.getString(section + ".key", "")};
    if ((key.domain.empty() && !domain_optional) || key.selector.empty() || key.key.empty())
      throw UsageError("[" + section + "] needs domain, selector and key (the PEM file 'umstore dkim keygen' writes)");
    s.dkim_keys.push_back(std::move(key));
  };
  if (ini.has("dkim.selector") || ini.has("dkim.key")) add_key("dkim", true);
  Poco::Util::AbstractConfiguration::Keys names;
  ini.keys("dkim", names);
  for (const auto& name : names)
    if (ini.has("dkim." + name + ".selector") || ini.has("dkim." + name + ".key")) add_key("dkim." + name, false);
}

// [sip] listen, gateways (comma-separated addresses), max_calls, max_subscriptions,
// max_subscriptions_per_address, greeting_dir, catch_all,
// tcp, tcp_idle_timeout, tls_listen, tls_client_ca, tls_ca_file, tls_present_certificate, srtp, rate_limit,
// rate_window, auth_realm, auth_users (user:password, ...), auth_algorithms.
void apply_sip_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.sip_listen = ini.getString("sip.listen", s.sip_listen);
  if (ini.has("sip.gateways")) s.sip_gateways = comma_list(ini.getString("sip.gateways"));
  s.sip_max_calls = ini.getUInt("sip.max_calls", s.sip_max_calls);
  s.sip_max_subscriptions = ini.getUInt("sip.max_subscriptions", s.sip_max_subscriptions);
  s.sip_max_subscriptions_per_address =
      ini.getUInt("sip.max_subscriptions_per_address", s.sip_max_subscriptions_per_address);
  s.sip_greeting_dir = ini.getString("sip.greeting_dir", s.sip_greeting_dir.string());
  s.sip_catch_all = ini.getString("sip.catch_all", s.sip_catch_all);
  s.sip_tcp = ini.getBool("sip.tcp", s.sip_tcp);
  s.sip_tcp_idle_timeout = ini.getUInt("sip.tcp_idle_timeout", s.sip_tcp_idle_timeout);
  s.sip_tls_listen = ini.getString("sip.tls_listen", s.sip_tls_listen);
  s.sip_tls_client_ca = ini.getString("sip.tls_client_ca", "");
  if (!s.sip_tls_client_ca.empty() && !std::ifstream(s.sip_tls_client_ca))
    throw UsageError("[sip] tls_client_ca: cannot read " + s.sip_tls_client_ca.string());
  s.sip_tls_ca_file = ini.getString("sip.tls_ca_file", "");
  if (!s.sip_tls_ca_file.empty() && !std::ifstream(s.sip_tls_ca_file))
    throw UsageError("[sip] tls_ca_file: cannot read " + s.sip_tls_ca_file.string());
  s.sip_tls_present_certificate = ini.getBool("sip.tls_present_certificate", s.sip_tls_present_certificate);
  s.sip_srtp = ini.getString("sip.srtp", s.sip_srtp);
  if (s.sip_srtp != "off" && s.sip_srtp != "optional" && s.sip_srtp != "required")
    throw UsageError("[sip] srtp: '" + s.sip_srtp + "' (off, optional or required)");
  s.sip_rate_limit = ini.getUInt("sip.rate_limit", s.sip_rate_limit);
  s.sip_rate_window = ini.getUInt("sip.rate_window", s.sip_rate_window);
  s.sip_auth_realm = ini.getString("sip.auth_realm", s.sip_auth_realm);
  const std::vector<std::string> users = comma_list(ini.getString("sip.auth_users", ""));
  for (const auto& entry : users) {
    const auto colon = entry.find(':');
    if (colon == std::string::npos || colon == 0)
      throw UsageError("[sip] auth_users: '" + entry.substr(0, colon) + "' needs the form user:password");
    s.sip_auth_users.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
  }
  if (!s.sip_auth_realm.empty() && s.sip_auth_users.empty())
    throw UsageError("[sip] auth_realm is set but auth_users names nobody");
  if (ini.has("sip.auth_algorithms")) {
    s.sip_auth_algorithms.clear();
    const std::vector<std::string> algorithms = comma_list(ini.getString("sip.auth_algorithms"));
    for (const auto& a : algorithms) {
      if (a != "SHA-256" && a != "MD5") throw UsageError("[sip] auth_algorithms: " + a + " (SHA-256 or MD5)");
      s.sip_auth_algorithms.push_back(a);
    }
  }
}

// "+0100", "-0530", "UTC" -> minutes east of UTC.
int parse_utc_offset(const std::string& key, const std::string& text) {
  if (text == "UTC" || text == "Z") return 0;
  const bool well_formed = text.size() == 5 && (text[0] == '+' || text[0] == '-') &&
                           std::all_of(text.begin() + 1, text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!well_formed) throw UsageError(key + ": \"" + text + "\" is not a UTC offset such as +0100 or -0500");
  const int minutes = std::stoi(text.substr(1, 2)) * 60 + std::stoi(text.substr(3, 2));
  return text[0] == '-' ? -minutes : minutes;
}

// [aliases] LOCALPART[@DOMAIN] = NUMBER[, NUMBER...]: local parts of the
// server's domain that deliver to those mailboxes. Keys may contain dots,
// which Poco treats as levels, so the section is walked as a tree.
void collect_aliases(const Poco::Util::AbstractConfiguration& ini, const std::string& key, Settings& s) {
  if (ini.hasProperty(key) && key != "aliases") {
    std::string name = key.substr(std::string("aliases.").size());
    name = name.substr(0, name.find('@'));
    name = ascii_lower(name);
    auto numbers = comma_list(ini.getString(key));
    if (name.empty() || numbers.empty()) throw UsageError("[aliases] " + key + ": expected NAME = +NUMBER[, +NUMBER...]");
    s.smtp_aliases[name] = std::move(numbers);
  }
  Poco::Util::AbstractConfiguration::Keys children;
  ini.keys(key, children);
  for (const auto& child : children) collect_aliases(ini, key + "." + child, s);
}

// [gateway_email.NAME] senders, recipients, mailbox_in_subject, caller_in_subject,
// caller_number_headers, caller_name_headers (comma-separated), utc_offset;
// [relay] profiles = DOMAIN=vpim|ivm|playable, ... (* for every other domain).
void apply_delivery_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  Poco::Util::AbstractConfiguration::Keys names;
  ini.keys("gateway_email", names);
  for (const auto& name : names) {
    const std::string prefix = "gateway_email." + name + ".";
    delivery::GatewayRule rule;
    rule.senders = comma_list(ini.getString(prefix + "senders", ""));
    rule.recipients = comma_list(ini.getString(prefix + "recipients", ""));
    rule.mailbox_in_subject = ini.getString(prefix + "mailbox_in_subject", rule.mailbox_in_subject);
    rule.caller_in_subject = ini.getString(prefix + "caller_in_subject", rule.caller_in_subject);
    if (ini.has(prefix + "caller_number_headers"))
      rule.caller_number_headers = comma_list(ini.getString(prefix + "caller_number_headers", ""));
    if (ini.has(prefix + "caller_name_headers"))
      rule.caller_name_headers = comma_list(ini.getString(prefix + "caller_name_headers", ""));
    if (ini.has(prefix + "utc_offset"))
      rule.utc_offset_minutes = parse_utc_offset(prefix + "utc_offset", ini.getString(prefix + "utc_offset", ""));
    try {
      delivery::check_gateway_rule(rule);
    } catch (const delivery::PolicyError& e) {
      throw UsageError("[gateway_email." + name + "]: " + e.what());
    }
    s.gateway_emails.push_back(std::move(rule));
  }
  try {
    s.relay_profiles = delivery::parse_destination_rules(ini.getString("relay.profiles", ""));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("[relay] profiles: ") + e.what());
  }
}

// [codecs] max_voice_seconds, max_fax_pages, max_fax_width, max_fax_length
// (pixels), max_fax_pixels (all pages together), max_input_bytes (voice and
// fax files alike). Zero is refused: it
// would reject every file.
void apply_codecs_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  const auto positive = [&](const std::string& key, std::uint64_t fallback) -> std::uint64_t {
    if (!ini.has("codecs." + key)) return fallback;
    std::uint64_t value = 0;
    try {
      value = ini.getUInt64("codecs." + key);
    } catch (const Poco::Exception&) {
      throw UsageError("[codecs] " + key + " must be a positive whole number, not '" + ini.getString("codecs." + key) + "'");
    }
    if (value == 0 || value > std::numeric_limits<std::uint32_t>::max())
      throw UsageError("[codecs] " + key + " must be between 1 and " + std::to_string(std::numeric_limits<std::uint32_t>::max()));
    return value;
  };
  s.voice_limits.max_seconds = static_cast<double>(positive("max_voice_seconds", static_cast<std::uint64_t>(s.voice_limits.max_seconds)));
  s.fax_limits.max_pages = static_cast<unsigned>(positive("max_fax_pages", s.fax_limits.max_pages));
  s.fax_limits.max_width = static_cast<std::uint32_t>(positive("max_fax_width", s.fax_limits.max_width));
  s.fax_limits.max_length = static_cast<std::uint32_t>(positive("max_fax_length", s.fax_limits.max_length));
  s.fax_limits.max_pixels = positive("max_fax_pixels", s.fax_limits.max_pixels);
  if (ini.has("codecs.max_input_bytes")) {
    const auto bytes = static_cast<std::size_t>(positive("max_input_bytes", 0));
    s.voice_limits.max_input_bytes = bytes;
    s.fax_limits.max_input_bytes = bytes;
  }
}

// [limits] PROTOCOL_connections and PROTOCOL_connections_per_address for
// smtp, imap and http (the cap per address must be below the total);
// auth_failures_per_address, password_threads, password_queue, buffered_bytes.
void apply_limits_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  const auto apply = [&](const std::string& protocol, ConnectionLimit& limit) {
    const std::string total_key = protocol + "_connections";
    const std::string per_address_key = total_key + "_per_address";
    limit.total = static_cast<std::size_t>(ini.getUInt64("limits." + total_key, limit.total));
    limit.per_address = static_cast<std::size_t>(ini.getUInt64("limits." + per_address_key, limit.per_address));
    if (limit.per_address == 0 || limit.per_address >= limit.total)
      throw UsageError(fmt::format("[limits] {} = {} must be at least 1 and below {} = {}", per_address_key,
                                   limit.per_address, total_key, limit.total));
  };
  apply("smtp", s.smtp_connections);
  apply("imap", s.imap_connections);
  apply("http", s.http_connections);
  s.auth_failures_per_address = ini.getUInt("limits.auth_failures_per_address", s.auth_failures_per_address);
  s.password_threads = ini.getUInt("limits.password_threads", s.password_threads);
  s.password_queue = ini.getUInt("limits.password_queue", s.password_queue);
  if (s.auth_failures_per_address == 0 || s.password_threads == 0)
    throw UsageError("[limits] auth_failures_per_address and password_threads must be at least 1");
  s.buffered_bytes = static_cast<std::size_t>(ini.getUInt64("limits.buffered_bytes", s.buffered_bytes));
}

std::string read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("cannot read config file " + file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Poco would keep "key = value   ; comment" whole as the value: a ';' after
// a blank starts a comment, as in the README's examples.
std::string without_inline_comments(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    for (std::size_t at = line.find(';'); at != std::string_view::npos; at = line.find(';', at + 1)) {
      if (at > 0 && (line[at - 1] == ' ' || line[at - 1] == '\t')) {
        line = line.substr(0, at);
        break;
      }
    }
    out.append(line).push_back('\n');
  }
  return out;
}

void apply_config_file(const std::filesystem::path& file, Settings& s) {
  if (!std::filesystem::exists(file)) throw UsageError("config file " + file.string() + " does not exist");
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
  try {
    std::istringstream text(without_inline_comments(read_text_file(file)));
    ini = new Poco::Util::IniFileConfiguration(text);
  } catch (const Poco::Exception& e) {
    throw UsageError("cannot read config file " + file.string() + ": " + e.displayText());
  }
  s.data.root = ini->getString("umstore.data_dir", s.data.root.string());
  s.domain = ini->getString("umstore.domain", s.domain);
  s.log_level = ini->getString("umstore.log_level", s.log_level);
  if (!parse_log_level(s.log_level))
    throw UsageError("[umstore] log_level: '" + s.log_level + "' (debug, info, warning or error)");
  const std::string backend = ini->getString("store.backend", "maildir");
  if (backend != "maildir" && backend != "postgresql")
    throw UsageError("[store] backend: '" + backend + "' (maildir or postgresql)");
  s.store_backend = backend == "postgresql" ? mailstore::StoreBackend::postgresql : mailstore::StoreBackend::maildir;
  s.store_dsn = ini->getString("store.dsn", s.store_dsn);
  if (s.store_backend == mailstore::StoreBackend::postgresql && s.store_dsn.empty())
    throw UsageError("[store] backend = postgresql needs [store] dsn (e.g. postgresql://umstore@db.example.net/umstore)");
  for (auto [key, size] : {std::pair{"pool_size", &s.store_pool_size}, {"accounts_pool_size", &s.accounts_pool_size},
                            {"ingest_pool_size", &s.ingest_pool_size},
                            {"smtp_queue_pool_size", &s.smtp_queue_pool_size}}) {
    *size = ini->getUInt(std::string("store.") + key, static_cast<unsigned>(*size));
    if (*size < 1 || *size > 1000)
      throw UsageError(std::string("[store] ") + key + ": " + std::to_string(*size) + " (1 to 1000 connections)");
  }
  s.store_fulltext_index = ini->getBool("store.fulltext_index", s.store_fulltext_index);
  s.mailboxes_in_memory = std::max(1u, ini->getUInt("store.mailboxes_in_memory", static_cast<unsigned>(s.mailboxes_in_memory)));
  s.node_id = ini->getString("cluster.node_id", s.node_id);
  s.lease_seconds = std::max(1u, ini->getUInt("cluster.lease_seconds", s.lease_seconds));
  s.log_format = ini->getString("log.format", s.log_format);
  s.log_redact_numbers = ini->getBool("log.redact_numbers", s.log_redact_numbers);
  if (!parse_log_format(s.log_format)) throw UsageError("[log] format: '" + s.log_format + "' (text or json)");
  s.smtp_listen = ini->getString("listen.smtp", s.smtp_listen);
  s.imap_listen = ini->getString("listen.imap", s.imap_listen);
  s.imaps_listen = ini->getString("listen.imaps", s.imaps_listen);
  s.http_listen = ini->getString("listen.http", s.http_listen);
  s.admin_listen = ini->getString("listen.admin", s.admin_listen);
  s.admin_tls = ini->getBool("admin.tls", s.admin_tls);
  s.tls_cert = ini->getString("tls.cert", s.tls_cert.string());
  s.tls_key = ini->getString("tls.key", s.tls_key.string());
  s.imap_login_requires_tls = ini->getBool("imap.login_requires_tls", s.imap_login_requires_tls);
  s.max_message_bytes = static_cast<std::size_t>(ini->getUInt64("smtp.max_message_bytes", s.max_message_bytes));
  apply_smtp_config(*ini, s);
  apply_acme_config(*ini, s);
  collect_aliases(*ini, "aliases", s);
  apply_ingest_config(*ini, s);
  apply_sip_config(*ini, s);
  apply_dns_config(*ini, s);
  apply_trust_config(*ini, s);
  apply_delivery_config(*ini, s);
  apply_codecs_config(*ini, s);
  apply_limits_config(*ini, s);
  apply_recognition_config(*ini, s.recognition);
  s.fax_out = read_fax_out_config(*ini);
  if (s.fax_out && s.sip_listen.empty())
    throw UsageError("[fax_out] gateway needs [sip] listen: faxes are dialled from the SIP endpoint");
  s.aging.move_to_trash = ini->getUInt("aging.move_to_trash_days", s.aging.move_to_trash);
  s.aging.purge_trash = ini->getUInt("aging.purge_trash_days", s.aging.purge_trash);
  s.aging_interval_seconds = ini->getUInt("aging.interval_seconds", s.aging_interval_seconds);
  if (s.aging_interval_seconds == 0) throw UsageError("[aging] interval_seconds: 0 (at least 1)");
}

}  // namespace

Settings load_settings(const CommandLine& cmd) {
  Settings s;
  const char* env_dir = std::getenv("UMSTORE_DATA_DIR");
  s.data.root = env_dir ? env_dir : "/var/lib/umstore";
  std::error_code no_link;
  s.decode.enabled = true;
  s.decode.worker = std::filesystem::read_symlink("/proc/self/exe", no_link).parent_path() / "umstore-decode";
  if (auto config = cmd.value("--config")) apply_config_file(*config, s);
  if (auto dir = cmd.value("--data-dir")) s.data.root = *dir;
  if (auto v = cmd.value("--domain")) s.domain = *v;
  if (auto v = cmd.value("--smtp")) s.smtp_listen = *v;
  if (auto v = cmd.value("--submission")) s.submission_listen = *v;
  if (auto v = cmd.value("--imap")) s.imap_listen = *v;
  if (auto v = cmd.value("--imaps")) s.imaps_listen = *v;
  if (auto v = cmd.value("--submissions")) s.submissions_listen = *v;
  if (auto v = cmd.value("--http")) s.http_listen = *v;
  if (auto v = cmd.value("--admin")) s.admin_listen = *v;
  s.data.root = std::filesystem::absolute(s.data.root);
  if (s.spool_dir.empty()) s.spool_dir = s.data.root / "spool";
  for (auto& key : s.dkim_keys)
    if (key.domain.empty()) key.domain = s.domain;
  if (s.node_id.empty()) {
    char host[256] = {};
    s.node_id = ::gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "umstore";
  }
  return s;
}

std::unique_ptr<smtp::DeliveryQueue> Settings::delivery_queue() const {
  if (store_backend == mailstore::StoreBackend::postgresql)
    return smtp::open_postgresql_queue(store_dsn, node_id, std::chrono::seconds(lease_seconds), smtp_queue_pool_size);
  return std::make_unique<smtp::FileDeliveryQueue>(data.queue());
}

ingest::IngestQueueConfig Settings::ingest_queue(QueueOwner owner) const {
  ingest::IngestQueueConfig config;
  config.dir = data.ingest_dir();
  if (store_backend == mailstore::StoreBackend::postgresql) config.postgresql_dsn = store_dsn;
  config.postgresql_pool_size = ingest_pool_size;
  config.node_id = owner == QueueOwner::server ? node_id : node_id + "/command-" + std::to_string(::getpid());
  config.lease = std::chrono::seconds(lease_seconds);
  if (decode.enabled && ::access(decode.worker.c_str(), X_OK) != 0)
    throw UsageError("[ingest] sandbox = true needs the decoder " + decode.worker.string() +
                     " (installed beside umstore); it is missing or not executable");
  config.settings = {domain, voice_limits, fax_limits, decode, start_recognition(recognition)};
  config.workers = ingest_workers;
  config.batch_size = ingest_batch;
  config.max_age = std::chrono::seconds(ingest_max_age_seconds);
  config.retry_intervals.clear();
  for (const unsigned seconds : ingest_retry_intervals) config.retry_intervals.emplace_back(std::chrono::seconds(seconds));
  config.webhook_attempts = webhook_attempts;
  config.webhook_retry_base = std::chrono::seconds(webhook_retry_base_seconds);
  config.webhook_retry_max = std::chrono::seconds(webhook_retry_max_seconds);
  config.webhook_ca_file = webhook_ca_file;
  return config;
}

}  // namespace umstore::app
