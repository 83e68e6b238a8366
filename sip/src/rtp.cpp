#include "rtp.hpp"

#include <spandsp.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace umstore::sip {

std::optional<RtpPacket> parse_rtp(std::span<const std::uint8_t> d) {
  if (d.size() < 12 || (d[0] >> 6) != 2) return std::nullopt;
  const bool padding = d[0] & 0x20;
  const bool extension = d[0] & 0x10;
  const std::size_t csrc_count = d[0] & 0x0f;
  std::size_t header = 12 + 4 * csrc_count;
  if (d.size() < header) return std::nullopt;
  if (extension) {
    if (d.size() < header + 4) return std::nullopt;
    header += 4 + 4 * ((std::size_t{d[header + 2]} << 8) | d[header + 3]);
    if (d.size() < header) return std::nullopt;
  }
  std::size_t end = d.size();
  if (padding) {
    const std::size_t pad = d.back();
    if (pad == 0 || pad > end - header) return std::nullopt;
    end -= pad;
  }
  RtpPacket p;
  p.marker = d[1] & 0x80;
  p.payload_type = d[1] & 0x7f;
  p.sequence = static_cast<std::uint16_t>((d[2] << 8) | d[3]);
  p.timestamp = (std::uint32_t{d[4]} << 24) | (std::uint32_t{d[5]} << 16) | (std::uint32_t{d[6]} << 8) | d[7];
  p.ssrc = (std::uint32_t{d[8]} << 24) | (std::uint32_t{d[9]} << 16) | (std::uint32_t{d[10]} << 8) | d[11];
  p.payload = d.subspan(header, end - header);
  return p;
}

std::vector<std::uint8_t> build_rtp(const RtpPacket& p) {
  std::vector<std::uint8_t> out(12 + p.payload.size());
  out[0] = 0x80;
  out[1] = static_cast<std::uint8_t>((p.marker ? 0x80 : 0) | (p.payload_type & 0x7f));
  out[2] = static_cast<std::uint8_t>(p.sequence >> 8);
  out[3] = static_cast<std::uint8_t>(p.sequence);
  for (int i = 0; i < 4; ++i) {
    out[4 + i] = static_cast<std::uint8_t>(p.timestamp >> (24 - 8 * i));
    out[8 + i] = static_cast<std::uint8_t>(p.ssrc >> (24 - 8 * i));
  }
  std::copy(p.payload.begin(), p.payload.end(), out.begin() + 12);
  return out;
}

std::vector<std::int16_t> decode_g711(G711 codec, std::span<const std::uint8_t> payload) {
  std::vector<std::int16_t> out(payload.size());
  std::transform(payload.begin(), payload.end(), out.begin(), [codec](std::uint8_t b) {
    return codec == G711::Pcmu ? ulaw_to_linear(b) : alaw_to_linear(b);
  });
  return out;
}

std::vector<std::uint8_t> encode_g711(G711 codec, std::span<const std::int16_t> samples) {
  std::vector<std::uint8_t> out(samples.size());
  std::transform(samples.begin(), samples.end(), out.begin(), [codec](std::int16_t s) {
    return codec == G711::Pcmu ? linear_to_ulaw(s) : linear_to_alaw(s);
  });
  return out;
}

std::vector<std::int16_t> tone(double hz, unsigned ms, double amplitude) {
  const std::size_t n = std::size_t{ms} * 8;
  const std::size_t ramp = std::min<std::size_t>(80, n / 2);  // 10 ms
  std::vector<std::int16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    double gain = 1.0;
    if (i < ramp) gain = static_cast<double>(i) / ramp;
    if (n - i < ramp) gain = static_cast<double>(n - i) / ramp;
    out[i] = static_cast<std::int16_t>(amplitude * gain * std::sin(2 * std::numbers::pi * hz * i / 8000.0));
  }
  return out;
}

std::vector<std::int16_t> silence(unsigned ms) { return std::vector<std::int16_t>(std::size_t{ms} * 8, 0); }

ReorderBuffer::ReorderBuffer(std::size_t depth, std::uint32_t max_gap_samples)
    : depth_(std::max<std::size_t>(depth, 1)), max_gap_(max_gap_samples) {}

std::vector<std::int16_t> ReorderBuffer::push(std::uint16_t sequence, std::uint32_t timestamp,
                                              std::vector<std::int16_t> samples) {
  std::int64_t ext = sequence;
  if (highest_) ext = *highest_ + static_cast<std::int16_t>(sequence - static_cast<std::uint16_t>(*highest_));
  std::vector<std::int16_t> out;
  if ((last_released_ && ext <= *last_released_) ||
      !pending_.try_emplace(ext, Entry{timestamp, std::move(samples)}).second) {
    ++dropped_;
    return out;
  }
  if (!highest_) first_ = ext;
  first_ = std::min(first_, ext);
  ++received_;
  if (!highest_ || ext > *highest_) highest_ = ext;
  while (pending_.size() > depth_) {
    auto first = pending_.begin();
    release(first->second, out);
    last_released_ = first->first;
    pending_.erase(first);
  }
  return out;
}

std::vector<std::int16_t> ReorderBuffer::flush() {
  std::vector<std::int16_t> out;
  for (const auto& [ext, entry] : pending_) {
    release(entry, out);
    last_released_ = ext;
  }
  pending_.clear();
  return out;
}

void ReorderBuffer::release(const Entry& entry, std::vector<std::int16_t>& out) {
  const auto written = static_cast<std::int64_t>(written_);
  std::int64_t offset = written;
  if (last_timestamp_) offset = last_offset_ + static_cast<std::int32_t>(entry.timestamp - *last_timestamp_);
  // A jump beyond any plausible gap is a new timestamp base (sender restart),
  // not minutes of silence.
  if (offset > written + max_gap_ || offset < written - max_gap_) offset = written;
  last_timestamp_ = entry.timestamp;
  last_offset_ = offset;
  if (offset > written) out.insert(out.end(), static_cast<std::size_t>(offset - written), 0);
  const auto overlap = static_cast<std::size_t>(std::max<std::int64_t>(0, written - offset));
  if (overlap < entry.samples.size()) out.insert(out.end(), entry.samples.begin() + overlap, entry.samples.end());
  written_ = static_cast<std::uint64_t>(std::max(written, offset + static_cast<std::int64_t>(entry.samples.size())));
}

std::vector<std::uint8_t> RtpStream::next(G711 codec, std::span<const std::int16_t> samples, bool marker) {
  const auto payload = encode_g711(codec, samples);  // RtpPacket::payload only points at it
  RtpPacket p;
  p.payload_type = static_cast<std::uint8_t>(codec);
  p.marker = marker;
  p.sequence = sequence++;
  p.timestamp = timestamp;
  p.ssrc = ssrc;
  p.payload = payload;
  timestamp += static_cast<std::uint32_t>(samples.size());
  return build_rtp(p);
}

}  // namespace umstore::sip
