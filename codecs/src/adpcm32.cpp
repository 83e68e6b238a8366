// audio/32KADPCM (RFC 3802): ITU-T G.726 at 32 kbit/s. Decoding goes
// through spandsp; encoding, the hot path of every voicemail, is our own
// bit-exact rewrite of spandsp's encoder (see G726Encoder).
#include <ctime>  // spandsp.h uses time_t without including it
#include <spandsp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "codecs/audio.hpp"

namespace umstore::codecs {
namespace {

struct G726Releaser {
  void operator()(g726_state_t* state) const { g726_free(state); }
};
using G726State = std::unique_ptr<g726_state_t, G726Releaser>;

// G726_PACKING_RIGHT puts the first code in the low nibble: RFC 3802 order.
G726State make_state() {
  G726State state(g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_RIGHT));
  if (!state) throw CodecError("32KADPCM: cannot initialise the G.726 codec (out of memory)");
  return state;
}

constexpr std::size_t block_samples = 8000;  // keeps every spandsp call's int length small

// ITU-T G.726 at 32 kbit/s, linear input, written from the Recommendation's
// block descriptions (names in comments) with the same 16-bit integer
// arithmetic as spandsp, so the output is identical bit for bit. State is a
// plain value object so the whole per-sample step inlines into one loop.
class G726Encoder {
 public:
  std::uint8_t encode(std::int16_t sample) {
    const auto sl = static_cast<std::int16_t>(sample >> 2);  // 14-bit linear input
    std::int16_t sezi, sei;
    predict(sezi, sei);
    const auto se = static_cast<std::int16_t>(sei >> 1);
    const auto d = static_cast<std::int16_t>(sl - se);
    const int y = step_size();
    const int code = quantize(d, y);
    const std::int16_t dq = reconstruct((code & 8) != 0, dqln_table[code], y);
    const auto sr = static_cast<std::int16_t>(dq < 0 ? se - (dq & 0x3FFF) : se + dq);
    const auto dqsez = static_cast<std::int16_t>(sr + (sezi >> 1) - se);
    update(y, wi_table[code], fi_table[code], dq, sr, dqsez);
    return static_cast<std::uint8_t>(code);
  }

 private:
  // Reconstructed log magnitude, scale factor multiplier and speed control
  // input per code (G.726 Tables 7 and 8 for 32 kbit/s).
  static constexpr std::int16_t dqln_table[16] = {-2048, 4,   135, 213, 273, 323, 373, 425,
                                                  425,   373, 323, 273, 213, 135, 4,   -2048};
  static constexpr int wi_table[16] = {-384,  576,   1312, 2048, 3584, 6336, 11360, 35904,
                                       35904, 11360, 6336, 3584, 2048, 1312, 576,   -384};
  static constexpr std::int16_t fi_table[16] = {0x000, 0x000, 0x000, 0x200, 0x200, 0x200, 0x600, 0xE00,
                                                0xE00, 0x600, 0x200, 0x200, 0x200, 0x000, 0x000, 0x000};
  static constexpr std::int16_t quantizer_steps[7] = {-124, 80, 178, 246, 300, 349, 400};

  std::int32_t yl_ = 34816;  // locked step size multiplier
  std::int16_t yu_ = 544;    // unlocked step size multiplier
  std::int16_t dms_ = 0, dml_ = 0, ap_ = 0;
  std::int16_t a_[2] = {0, 0};
  // The six zero-predictor coefficients and dq history live in one 8 x 16-bit
  // vector (lanes 6 and 7 unused) so UPB and the history shift are a few
  // vector instructions instead of six branches and a memmove per sample.
  using Short8 = std::int16_t __attribute__((vector_size(16)));
  Short8 b_ = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int16_t pk_[2] = {0, 0};
  Short8 dq_ = {32, 32, 32, 32, 32, 32, 32, 32};  // 4-bit exponent, 6-bit mantissa, sign
  std::int16_t sr_[2] = {32, 32};
  bool td_ = false;

  static int top_bit(int value) { return std::bit_width(static_cast<unsigned>(value)) - 1; }  // -1 for 0

