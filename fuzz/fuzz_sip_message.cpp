// A SIP datagram from anyone who can reach the endpoint: the message (osip
// underneath, our accessors on top), the SDP of an offer (audio and T.38),
// and the header values the endpoint reads (name-addr lists, digest
// credentials). None may crash, hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "digest_auth.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"

namespace {

void read_sdp(std::string_view sdp) {
  (void)umstore::sip::parse_audio_offer(sdp);
  (void)umstore::sip::parse_t38_offer(sdp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::sip;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  read_sdp(text);
  (void)parse_name_addr(text);
  (void)split_header_list(text);
  (void)parse_digest_params(text);
  const auto message = SipMessage::parse(text);
  if (!message) return 0;
  if (message->is_request()) {
    (void)message->method();
    (void)message->request_uri_user();
  } else {
    (void)message->status();
  }
  (void)message->call_id();
  (void)message->cseq_number();
  (void)message->cseq_method();
  (void)message->via_branch();
  (void)message->from();
  (void)message->to();
  (void)message->contact();
  (void)message->contact_host_port();
  (void)message->via_sent_by();
  (void)message->record_routes();
  (void)message->header_values("Supported");
  (void)parse_digest_params(message->authorization());
  read_sdp(message->body());
  return 0;
}
