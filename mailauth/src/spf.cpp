#include "mailauth/spf.hpp"

// libspf2's headers need these first.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/types.h>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
}

#include <cstring>
#include <memory>
#include <stdexcept>

namespace umstore::mailauth {

namespace {

SPF_dns_stat_t herrno_of(dns::DnsStatus status) {
  switch (status) {
    case dns::DnsStatus::found: return NETDB_SUCCESS;
    case dns::DnsStatus::no_data: return NO_DATA;
    case dns::DnsStatus::nxdomain: return HOST_NOT_FOUND;
    case dns::DnsStatus::temporary_failure: return TRY_AGAIN;
  }
  return TRY_AGAIN;
}

// Records in the form libspf2's own resolver layer gives them: addresses
// binary, names and TXT text NUL-terminated.
SPF_dns_rr_t* rr_from(SPF_dns_server_t* layer, const char* domain, ns_type type, dns::DnsStatus status,
                      std::uint32_t ttl, const std::vector<std::string>& records, bool text) {
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(ttl), herrno_of(status));
  if (!rr) return nullptr;
  for (const std::string& record : records) {
    const std::size_t size = record.size() + (text ? 1 : 0);
    if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, size) != SPF_E_SUCCESS) break;
    std::memcpy(rr->rr[rr->num_rr], record.c_str(), size);
    ++rr->num_rr;
  }
  if (status == dns::DnsStatus::found && rr->num_rr == 0) rr->herrno = NO_DATA;
  return rr;
}

struct Lookups {
  dns::Resolver& resolver;
  bool temporary_failure = false;  // some lookup could not be answered
};

SPF_dns_rr_t* lookup(SPF_dns_server_t* layer, dns::Resolver& resolver, const char* domain, ns_type type) {
  switch (type) {
    case ns_t_a:
    case ns_t_aaaa: {
      auto answer = resolver.query(domain, type == ns_t_a ? dns::RrType::a : dns::RrType::aaaa);
      return rr_from(layer, domain, type, answer.status, answer.ttl, answer.records, false);
    }
    case ns_t_txt: {
      auto answer = resolver.txt(domain);
      return rr_from(layer, domain, type, answer.status, answer.ttl, answer.records, true);
    }
    case ns_t_ptr: {
      auto answer = resolver.ptr(domain);
      return rr_from(layer, domain, type, answer.status, answer.ttl, answer.records, true);
    }
    case ns_t_mx: {
      auto answer = resolver.mx(domain);
      std::vector<std::string> names;
      for (const dns::MxRecord& mx : answer.records) names.push_back(mx.exchange);
      return rr_from(layer, domain, type, answer.status, answer.ttl, names, true);
    }
    default: return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
  }
}

SPF_dns_rr_t* lookup_hook(SPF_dns_server_t* layer, const char* domain, ns_type type, int) {
  auto& lookups = *static_cast<Lookups*>(layer->hook);
  SPF_dns_rr_t* rr = lookup(layer, lookups.resolver, domain, type);
  if (!rr || rr->herrno == TRY_AGAIN) lookups.temporary_failure = true;
  return rr;
}

AuthResult auth_result_of(SPF_result_t result) {
  switch (result) {
    case SPF_RESULT_PASS: return AuthResult::pass;
    case SPF_RESULT_FAIL: return AuthResult::fail;
    case SPF_RESULT_SOFTFAIL: return AuthResult::softfail;
    case SPF_RESULT_NEUTRAL: return AuthResult::neutral;
    case SPF_RESULT_NONE: return AuthResult::none;
    case SPF_RESULT_TEMPERROR: return AuthResult::temperror;
    default: return AuthResult::permerror;
  }
}

}  // namespace

SpfVerdict check_spf(dns::Resolver& resolver, std::string_view client_ip, std::string_view helo, std::string_view mail_from) {
  SpfVerdict verdict;
  // RFC 7208 §2.4: a null reverse-path is checked as postmaster@HELO.
  verdict.from_helo = mail_from.empty();
  const std::string sender = verdict.from_helo ? "postmaster@" + std::string(helo) : std::string(mail_from);
  verdict.domain = sender.substr(sender.rfind('@') + 1);

  // The layer is ours (destroy = nullptr: libspf2 does not free it).
  Lookups lookups{resolver};
  SPF_dns_server_t layer{};
  layer.lookup = lookup_hook;
  layer.name = "umstore";
  layer.hook = &lookups;
  std::unique_ptr<SPF_server_t, decltype(&SPF_server_free)> server(SPF_server_new_dns(&layer, 0), SPF_server_free);
  if (!server) throw std::runtime_error("cannot initialise libspf2");
  std::unique_ptr<SPF_request_t, decltype(&SPF_request_free)> request(SPF_request_new(server.get()), SPF_request_free);
  const std::string ip(client_ip), helo_name(helo);
  const bool v6 = ip.find(':') != std::string::npos;
  if ((v6 ? SPF_request_set_ipv6_str(request.get(), ip.c_str()) : SPF_request_set_ipv4_str(request.get(), ip.c_str())) !=
      SPF_E_SUCCESS) {
    throw std::invalid_argument("SPF: client address " + ip + " is not an IP address");
  }
  if (!helo_name.empty()) SPF_request_set_helo_dom(request.get(), helo_name.c_str());
  if (SPF_request_set_env_from(request.get(), sender.c_str()) != 0) {
    return {AuthResult::none, verdict.domain, verdict.from_helo, "no domain to check"};
  }
  SPF_response_t* raw = nullptr;
  SPF_request_query_mailfrom(request.get(), &raw);
  std::unique_ptr<SPF_response_t, decltype(&SPF_response_free)> response(raw, SPF_response_free);
  if (!response) return {AuthResult::temperror, verdict.domain, verdict.from_helo, "SPF check failed"};
  verdict.result = auth_result_of(SPF_response_result(response.get()));
  // RFC 7208 §4.4, §5: a DNS failure during the evaluation is a temperror;
  // libspf2 reports some of them as permerror or a later mechanism's result.
  if (lookups.temporary_failure && verdict.result != AuthResult::pass) {
    return {AuthResult::temperror, verdict.domain, verdict.from_helo, "DNS lookup failed"};
  }
  if (const char* comment = SPF_response_get_header_comment(response.get())) verdict.reason = comment;
  return verdict;
}

}  // namespace umstore::mailauth
