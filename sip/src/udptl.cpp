#include "udptl.hpp"

namespace umstore::sip {
namespace {

// PER length determinant (X.691 10.9) for the lengths UDPTL carries: one
// octet below 128, two below 16384. Larger (fragmented) lengths never occur
// with IFP packets of at most kMaxIfpBytes and are refused.
void put_length(std::vector<std::uint8_t>& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(static_cast<std::uint8_t>(0x80 | (n >> 8)));
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
  }
}

void put_open_type(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> data) {
  put_length(out, data.size());
  out.insert(out.end(), data.begin(), data.end());
}

struct Reader {
  std::span<const std::uint8_t> in;
  std::size_t at = 0;

  std::optional<std::uint8_t> byte() {
    if (at >= in.size()) return std::nullopt;
    return in[at++];
  }
  std::optional<std::size_t> length() {
    const auto first = byte();
    if (!first) return std::nullopt;
    if ((*first & 0x80) == 0) return *first;
    if ((*first & 0x40) != 0) return std::nullopt;  // fragmented: far beyond any IFP packet
    const auto second = byte();
    if (!second) return std::nullopt;
    return (std::size_t(*first & 0x3f) << 8) | *second;
  }
  std::optional<std::vector<std::uint8_t>> open_type() {
    const auto n = length();
    if (!n || *n > kMaxIfpBytes || in.size() - at < *n) return std::nullopt;
    std::vector<std::uint8_t> out(in.begin() + static_cast<std::ptrdiff_t>(at),
                                  in.begin() + static_cast<std::ptrdiff_t>(at + *n));
    at += *n;
    return out;
  }
};

constexpr std::size_t kMaxSecondary = 16;

}  // namespace

std::vector<std::uint8_t> encode_udptl(const UdptlPacket& packet) {
  std::vector<std::uint8_t> out;
  out.push_back(static_cast<std::uint8_t>(packet.sequence >> 8));
  out.push_back(static_cast<std::uint8_t>(packet.sequence & 0xff));
  put_open_type(out, packet.primary);
  out.push_back(0x00);  // error recovery: secondary IFP packets
  put_length(out, packet.secondary.size());
  for (const auto& s : packet.secondary) put_open_type(out, s);
  return out;
}

std::optional<UdptlPacket> decode_udptl(std::span<const std::uint8_t> datagram) {
  Reader r{datagram};
  const auto hi = r.byte();
  const auto lo = r.byte();
  if (!hi || !lo) return std::nullopt;
  UdptlPacket p;
  p.sequence = static_cast<std::uint16_t>((*hi << 8) | *lo);
  auto primary = r.open_type();
  if (!primary || primary->empty()) return std::nullopt;
  p.primary = std::move(*primary);
  const auto recovery = r.byte();
  if (!recovery) return std::nullopt;
  if ((*recovery & 0x80) != 0) return p;  // FEC: the primary alone
  const auto count = r.length();
  if (!count || *count > kMaxSecondary) return std::nullopt;
  for (std::size_t i = 0; i < *count; ++i) {
    auto s = r.open_type();
    if (!s) return std::nullopt;
    p.secondary.push_back(std::move(*s));
  }
  return p;
}

std::vector<std::uint8_t> UdptlSender::next(std::span<const std::uint8_t> ifp) {
  UdptlPacket p;
  p.sequence = sequence_++;
  p.primary.assign(ifp.begin(), ifp.end());
  p.secondary.assign(history_.begin(), history_.end());
  auto out = encode_udptl(p);
  while (out.size() > max_datagram_ && !p.secondary.empty()) {
    p.secondary.pop_back();
    out = encode_udptl(p);
  }
  history_.push_front(std::move(p.primary));
  if (history_.size() > redundancy_) history_.pop_back();
  return out;
}

std::vector<UdptlReceiver::Ifp> UdptlReceiver::receive(std::span<const std::uint8_t> datagram) {
  std::vector<Ifp> out;
  auto p = decode_udptl(datagram);
  if (!p) return out;
  if (!expected_) expected_ = p->sequence;
  const auto ahead = static_cast<std::int16_t>(static_cast<std::uint16_t>(p->sequence - *expected_));
  if (ahead < 0) return out;  // late or repeated
  // Packets between the one expected and this one, oldest first.
  for (int back = ahead; back >= 1; --back) {
    const auto sequence = static_cast<std::uint16_t>(p->sequence - back);
    const auto index = static_cast<std::size_t>(back - 1);
    if (index < p->secondary.size()) {
      out.push_back({sequence, std::move(p->secondary[index])});
      ++recovered_;
    } else {
      ++lost_;
    }
  }
  out.push_back({p->sequence, std::move(p->primary)});
  expected_ = static_cast<std::uint16_t>(p->sequence + 1);
  return out;
}

}  // namespace umstore::sip
