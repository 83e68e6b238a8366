#pragma once
// Sending a fax from mail: what SipServer::send_fax() dials (a SIP gateway),
// what it sends (a TIFF-F rendered by the queue), and how the call ended, in
// terms the queue can act on (retry or bounce).
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::sip {

struct FaxGateway {
  std::string uri = {};         // "sip:127.0.0.1:5070", "sip:gw.example.net;transport=tcp" or "sips:gw.example.net"
  std::string user = {}, password = {};  // digest credentials (RFC 8760: SHA-256 or MD5); empty: none
  // accept: switch to T.38 when the gateway re-INVITEs; offer: also
  // re-INVITE to T.38 ourselves once answered (a refusal keeps G.711);
  // off: refuse the gateway's re-INVITE and stay on G.711.
  enum class T38 { accept, offer, off } t38 = T38::accept;
  std::chrono::seconds ring_timeout{60};  // no final answer in this time: CANCEL, outcome no_answer
  std::chrono::seconds max_call{1800};    // a hard cap on a call
  // Where to send instead of the URI's host and port: the server its SRV
  // records name (RFC 3263 §4.2), looked up by the caller; the Request-URI
  // keeps the URI's domain.
  struct NextHop {
    std::string address;  // an IP address
    std::uint16_t port = 0;
  };
  std::optional<NextHop> next_hop = {};
};

// RFC 3263 §4.2: the SRV name that finds the servers of a gateway URI whose
// host is a domain name given without a port ("sip:gw.example.net" ->
// "_sip._udp.gw.example.net", "_sip._tcp." with ;transport=tcp, "_sips._tcp."
// with sips: or ;transport=tls); nullopt
// for an IP address, an explicit port or a URI that is no gateway's.
std::optional<std::string> gateway_srv_name(std::string_view uri);

struct OutboundFax {
  std::string number;        // E.164 "+12025550123", the Request-URI user part
  std::string sub_address;   // T.33 sub-address for T.30 SUB, may be empty
  std::string caller_id;     // From user part, may be empty (then "anonymous")
  std::string station_id;    // T.30 TSI, at most 20 characters
  std::string page_header;   // T.30 page header line, may be empty
  std::filesystem::path tiff;  // the TIFF-F pages to send
};

enum class FaxCallOutcome { sent, busy, no_answer, refused, t30_failed, unreachable };
std::string_view to_string(FaxCallOutcome outcome);

struct FaxCallResult {
  FaxCallOutcome outcome = FaxCallOutcome::unreachable;
  // The final answer to the INVITE, if any. Without one (sip_status 0) the
  // reason says in words what happened instead: "no response from ...",
  // "cannot resolve ...", "stopped", "cannot read the TIFF ...".
  int sip_status = 0;
  std::string sip_reason;
  int t30_code = -1;          // spandsp's completion code (T30_ERR_OK is 0); -1: T.30 never ran
  std::string t30_result;     // and its text
  unsigned pages_sent = 0, pages_total = 0;
  std::string remote_station;  // the receiver's CSI
  std::chrono::milliseconds duration{0};  // answer to hang-up
  bool t38 = false;
  // busy, no_answer, unreachable, t30_failed; not refused (4xx other than
  // 408/480/486/487, 5xx other than 503, 6xx other than 600, a bad TIFF).
  bool retry_may_help() const;
};

}  // namespace umstore::sip
