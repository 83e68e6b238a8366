#include "settings.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <cstdlib>

namespace umstore::app {

OptionSpec with_global_options(OptionSpec spec) {
  spec.with_value.insert({"--data-dir", "--config"});
  return spec;
}

namespace {

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
  if (auto v = cmd.value("--imap")) s.imap_listen = *v;
  if (auto v = cmd.value("--http")) s.http_listen = *v;
  s.data.root = std::filesystem::absolute(s.data.root);
  return s;
}

}  // namespace umstore::app
