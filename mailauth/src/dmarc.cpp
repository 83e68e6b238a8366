#include "mailauth/dmarc.hpp"

#include <netinet/in.h>
#include <sys/param.h>
#include <sys/types.h>

extern "C" {
#include <opendmarc/dmarc.h>
// Exported by libopendmarc but missing from its header.
int opendmarc_get_tld(u_char* domain, u_char* tld, size_t tld_len);
}

#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "common/ascii.hpp"

namespace umstore::mailauth {

std::string_view to_string(DmarcPolicy policy) {
  switch (policy) {
    case DmarcPolicy::absent: return "absent";
    case DmarcPolicy::none: return "none";
    case DmarcPolicy::quarantine: return "quarantine";
    case DmarcPolicy::reject: return "reject";
  }
  return "?";
}

namespace {

constexpr const char* public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";

// libopendmarc keeps the Public Suffix List in process-wide state.
void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    OPENDMARC_LIB_T lib{};
    lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
    std::strncpy(reinterpret_cast<char*>(lib.tld_source_file), public_suffix_list, sizeof lib.tld_source_file - 1);
    if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY) {
      throw std::runtime_error(std::string("cannot initialise libopendmarc with ") + public_suffix_list +
                               " (Debian package publicsuffix)");
    }
  });
}

u_char* uchars(const std::string& s) { return reinterpret_cast<u_char*>(const_cast<char*>(s.c_str())); }

std::string organizational_domain(const std::string& domain) {
  u_char buf[256] = {};
  if (opendmarc_get_tld(uchars(domain), buf, sizeof buf) == 0 && buf[0] != '\0') {
    return reinterpret_cast<const char*>(buf);
  }
  // A TLD the list does not name (test., a private one): the list's default
  // rule "*" makes the organisational domain the last two labels.
  const std::size_t last = domain.rfind('.');
  const std::size_t before = last == std::string::npos || last == 0 ? std::string::npos : domain.rfind('.', last - 1);
  return before == std::string::npos ? domain : domain.substr(before + 1);
}

struct Record {
  dns::DnsStatus status = dns::DnsStatus::no_data;
  std::string text;
  std::string error;
};

// RFC 7489 §6.6.3: the one record starting "v=DMARC1" at _dmarc.DOMAIN.
Record dmarc_record(dns::Resolver& resolver, const std::string& domain) {
  auto answer = resolver.txt("_dmarc." + domain);
  if (answer.status == dns::DnsStatus::temporary_failure) return {answer.status, {}, answer.error};
  Record record;
  for (const std::string& text : answer.records) {
    if (!ascii_istarts_with(text, "v=DMARC1")) continue;
    if (record.status == dns::DnsStatus::found) return {dns::DnsStatus::no_data, {}, "several DMARC records"};
    record = {dns::DnsStatus::found, text, {}};
  }
  return record;
}

int spf_outcome(AuthResult result) {
  switch (result) {
    case AuthResult::pass: return DMARC_POLICY_SPF_OUTCOME_PASS;
    case AuthResult::none: return DMARC_POLICY_SPF_OUTCOME_NONE;
    case AuthResult::temperror: return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_SPF_OUTCOME_FAIL;
  }
}

int dkim_outcome(AuthResult result) {
  switch (result) {
    case AuthResult::pass: return DMARC_POLICY_DKIM_OUTCOME_PASS;
    case AuthResult::none: return DMARC_POLICY_DKIM_OUTCOME_NONE;
    case AuthResult::temperror: return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_DKIM_OUTCOME_FAIL;
  }
}

DmarcPolicy policy_of(int p) {
  switch (p) {
    case DMARC_RECORD_P_REJECT: return DmarcPolicy::reject;
    case DMARC_RECORD_P_QUARANTINE: return DmarcPolicy::quarantine;
    default: return DmarcPolicy::none;
  }
}

}  // namespace

DmarcVerdict check_dmarc(dns::Resolver& resolver, std::string_view client_ip, std::string_view from_domain,
                         const SpfVerdict& spf, std::span<const DkimVerdict> dkim) {
  init_library();
  DmarcVerdict verdict;
  verdict.from_domain = ascii_lower(from_domain);
  if (verdict.from_domain.empty()) {
    verdict.reason = "no single From: domain";
    return verdict;
  }
  const std::string org = organizational_domain(verdict.from_domain);
  Record record = dmarc_record(resolver, verdict.from_domain);
  if (record.status != dns::DnsStatus::found && record.status != dns::DnsStatus::temporary_failure && org != verdict.from_domain) {
    record = dmarc_record(resolver, org);
  }
  if (record.status == dns::DnsStatus::temporary_failure) {
    return {AuthResult::temperror, DmarcPolicy::absent, verdict.from_domain, record.error};
  }
  if (record.status != dns::DnsStatus::found) {
    verdict.reason = record.error.empty() ? "no DMARC record" : record.error;
    return verdict;
  }

  const std::string ip(client_ip);
  std::unique_ptr<DMARC_POLICY_T, decltype(&opendmarc_policy_connect_shutdown)> policy(
      opendmarc_policy_connect_init(uchars(ip), ip.find(':') != std::string::npos ? DMARC_POLICY_IP_TYPE_IPV6
                                                                                  : DMARC_POLICY_IP_TYPE_IPV4),
      opendmarc_policy_connect_shutdown);
  if (!policy) throw std::runtime_error("libopendmarc: out of memory");
  opendmarc_policy_store_from_domain(policy.get(), uchars(verdict.from_domain));
  if (opendmarc_policy_store_dmarc(policy.get(), uchars(record.text), uchars(verdict.from_domain), uchars(org)) !=
      DMARC_PARSE_OKAY) {
    return {AuthResult::permerror, DmarcPolicy::absent, verdict.from_domain, "malformed DMARC record: " + record.text};
  }
  bool temporary = spf.result == AuthResult::temperror;
  for (const DkimVerdict& signature : dkim) {
    opendmarc_policy_store_dkim(policy.get(), uchars(signature.domain), uchars(signature.selector),
                                dkim_outcome(signature.result), nullptr);
    temporary = temporary || signature.result == AuthResult::temperror;
  }
  opendmarc_policy_store_spf(policy.get(), uchars(spf.domain), spf_outcome(spf.result),
                             spf.from_helo ? DMARC_POLICY_SPF_ORIGIN_HELO : DMARC_POLICY_SPF_ORIGIN_MAILFROM, nullptr);

  const int disposition = opendmarc_get_policy_to_enforce(policy.get());
  int p = DMARC_RECORD_P_UNSPECIFIED;
  opendmarc_policy_fetch_p(policy.get(), &p);
  if (opendmarc_get_policy_token_used(policy.get()) == DMARC_USED_POLICY_IS_SP) {
    opendmarc_policy_fetch_sp(policy.get(), &p);
  }
  verdict.policy = policy_of(p);
  switch (disposition) {
    case DMARC_POLICY_PASS: verdict.result = AuthResult::pass; break;
    case DMARC_POLICY_REJECT:
    case DMARC_POLICY_QUARANTINE:
    case DMARC_POLICY_NONE:
      // A failure that a DNS failure may have caused is not yet final.
      verdict.result = temporary ? AuthResult::temperror : AuthResult::fail;
      verdict.reason = temporary ? "SPF or DKIM could not be checked" : "neither SPF nor DKIM passed aligned with From:";
      break;
    default: verdict.result = AuthResult::none; verdict.reason = "no DMARC policy applies";
  }
  return verdict;
}

}  // namespace umstore::mailauth
