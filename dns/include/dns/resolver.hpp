#pragma once
// DNS lookups for sender authentication (DKIM keys, SPF, DMARC) and ENUM, on
// libunbound: a stub to one configured server (or the system's resolvers),
// a timeout per query, and libunbound's cache, which keeps answers for their
// TTL. Chosen over ldns because ldns has no cache; libunbound's async API
// gives each query our timeout (its blocking ub_resolve has none).
//
// Calls block for up to the timeout: run them on a worker thread, never on an
// I/O thread. One Resolver serves many threads at once (one cache for all):
// a slow domain delays only the threads that asked for it.
#include <chrono>
#include <filesystem>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::dns {

enum class DnsStatus {
  found,              // records of the type asked
  no_data,            // the name exists, without records of that type (final)
  nxdomain,           // the name does not exist (final)
  temporary_failure,  // timeout, SERVFAIL, REFUSED, network error: retry later
};

std::string_view to_string(DnsStatus status);

struct DnsConfig {
  std::string server;  // IP address of the server to ask; empty: /etc/resolv.conf
  std::uint16_t port = 53;
  std::chrono::milliseconds timeout{5000};
  // DNSSEC trust anchors (DS or DNSKEY records, zone file format, as
  // unbound's trust-anchor-file; Debian's dns-root-data has the root's in
  // /usr/share/dns/root.key). Set: answers are validated, DnsAnswer::secure
  // says which were, and a bogus one is a temporary failure. Empty: none is.
  std::filesystem::path trust_anchor_file;
};

enum class RrType : int { a = 1, ns = 2, cname = 5, ptr = 12, mx = 15, txt = 16, aaaa = 28, srv = 33, naptr = 35, tlsa = 52 };

template <class Record>
struct DnsAnswer {
  DnsStatus status = DnsStatus::temporary_failure;
  std::vector<Record> records;
  std::uint32_t ttl = 0;  // seconds, of the answer as cached
  std::string error;      // why, for temporary_failure
  bool secure = false;    // validated by DNSSEC up to a trust anchor (DnsConfig::trust_anchor_file)

  bool found() const { return status == DnsStatus::found; }
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // without the final dot
};

struct SrvRecord {  // RFC 2782, for SIP servers (RFC 3263)
  std::uint16_t priority = 0, weight = 0, port = 0;
  std::string target;  // without the final dot; "." (none) is ""
};

struct NaptrRecord {  // RFC 3403, for ENUM (RFC 6116)
  std::uint16_t order = 0;
  std::uint16_t preference = 0;
  std::string flags, services, regexp, replacement;
};

struct TlsaRecord {  // RFC 6698
  std::uint8_t usage = 0, selector = 0, matching_type = 0;
  std::string data;  // the certificate association data, binary
};

class Resolver {
 public:
  explicit Resolver(const DnsConfig& config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Each record's RDATA, uncompressed wire format.
  DnsAnswer<std::string> query(std::string_view name, RrType type);

  DnsAnswer<std::string> txt(std::string_view name);  // character-strings joined
  DnsAnswer<std::string> addresses(std::string_view name, RrType type);  // a/aaaa, as text
  DnsAnswer<std::string> ptr(std::string_view name);  // target names
  DnsAnswer<MxRecord> mx(std::string_view name);
  DnsAnswer<NaptrRecord> naptr(std::string_view name);
  DnsAnswer<SrvRecord> srv(std::string_view name);
  DnsAnswer<TlsaRecord> tlsa(std::string_view name);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
  std::chrono::milliseconds timeout_;
};

}  // namespace umstore::dns
