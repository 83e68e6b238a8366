#pragma once
// UDPTL (ITU-T T.38 clause 9.1 and Annex A), the UDP framing of T.38 IFP
// packets: a 16-bit sequence number, the primary IFP packet, and error
// recovery by redundancy (the previous few IFP packets again, newest first).
// Encoded with the aligned PER rules of the ASN.1 in T.38 Annex A; FEC
// recovery is parsed but not used (gateways default to redundancy and we
// answer T38FaxUdpEC:t38UDPRedundancy).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace umstore::sip {

constexpr std::size_t kMaxIfpBytes = 1024;  // far above any T38FaxMaxDatagram in use

struct UdptlPacket {
  std::uint16_t sequence = 0;
  std::vector<std::uint8_t> primary;
  std::vector<std::vector<std::uint8_t>> secondary;  // sequence-1, sequence-2, ...
};

std::vector<std::uint8_t> encode_udptl(const UdptlPacket& packet);
// nullopt for a datagram that is not well-formed UDPTL (or carries FEC,
// whose packets we do not reconstruct: the primary is still returned).
std::optional<UdptlPacket> decode_udptl(std::span<const std::uint8_t> datagram);

// Sends IFP packets with the last `redundancy` ones repeated in each datagram.
class UdptlSender {
 public:
  // max_datagram: the peer's T38FaxMaxDatagram; older repeats are left out
  // to stay within it.
  explicit UdptlSender(std::size_t redundancy = 3, std::size_t max_datagram = 1400)
      : redundancy_(redundancy), max_datagram_(max_datagram) {}
  std::vector<std::uint8_t> next(std::span<const std::uint8_t> ifp);

 private:
  std::size_t redundancy_;
  std::size_t max_datagram_;
  std::uint16_t sequence_ = 0;
  std::deque<std::vector<std::uint8_t>> history_;  // newest first
};

// Turns received datagrams into the IFP packets in sequence order, taking
// packets lost on the way from the redundancy of later datagrams. Late and
// repeated packets are dropped.
class UdptlReceiver {
 public:
  struct Ifp {
    std::uint16_t sequence;
    std::vector<std::uint8_t> data;
  };
  std::vector<Ifp> receive(std::span<const std::uint8_t> datagram);
  std::uint64_t recovered() const { return recovered_; }
  std::uint64_t lost() const { return lost_; }

 private:
  std::optional<std::uint16_t> expected_;
  std::uint64_t recovered_ = 0;
  std::uint64_t lost_ = 0;
};

}  // namespace umstore::sip
