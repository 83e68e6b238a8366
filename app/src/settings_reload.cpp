#include "settings_reload.hpp"

#include <fmt/format.h>

namespace umstore::app {
namespace {

template <typename T>
void compare(std::vector<SettingChange>& out, std::string key, const T& before, const T& after) {
  if (before != after) out.push_back({std::move(key), fmt::format("{}", before), fmt::format("{}", after)});
}

template <typename T>
void compare(std::vector<std::string>& out, std::string key, const T& before, const T& after) {
  if (before != after) out.push_back(std::move(key));
}

}  // namespace

std::vector<SettingChange> changed_limits(const Settings& b, const Settings& a) {
  std::vector<SettingChange> out;
  compare(out, "[smtp] max_message_bytes", b.max_message_bytes, a.max_message_bytes);
  compare(out, "[smtp] max_recipients", b.smtp_max_recipients, a.smtp_max_recipients);
  compare(out, "[smtp] idle_timeout", b.smtp_idle_timeout_seconds, a.smtp_idle_timeout_seconds);
  compare(out, "[smtp] retry_base", b.retry_base_seconds, a.retry_base_seconds);
  compare(out, "[smtp] retry_max", b.retry_max_seconds, a.retry_max_seconds);
  compare(out, "[smtp] max_queue_age", b.max_queue_age_seconds, a.max_queue_age_seconds);
  compare(out, "[smtp] delay_warning", b.delay_warning_seconds, a.delay_warning_seconds);
  compare(out, "[sip] rate_limit", b.sip_rate_limit, a.sip_rate_limit);
  compare(out, "[sip] rate_window", b.sip_rate_window, a.sip_rate_window);
  compare(out, "[codecs] max_voice_seconds", b.voice_limits.max_seconds, a.voice_limits.max_seconds);
  compare(out, "[codecs] max_fax_pages", b.fax_limits.max_pages, a.fax_limits.max_pages);
  compare(out, "[codecs] max_fax_width", b.fax_limits.max_width, a.fax_limits.max_width);
  compare(out, "[codecs] max_fax_length", b.fax_limits.max_length, a.fax_limits.max_length);
  compare(out, "[codecs] max_fax_pixels", b.fax_limits.max_pixels, a.fax_limits.max_pixels);
  compare(out, "[codecs] max_input_bytes (voice)", b.voice_limits.max_input_bytes, a.voice_limits.max_input_bytes);
  compare(out, "[codecs] max_input_bytes (fax)", b.fax_limits.max_input_bytes, a.fax_limits.max_input_bytes);
  return out;
}

std::vector<std::string> changed_needing_restart(const Settings& b, const Settings& a) {
  std::vector<std::string> out;
  compare(out, "[umstore] domain", b.domain, a.domain);
  compare(out, "[store]", b.store_dsn, a.store_dsn);
  compare(out, "[store] pool_size", b.store_pool_size, a.store_pool_size);
  compare(out, "[store] accounts_pool_size", b.accounts_pool_size, a.accounts_pool_size);
  compare(out, "[store] ingest_pool_size", b.ingest_pool_size, a.ingest_pool_size);
  compare(out, "[store] smtp_queue_pool_size", b.smtp_queue_pool_size, a.smtp_queue_pool_size);
  compare(out, "[listen] smtp", b.smtp_listen, a.smtp_listen);
  compare(out, "[listen] submission", b.submission_listen, a.submission_listen);
  compare(out, "[listen] imap", b.imap_listen, a.imap_listen);
  compare(out, "[listen] imaps", b.imaps_listen, a.imaps_listen);
  compare(out, "[listen] submissions", b.submissions_listen, a.submissions_listen);
  compare(out, "[listen] http", b.http_listen, a.http_listen);
  compare(out, "[listen] admin", b.admin_listen, a.admin_listen);
  compare(out, "[admin] tls", b.admin_tls, a.admin_tls);
  compare(out, "[smtp] smarthost", b.smarthost, a.smarthost);
  compare(out, "[smtp] trusted_networks", b.trusted_networks, a.trusted_networks);
  compare(out, "[aliases]", b.smtp_aliases, a.smtp_aliases);
  compare(out, "[mailauth] enabled", b.mailauth_enabled, a.mailauth_enabled);
  compare(out, "[mailauth] authserv_id", b.mailauth_authserv_id, a.mailauth_authserv_id);
  compare(out, "[dns] resolver", b.dns.server + ":" + std::to_string(b.dns.port), a.dns.server + ":" + std::to_string(a.dns.port));
  compare(out, "[dns] timeout", b.dns.timeout.count(), a.dns.timeout.count());
  compare(out, "[enum] domains", b.enum_trees, a.enum_trees);
  compare(out, "[imap] login_requires_tls", b.imap_login_requires_tls, a.imap_login_requires_tls);
  compare(out, "[limits] smtp_connections", b.smtp_connections.total, a.smtp_connections.total);
  compare(out, "[limits] smtp_connections_per_address", b.smtp_connections.per_address, a.smtp_connections.per_address);
  compare(out, "[limits] imap_connections", b.imap_connections.total, a.imap_connections.total);
  compare(out, "[limits] imap_connections_per_address", b.imap_connections.per_address, a.imap_connections.per_address);
  compare(out, "[limits] http_connections", b.http_connections.total, a.http_connections.total);
  compare(out, "[limits] http_connections_per_address", b.http_connections.per_address, a.http_connections.per_address);
  compare(out, "[limits] auth_failures_per_address", b.auth_failures_per_address, a.auth_failures_per_address);
  compare(out, "[limits] password_threads", b.password_threads, a.password_threads);
  compare(out, "[limits] password_queue", b.password_queue, a.password_queue);
  compare(out, "[limits] buffered_bytes", b.buffered_bytes, a.buffered_bytes);
  compare(out, "[ingest] workers", b.ingest_workers, a.ingest_workers);
  compare(out, "[ingest] sandbox", b.decode.enabled, a.decode.enabled);
  compare(out, "[ingest] decode_cpu_seconds", b.decode.cpu.count(), a.decode.cpu.count());
  compare(out, "[ingest] decode_memory_mb", b.decode.memory_mb, a.decode.memory_mb);
  compare(out, "[ingest] decode_wall_seconds", b.decode.wall.count(), a.decode.wall.count());
  compare(out, "[gateways]", b.gateway_tokens, a.gateway_tokens);
  compare(out, "[sip] listen", b.sip_listen, a.sip_listen);
  return out;
}

std::string describe(const std::vector<SettingChange>& changes) {
  if (changes.empty()) return "none";
  std::string out;
  for (const auto& c : changes) out += fmt::format("{}{} {} -> {}", out.empty() ? "" : ", ", c.key, c.before, c.after);
  return out;
}

}  // namespace umstore::app
