#pragma once
// A parsed SIP message (osip2's parser underneath) with the few accessors the
// UAS needs, and the text of responses built from a request.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct osip_message;

namespace umstore::sip {

// A name-addr such as `"Alice" <sip:+15550123@gw;user=phone>;tag=x`.
struct NameAddr {
  std::string display_name;
  std::string user;   // user part of the URI (tel: URIs: the number)
  std::string uri;    // the URI as text
  std::string tag;
};

// Parses a name-addr header value; nullopt when it is not one.
std::optional<NameAddr> parse_name_addr(std::string_view value);

// Splits a header value at commas outside quotes and angle brackets.
std::vector<std::string> split_header_list(std::string_view value);

class SipMessage {
 public:
  // nullopt for anything osip cannot parse or that lacks the mandatory
  // headers (Via, From, To, Call-ID, CSeq).
  static std::optional<SipMessage> parse(std::string_view datagram);

  bool is_request() const;
  std::string method() const;  // requests
  int status() const;          // responses
  std::string reason() const;  // responses: the reason phrase
  std::string call_id() const;
  std::uint32_t cseq_number() const;
  std::string cseq_method() const;
  std::string via_branch() const;
  std::string request_uri_user() const;
  NameAddr from() const;
  NameAddr to() const;
  std::string from_text() const;  // the header values as sent, for building requests
  std::string to_text() const;
  std::optional<NameAddr> contact() const;
  // Host and port (0 when absent) of the first Contact URI and of the top Via's sent-by.
  std::optional<std::pair<std::string, std::uint16_t>> contact_host_port() const;
  std::optional<std::pair<std::string, std::uint16_t>> via_sent_by() const;
  std::vector<std::string> record_routes() const;  // top to bottom
  // Every value of a header (comma lists split), in order.
  std::vector<std::string> header_values(std::string_view name) const;
  std::string header(std::string_view name) const;  // first value or ""
  // The first Authorization header value as sent ("Digest username=..."), or "".
  std::string authorization() const;
  // Every WWW-Authenticate (with `proxy`: Proxy-Authenticate) value of a
  // 401 (407), "Digest realm=..." as sent; osip keeps them apart from other headers.
  std::vector<std::string> challenges(bool proxy) const;
  std::string content_type() const;                 // "application/sdp" or ""
  std::string body() const;

  // A response to this request: Via, From, Call-ID and CSeq copied, To with
  // `to_tag` added when it has none. `extra_headers` are complete CRLF-ended lines.
  std::string response(int code, std::string_view reason, std::string_view to_tag,
                       std::string_view extra_headers = {}, std::string_view content_type = {},
                       std::string_view body = {}) const;

 private:
  struct Free {
    void operator()(osip_message* m) const noexcept;
  };
  explicit SipMessage(osip_message* m) : msg_(m, Free{}) {}
  std::shared_ptr<osip_message> msg_;
};

}  // namespace umstore::sip
