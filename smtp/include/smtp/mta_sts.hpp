#pragma once
// MTA-STS (RFC 8461): a domain that publishes a `_mta-sts` TXT record and a
// policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt says which MX
// hosts may take its mail and that they must offer TLS with a certificate
// that verifies. The queue runner asks MtaStsPolicies before MX delivery;
// with an "enforce" policy it uses only the MX hosts the policy names and
// only over verified TLS, and anything else is a temporary failure.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dns/resolver.hpp"

namespace umstore::smtp {

struct MtaStsPolicy {
  enum class Mode { Enforce, Testing, None };
  Mode mode = Mode::None;
  std::vector<std::string> mx;  // patterns: "mx.example.net" or "*.example.net"
  std::uint32_t max_age = 0;    // seconds
  std::string id;               // of the TXT record it was fetched for
  std::int64_t expires = 0;     // Unix time: fetched + max_age

  // Whether `host` (an MX host name) matches one of the mx patterns (§4.1).
  bool allows(std::string_view host) const;
};

std::string_view to_string(MtaStsPolicy::Mode mode);

// The id of the `_mta-sts` TXT records (§3.1): exactly one record that
// starts with "v=STSv1" and has an id; nullopt otherwise (no policy).
std::optional<std::string> sts_record_id(std::span<const std::string> txt_records);

// A policy file (§3.2); the error says what is wrong with it.
std::variant<MtaStsPolicy, std::string> parse_mta_sts_policy(std::string_view text);

struct MtaStsConfig {
  std::shared_ptr<dns::Resolver> resolver;
  std::filesystem::path cache_dir;   // policies kept across restarts; empty: in memory only
  std::filesystem::path ca_file;     // CAs trusted besides the system's, for the policy host and MX hosts
  std::chrono::seconds timeout{30};  // for the whole HTTPS fetch
  unsigned short https_port = 443;
};

class MtaStsPolicies {
 public:
  explicit MtaStsPolicies(MtaStsConfig config);

  // The policy in force for `domain` (§5.1): the cached one while the TXT
  // record's id is the same and it has not expired, else one fetched over
  // verified HTTPS. No TXT record: the cached policy until it expires. A
  // fetch that fails keeps the cached policy, or none. Blocking (DNS, HTTPS).
  std::optional<MtaStsPolicy> policy_for(const std::string& domain);

  const std::filesystem::path& ca_file() const noexcept { return config_.ca_file; }

 private:
  std::optional<MtaStsPolicy> cached(const std::string& domain);
  void keep(const std::string& domain, const MtaStsPolicy& policy, std::string_view text);
  MtaStsPolicy fetch(const std::string& domain, const std::string& id);

  MtaStsConfig config_;
  std::mutex mutex_;
  std::map<std::string, MtaStsPolicy> policies_;
};

}  // namespace umstore::smtp
