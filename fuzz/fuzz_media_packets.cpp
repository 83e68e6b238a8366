// RTP and UDPTL (T.38) datagrams from the media ports, which anyone can
// send to during a call: the packet parsers and the G.711 decode of what
// they carry. None may crash or read past the datagram.
#include <cstddef>
#include <cstdint>
#include <span>

#include "rtp.hpp"
#include "udptl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::sip;
  const std::span<const std::uint8_t> datagram(data, size);
  if (const auto packet = parse_rtp(datagram)) {
    (void)decode_g711(G711::Pcmu, packet->payload);
    (void)build_rtp(*packet);
  }
  if (const auto packet = decode_udptl(datagram)) (void)encode_udptl(*packet);
  return 0;
}
