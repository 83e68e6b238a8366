#pragma once
// RTP (RFC 3550) packets, G.711 sample conversion and the reorder buffer that
// turns a jittery, reordered, lossy packet stream into a gap-free recording.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "sdp.hpp"

namespace umstore::sip {

struct RtpPacket {
  std::uint8_t payload_type = 0;
  bool marker = false;
  std::uint16_t sequence = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t ssrc = 0;
  std::span<const std::uint8_t> payload;
};

// nullopt for anything that is not RTP version 2 with a sane header.
std::optional<RtpPacket> parse_rtp(std::span<const std::uint8_t> datagram);
std::vector<std::uint8_t> build_rtp(const RtpPacket& header_and_payload);

// The sending side of one RTP stream of G.711: each packet numbered and
// timed after the one before, from random starting points (RFC 3550 §5.1).
struct RtpStream {
  std::uint32_t ssrc = 0;
  std::uint16_t sequence = 0;
  std::uint32_t timestamp = 0;
  template <typename Random>
  void start(Random& random) {
    ssrc = static_cast<std::uint32_t>(random());
    sequence = static_cast<std::uint16_t>(random());
    timestamp = static_cast<std::uint32_t>(random());
  }
  // The datagram carrying `samples`; the stream moves past them.
  std::vector<std::uint8_t> next(G711 codec, std::span<const std::int16_t> samples, bool marker = false);
};

std::vector<std::int16_t> decode_g711(G711 codec, std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> encode_g711(G711 codec, std::span<const std::int16_t> samples);

// A tone at `hz` for `ms` milliseconds, 8 kHz, with short ramps so it does not click.
std::vector<std::int16_t> tone(double hz, unsigned ms, double amplitude = 8000);
std::vector<std::int16_t> silence(unsigned ms);

// Holds up to `depth` packets so late ones can slip into place, then releases
// samples in timestamp order: lost packets become silence, duplicates and
// packets older than what was released are dropped.
class ReorderBuffer {
 public:
  explicit ReorderBuffer(std::size_t depth = 8, std::uint32_t max_gap_samples = 8000 * 5);

  // The samples that became final with this packet (possibly none).
  std::vector<std::int16_t> push(std::uint16_t sequence, std::uint32_t timestamp,
                                 std::vector<std::int16_t> samples);
  std::vector<std::int16_t> flush();
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t samples_released() const { return written_; }
  // Packets missing between the first and the highest sequence number seen.
  std::uint64_t lost() const {
    if (!highest_) return 0;
    const auto expected = static_cast<std::uint64_t>(*highest_ - first_ + 1);
    return expected > received_ ? expected - received_ : 0;
  }

 private:
  struct Entry {
    std::uint32_t timestamp;
    std::vector<std::int16_t> samples;
  };
  void release(const Entry& entry, std::vector<std::int16_t>& out);

  std::size_t depth_;
  std::int64_t max_gap_;
  std::map<std::int64_t, Entry> pending_;  // by extended sequence number
  std::optional<std::int64_t> highest_;
  std::optional<std::int64_t> last_released_;
  std::optional<std::uint32_t> last_timestamp_;
  std::int64_t last_offset_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t dropped_ = 0;
  std::int64_t first_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace umstore::sip
