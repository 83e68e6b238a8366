// umstore dkim keygen: a DKIM signing key for one of our domains, and the
// TXT record to publish for it.
#include <iostream>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "mailauth/dkim.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kDkimUsage = R"(usage:
  umstore [--data-dir DIR] dkim keygen DOMAIN SELECTOR [--algorithm rsa|ed25519] [--key FILE]

Makes a DKIM signing key (RSA 2048 bits, the default every verifier
accepts, or Ed25519, RFC 8463), writes it as PEM to FILE (default
DATA_DIR/dkim/SELECTOR.DOMAIN.pem, readable by its owner only; an existing
file is never overwritten) and prints the DNS TXT record to publish at
SELECTOR._domainkey.DOMAIN. Then name the key in the config:

  [dkim]
  domain = DOMAIN
  selector = SELECTOR
  key = FILE
)";

}  // namespace

int run_dkim(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--algorithm", "--key"}, {}}));
  if (cmd.printed_help(kDkimUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.size() != 3 || words[0] != "keygen") throw UsageError("expected: dkim keygen DOMAIN SELECTOR");
  const std::string algorithm = cmd.value("--algorithm").value_or("rsa");
  if (algorithm != "rsa" && algorithm != "ed25519") throw UsageError("--algorithm: rsa or ed25519, not " + algorithm);
  const std::string& domain = words[1];
  const std::string& selector = words[2];
  const Settings s = load_settings(cmd);
  const std::filesystem::path file =
      cmd.value("--key").value_or((s.data.root / "dkim" / (selector + "." + domain + ".pem")).string());
  if (std::filesystem::exists(file))
    throw std::runtime_error(file.string() + " exists already: remove it or name another file with --key");
  const auto pair = mailauth::make_dkim_key(
      algorithm == "ed25519" ? mailauth::DkimAlgorithm::ed25519_sha256 : mailauth::DkimAlgorithm::rsa_sha256, domain,
      selector);
  if (file.has_parent_path()) create_directories_durably(file.parent_path());
  replace_file_durably(file, pair.key.private_key_pem, 0600);
  std::cerr << "key written to " << file.string() << "; publish this record and add [dkim] domain = " << domain
            << ", selector = " << selector << ", key = " << file.string() << " to the config:\n";
  std::cout << pair.zone_line() << "\n";
  return 0;
}

}  // namespace umstore::app