  // FMULT: 14-bit coefficient times a floating-point history value.
  static std::int16_t fmult(std::int16_t an, std::int16_t srn) {
    const auto anmag = static_cast<std::int16_t>(an > 0 ? an : ((-an) & 0x1FFF));
    const auto anexp = static_cast<std::int16_t>(top_bit(anmag) - 5);
    const auto anmant =
        static_cast<std::int16_t>(anmag == 0 ? 32 : anexp >= 0 ? anmag >> anexp : anmag << -anexp);
    const auto wanexp = static_cast<std::int16_t>(anexp + ((srn >> 6) & 0xF) - 13);
    const auto wanmant = static_cast<std::int16_t>((anmant * (srn & 0x3F) + 0x30) >> 4);
    const auto product =
        static_cast<std::int16_t>(wanexp >= 0 ? (wanmant << wanexp) & 0x7FFF : wanmant >> -wanexp);
    return static_cast<std::int16_t>((an ^ srn) < 0 ? -product : product);
  }

  // The eight FMULT products of the zero (b * dq) and pole (a * sr)
  // predictors are independent, so they run as two 4-lane vectors (GCC
  // vector extensions: SSE2 on x86-64, NEON on ARM). Per-lane variable shifts
  // are not in SSE2, so both shifts go through float: the leading-bit
  // exponent and 6-bit mantissa of |an| are read from its float bits, and
  // "wanmant shifted by wanexp" is an exact multiply by 2^wanexp (wanmant
  // < 256, wanexp in -19..9) truncated, which equals the integer shift for
  // these non-negative values. The test compares the codes with spandsp's.
  using Lanes = std::int32_t __attribute__((vector_size(16)));  // 4 lanes: one SSE2/NEON register
  using FloatLanes = float __attribute__((vector_size(16)));

  static Lanes fmult4(Lanes an, Lanes srn) {
    const Lanes anmag = an > 0 ? an : ((-an) & 0x1FFF);
    const auto magnitude_bits = std::bit_cast<Lanes>(__builtin_convertvector(anmag, FloatLanes));
    const Lanes anexp = anmag == 0 ? Lanes{} - 6 : (magnitude_bits >> 23) - 127 - 5;
    const Lanes anmant = 32 | ((magnitude_bits >> 18) & 31);  // 32 for a zero magnitude, as FMULT wants
    const Lanes wanexp = anexp + ((srn >> 6) & 0xF) - 13;
    const Lanes wanmant = (anmant * (srn & 0x3F) + 0x30) >> 4;
    const auto power = std::bit_cast<FloatLanes>((wanexp + 127) << 23);
    const Lanes product = __builtin_convertvector(__builtin_convertvector(wanmant, FloatLanes) * power, Lanes) & 0x7FFF;
    return (an ^ srn) < 0 ? -product : product;
  }

  void predict(std::int16_t& sezi, std::int16_t& sei) const {
    const Lanes zero_low = fmult4(Lanes{b_[0] >> 2, b_[1] >> 2, b_[2] >> 2, b_[3] >> 2},
                                  Lanes{dq_[0], dq_[1], dq_[2], dq_[3]});
    const Lanes mixed = fmult4(Lanes{b_[4] >> 2, b_[5] >> 2, a_[1] >> 2, a_[0] >> 2},
                               Lanes{dq_[4], dq_[5], sr_[1], sr_[0]});
    sezi = static_cast<std::int16_t>(zero_low[0] + zero_low[1] + zero_low[2] + zero_low[3] + mixed[0] + mixed[1]);
    sei = static_cast<std::int16_t>(sezi + static_cast<std::int16_t>(mixed[2] + mixed[3]));
  }

  int step_size() const {  // MIX
    if (ap_ >= 256) return yu_;
    int y = yl_ >> 6;
    const int dif = yu_ - y;
    const int al = ap_ >> 2;
    if (dif > 0)
      y += (dif * al) >> 6;
    else if (dif < 0)
      y += (dif * al + 0x3F) >> 6;
    return y;
  }

  // QUAN as a lookup over every possible dln (dl is 0..2047 and y >> 2 is
  // 136..1280, so dln lies in -1280..1911): one load instead of seven compares.
  static constexpr int dln_offset = 2048;
  static constexpr auto quantizer_levels = [] {
    std::array<std::uint8_t, 4096> levels{};
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const int dln = static_cast<int>(i) - dln_offset;
      for (const std::int16_t step : quantizer_steps)
        levels[i] = static_cast<std::uint8_t>(levels[i] + (dln >= step ? 1 : 0));
    }
    return levels;
  }();

