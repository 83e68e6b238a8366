#include "settings.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <cstdlib>

namespace umstore::app {

OptionSpec with_global_options(OptionSpec spec) {
  spec.with_value.insert({"--data-dir", "--config"});
  return spec;
}

namespace {

// [ingest] spool_dir, workers; [gateways] NAME = TOKEN; [routing] country_code,
// national_prefix, international_prefix, extensions (comma-separated
// FIRST-LAST=+PREFIX), catch_all.
void apply_ingest_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.spool_dir = ini.getString("ingest.spool_dir", s.spool_dir.string());
  s.ingest_workers = ini.getUInt("ingest.workers", s.ingest_workers);
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
  Poco::StringTokenizer ranges(ini.getString("routing.extensions", ""), ",",
                               Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  try {
    for (const auto& range : ranges) r.extensions.push_back(ingest::parse_extension_range(range));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("[routing] extensions: ") + e.what());
  }
}

// [smtp] smarthost, trusted_networks (comma-separated CIDR), auth_requires_tls,
// retry_base, retry_max, max_queue_age, delay_warning (seconds); [listen] submission.
void apply_smtp_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.submission_listen = ini.getString("listen.submission", s.submission_listen);
  s.smarthost = ini.getString("smtp.smarthost", s.smarthost);
  Poco::StringTokenizer networks(ini.getString("smtp.trusted_networks", ""), ",",
                                 Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  for (const auto& network : networks) s.trusted_networks.push_back(network);
  s.auth_requires_tls = ini.getBool("smtp.auth_requires_tls", s.auth_requires_tls);
  s.retry_base_seconds = ini.getUInt("smtp.retry_base", s.retry_base_seconds);
  s.retry_max_seconds = ini.getUInt("smtp.retry_max", s.retry_max_seconds);
  s.max_queue_age_seconds = ini.getUInt("smtp.max_queue_age", s.max_queue_age_seconds);
  s.delay_warning_seconds = ini.getUInt("smtp.delay_warning", s.delay_warning_seconds);
}

// [sip] listen, gateways (comma-separated addresses), max_calls, greeting_dir, catch_all.
void apply_sip_config(const Poco::Util::AbstractConfiguration& ini, Settings& s) {
  s.sip_listen = ini.getString("sip.listen", s.sip_listen);
  if (ini.has("sip.gateways")) {
    s.sip_gateways.clear();
    Poco::StringTokenizer gateways(ini.getString("sip.gateways"), ",",
                                   Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& g : gateways) s.sip_gateways.push_back(g);
  }
  s.sip_max_calls = ini.getUInt("sip.max_calls", s.sip_max_calls);
  s.sip_greeting_dir = ini.getString("sip.greeting_dir", s.sip_greeting_dir.string());
  s.sip_catch_all = ini.getString("sip.catch_all", s.sip_catch_all);
}

void apply_config_file(const std::filesystem::path& file, Settings& s) {
  if (!std::filesystem::exists(file)) throw UsageError("config file " + file.string() + " does not exist");
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
  try {
    ini = new Poco::Util::IniFileConfiguration(file.string());
  } catch (const Poco::Exception& e) {
    throw UsageError("cannot read config file " + file.string() + ": " + e.displayText());
  }
  s.data.root = ini->getString("umstore.data_dir", s.data.root.string());
  s.domain = ini->getString("umstore.domain", s.domain);
  s.log_level = ini->getString("umstore.log_level", s.log_level);
  s.smtp_listen = ini->getString("listen.smtp", s.smtp_listen);
  s.imap_listen = ini->getString("listen.imap", s.imap_listen);
  s.http_listen = ini->getString("listen.http", s.http_listen);
  s.tls_cert = ini->getString("tls.cert", s.tls_cert.string());
  s.tls_key = ini->getString("tls.key", s.tls_key.string());
  s.imap_login_requires_tls = ini->getBool("imap.login_requires_tls", s.imap_login_requires_tls);
  s.max_message_bytes = static_cast<std::size_t>(ini->getUInt64("smtp.max_message_bytes", s.max_message_bytes));
  apply_smtp_config(*ini, s);
  apply_ingest_config(*ini, s);
  apply_sip_config(*ini, s);
}

}  // namespace

Settings load_settings(const CommandLine& cmd) {
  Settings s;
  const char* env_dir = std::getenv("UMSTORE_DATA_DIR");
  s.data.root = env_dir ? env_dir : "/var/lib/umstore";
  if (auto config = cmd.value("--config")) apply_config_file(*config, s);
  if (auto dir = cmd.value("--data-dir")) s.data.root = *dir;
  if (auto v = cmd.value("--domain")) s.domain = *v;
  if (auto v = cmd.value("--smtp")) s.smtp_listen = *v;
  if (auto v = cmd.value("--submission")) s.submission_listen = *v;
  if (auto v = cmd.value("--imap")) s.imap_listen = *v;
  if (auto v = cmd.value("--http")) s.http_listen = *v;
  s.data.root = std::filesystem::absolute(s.data.root);
  if (s.spool_dir.empty()) s.spool_dir = s.data.root / "spool";
  return s;
}

}  // namespace umstore::app