  static int quantize(std::int16_t d, int y) {
    const auto dqm = static_cast<std::int16_t>(std::abs(static_cast<int>(d)));  // LOG
    const auto exponent = static_cast<std::int16_t>(top_bit(dqm >> 1) + 1);
    const auto mantissa = static_cast<std::int16_t>(((dqm << 7) >> exponent) & 0x7F);
    const auto dl = static_cast<std::int16_t>((exponent << 7) + mantissa);
    const auto dln = static_cast<std::int16_t>(dl - static_cast<std::int16_t>(y >> 2));  // SUBTB
    // The mask only keeps the index in bounds; dln never leaves the table's range.
    const int level = quantizer_levels[static_cast<std::size_t>(dln + dln_offset) & (quantizer_levels.size() - 1)];
    if (d < 0) return 15 - level;
    return level == 0 ? 15 : level;  // 15 states: a positive zero is coded as 15
  }

  static std::int16_t reconstruct(bool negative, int dqln, int y) {
    const auto dql = static_cast<std::int16_t>(dqln + (y >> 2));  // ADDA
    if (dql < 0) return static_cast<std::int16_t>(negative ? -0x8000 : 0);
    const auto dex = static_cast<std::int16_t>((dql >> 7) & 15);  // ANTILOG
    const auto dqt = static_cast<std::int16_t>(128 + (dql & 127));
    const auto dq = static_cast<std::int16_t>((dqt << 7) >> (14 - dex));
    return static_cast<std::int16_t>(negative ? dq - 0x8000 : dq);
  }

  // Sign and 4-bit exponent, 6-bit mantissa form of a 16-bit value (FLOAT A/B).
  static std::int16_t to_float(int magnitude, bool negative) {
    const auto exponent = static_cast<std::int16_t>(top_bit(magnitude) + 1);
    return static_cast<std::int16_t>((exponent << 6) + ((magnitude << 6) >> exponent) - (negative ? 0x400 : 0));
  }

  void update(int y, int wi, int fi, int dq, int sr, int dqsez) {
    std::int16_t a2p = 0;
    const std::int16_t pk0 = dqsez < 0 ? 1 : 0;
    const auto mag = static_cast<std::int16_t>(dq & 0x7FFF);
    // TRANS: a likely modem signal whose difference exceeds 3/4 of the threshold.
    const auto ylint = static_cast<std::int16_t>(yl_ >> 15);
    const auto ylfrac = static_cast<std::int16_t>((yl_ >> 10) & 0x1F);
    const auto thr = static_cast<std::int16_t>(ylint > 9 ? 31 << 10 : (32 + ylfrac) << ylint);
    const auto dqthr = static_cast<std::int16_t>((thr + (thr >> 1)) >> 1);
    const bool tr = td_ && mag > dqthr;

    yu_ = static_cast<std::int16_t>(y + ((wi - y) >> 5));  // FUNCTW, FILTD
    yu_ = std::clamp<std::int16_t>(yu_, 544, 5120);        // LIMB
    yl_ += yu_ + ((-yl_) >> 6);                            // FILTE

    if (tr) {
      std::fill(std::begin(a_), std::end(a_), std::int16_t{0});
      b_ = Short8{};
    } else {
      const auto pks1 = static_cast<std::int16_t>(pk0 ^ pk_[0]);  // UPA2
      a2p = static_cast<std::int16_t>(a_[1] - (a_[1] >> 7));
      if (dqsez != 0) {
        const auto fa1 = static_cast<std::int16_t>(pks1 ? a_[0] : -a_[0]);
        if (fa1 < -8191)
          a2p = static_cast<std::int16_t>(a2p - 0x100);
        else if (fa1 > 8191)
          a2p = static_cast<std::int16_t>(a2p + 0xFF);
        else
          a2p = static_cast<std::int16_t>(a2p + (fa1 >> 5));
        if (pk0 ^ pk_[1]) {  // LIMC
          if (a2p <= -12160)
            a2p = -12288;
          else if (a2p >= 12416)
            a2p = 12288;
          else
            a2p = static_cast<std::int16_t>(a2p - 0x80);
        } else {
          if (a2p <= -12416)
            a2p = -12288;
          else if (a2p >= 12160)
            a2p = 12288;
          else
            a2p = static_cast<std::int16_t>(a2p + 0x80);
        }
      }
      a_[1] = a2p;
      a_[0] = static_cast<std::int16_t>(a_[0] - (a_[0] >> 8));  // UPA1
      if (dqsez != 0) a_[0] = static_cast<std::int16_t>(pks1 == 0 ? a_[0] + 192 : a_[0] - 192);
      const auto a1ul = static_cast<std::int16_t>(15360 - a2p);  // LIMD
      if (a_[0] < -a1ul)
        a_[0] = static_cast<std::int16_t>(-a1ul);
      else if (a_[0] > a1ul)
        a_[0] = a1ul;
      b_ -= b_ >> 8;  // UPB
      if (mag != 0) b_ += ((static_cast<std::int16_t>(dq) ^ dq_) >= 0) ? Short8{} + 128 : Short8{} - 128;
    }

    // Lane 0 from a zero vector makes this one whole-register byte shift (pslldq).
    dq_ = __builtin_shufflevector(dq_, Short8{}, 8, 0, 1, 2, 3, 4, 5, 6);
    dq_[0] = mag == 0 ? static_cast<std::int16_t>(dq >= 0 ? 0x20 : 0xFC20 - 65536) : to_float(mag, dq < 0);
    sr_[1] = sr_[0];
    if (sr == 0)
      sr_[0] = 0x20;
    else if (sr > 0)
      sr_[0] = to_float(sr, false);
    else if (sr > -32768)
      sr_[0] = to_float(-sr, true);
    else
      sr_[0] = 0xFC20 - 65536;
    pk_[1] = pk_[0];
    pk_[0] = pk0;

    td_ = !tr && a2p < -11776;  // TONE

    dms_ = static_cast<std::int16_t>(dms_ + ((static_cast<std::int16_t>(fi) - dms_) >> 5));  // FILTA
    dml_ = static_cast<std::int16_t>(dml_ + ((static_cast<std::int16_t>(fi << 2) - dml_) >> 7));  // FILTB
    if (tr)
      ap_ = 256;
    else if (y < 1536 || td_ || std::abs((dms_ << 2) - dml_) >= (dml_ >> 3))  // SUBTC
      ap_ = static_cast<std::int16_t>(ap_ + ((0x200 - ap_) >> 4));
    else
      ap_ = static_cast<std::int16_t>(ap_ + ((-ap_) >> 4));
  }
};

}  // namespace

std::vector<std::uint8_t> encode_32kadpcm(std::span<const std::int16_t> pcm_8khz) {
  // Our own encoder, bit-exact with spandsp's (tests/codecs/adpcm32_test.cpp
  // compares them on speech, noise, tones, clipping and silence): spandsp's
  // took ~75% of a voicemail conversion, as out-of-line per-sample calls
  // through a function pointer on a heap state.
  G726Encoder encoder;
  std::vector<std::uint8_t> out((pcm_8khz.size() + 1) / 2);
  const std::size_t pairs = pcm_8khz.size() / 2;
  for (std::size_t i = 0; i < pairs; ++i) {
    const std::uint8_t first = encoder.encode(pcm_8khz[2 * i]);
    const std::uint8_t second = encoder.encode(pcm_8khz[2 * i + 1]);
    out[i] = static_cast<std::uint8_t>(first | (second << 4));
  }
  // An odd count is padded with one silent sample so the last code fills its octet's high nibble.
  if (pcm_8khz.size() % 2 != 0) {
    const std::uint8_t first = encoder.encode(pcm_8khz.back());
    const std::uint8_t second = encoder.encode(0);
    out.back() = static_cast<std::uint8_t>(first | (second << 4));
  }
  return out;
}

std::vector<std::int16_t> decode_32kadpcm(std::span<const std::uint8_t> adpcm) {
  const G726State state = make_state();
  std::vector<std::int16_t> out;
  out.reserve(adpcm.size() * 2);
  constexpr std::size_t block_bytes = block_samples / 2;
  std::vector<std::int16_t> block(block_samples);
  for (std::size_t start = 0; start < adpcm.size(); start += block_bytes) {
    const std::size_t count = std::min(block_bytes, adpcm.size() - start);
    const int samples = g726_decode(state.get(), block.data(), adpcm.data() + start, static_cast<int>(count));
    out.insert(out.end(), block.begin(), block.begin() + samples);
  }
  return out;
}

}  // namespace umstore::codecs
