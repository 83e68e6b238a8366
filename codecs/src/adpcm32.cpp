// audio/32KADPCM (RFC 3802): ITU-T G.726 at 32 kbit/s. Decoding goes
// through spandsp; encoding, the hot path of every voicemail, is our own
// bit-exact rewrite of spandsp's encoder (see G726Encoder), and for several
// streams at once the same steps in SIMD lanes (adpcm32_lanes.cpp).
#include <ctime>  // spandsp.h uses time_t without including it
#include <spandsp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "adpcm32_lanes.hpp"
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
// arithmetic as spandsp, so the output is identical bit for bit
// (tests/codecs/adpcm32_test.cpp compares the two on speech, noise, tones,
// clipping and silence).
//
// Each sample's code depends on the previous one through a chain of
// steps (predict, quantize, reconstruct, adapt), so speed is that chain's
// length plus branch mispredictions: no data-dependent branches except the
// rare predictor reset; the eight FMULT products as two vectors; history
// values converted to FMULT's form once, when they enter the history; and
// the state in locals of one inlined loop.
class G726Encoder {
 public:
  [[gnu::always_inline]] int encode(std::int16_t sample) {
    const int sl = sample >> 2;  // 14-bit linear input
    const Lanes products_low = fmult(coefficients_low_, history_low_);
    const Lanes products_high = fmult(coefficients_high_, history_high_);
    const int sezi = static_cast<std::int16_t>(products_low[0] + products_low[1] + products_low[2] + products_low[3] +
                                               products_high[0] + products_high[1]);
    const int sei = static_cast<std::int16_t>(sezi + static_cast<std::int16_t>(products_high[2] + products_high[3]));
    const int se = sei >> 1;
    const int d = static_cast<std::int16_t>(sl - se);
    const int y = step_size();
    const int yq = y >> 2;

    // QUAN: LOG of |d|, less the step size, against the decision levels (one table load).
    const int dqm = d < 0 ? -d : d;
    const int exponent = std::bit_width(static_cast<unsigned>(dqm >> 1));
    const int dl = (exponent << 7) + (((dqm << 7) >> exponent) & 0x7F);
    const int level = quantizer_levels[static_cast<std::size_t>(dl - yq + dln_offset) & (quantizer_levels.size() - 1)];
    // Negative differences code as 15 - level; zero is code 15 either way,
    // so it reconstructs as a negative zero.
    const int code = level == 0 ? 15 : (d < 0 ? 15 - level : level);
    const bool negative = code >= 8;

    // Reconstruction (ADDA, ANTILOG): level 0 is the only one whose log
    // magnitude is below zero, i.e. a zero magnitude.
    const int dql = dqln_by_level[level] + yq;
    const int dex = (dql >> 7) & 15;
    const int dqt = 128 + (dql & 127);
    const int mag = level == 0 ? 0 : (dqt << 7) >> (14 - dex);
    const int sr = static_cast<std::int16_t>(negative ? se - mag : se + mag);
    const int dqsez = static_cast<std::int16_t>(sr + (sezi >> 1) - se);

    adapt(y, level, mag, negative, sr, dqsez);
    return code;
  }

 private:
  // Per level (|code|, with code 15 as level 0): reconstructed log magnitude,
  // scale factor multiplier and speed control input (G.726 Tables 7, 8).
  static constexpr std::int16_t dqln_by_level[8] = {-2048, 4, 135, 213, 273, 323, 373, 425};
  static constexpr int wi_by_level[8] = {-384, 576, 1312, 2048, 3584, 6336, 11360, 35904};
  static constexpr int fi_by_level[8] = {0x000, 0x000, 0x000, 0x200, 0x200, 0x200, 0x600, 0xE00};
  static constexpr int quantizer_steps[7] = {-124, 80, 178, 246, 300, 349, 400};

  // The eight FMULT products of the zero (b * dq) and pole (a * sr)
  // predictors run as two 4-lane vectors (GCC/Clang vector extensions: SSE2
  // on x86-64, NEON on ARM): lanes b1..b4 and b5, b6, a1, a2, paired with
  // dq(n-1)..dq(n-4) and dq(n-5), dq(n-6), sr(n-1), sr(n-2).
  using Lanes = std::int32_t __attribute__((vector_size(16)));
  using FloatLanes = float __attribute__((vector_size(16)));

  // History values (dq, sr) are kept in the form FMULT uses, converted once
  // when they enter the history: G.726's floating form is sign, 4-bit
  // exponent e and 6-bit mantissa m (zero has m = 32), stored as the float
  // (m / 16) * 2^(e - 18) with the sign, so one float holds all three: the
  // mantissa is its top five fraction bits, 2^(e - 17) its exponent.
  static constexpr std::int32_t history_zero = (127 - 17) << 23;  // m = 32, e = 0

  std::int32_t yl_ = 34816;  // locked step size multiplier
  int yu_ = 544;             // unlocked step size multiplier
  int dms_ = 0, dml_ = 0, ap_ = 0;
  int a1_ = 0, a2_ = 0;
  Lanes coefficients_low_ = Lanes{};   // b1..b4
  Lanes coefficients_high_ = Lanes{};  // b5, b6, a1, a2
  Lanes history_low_ = Lanes{} + history_zero;
  Lanes history_high_ = Lanes{} + history_zero;
  int pk0_ = 0, pk1_ = 0;
  bool td_ = false;

  // FMULT of four 16-bit coefficients (used as coefficient >> 2) with four
  // history values. Per-lane variable shifts are not in SSE2, so the shifts
  // are exact float multiplies by powers of two, truncated: the leading-bit
  // exponent and 6-bit mantissa of |an| come from its float bits, and every
  // intermediate is an integer below 2^24, so nothing is rounded.
  static Lanes fmult(Lanes coefficients, Lanes history) {
    const Lanes an = coefficients >> 2;
    const Lanes an_sign = an >> 31;
    const Lanes anmag = ((an ^ an_sign) - an_sign) & 0x1FFF;
    const auto bits = std::bit_cast<Lanes>(__builtin_convertvector(anmag, FloatLanes));
    // 32 + the five bits below the leading one, as a float (32 for zero).
    const auto anmant = std::bit_cast<FloatLanes>((bits & 0x007C0000) | 0x42000000);
    // 2^(leading bit position - 1); 2^-2 for zero, whose exponent FMULT takes as -6.
    const auto anpower = std::bit_cast<FloatLanes>((bits & static_cast<std::int32_t>(0xFF800000)) - 0x00800000);
    const FloatLanes anpower_or_quarter = anpower > 0.25f ? anpower : FloatLanes{} + 0.25f;
    const auto mantissa = std::bit_cast<FloatLanes>((history & 0x007C0000) | 0x40000000);  // m / 16
    const auto power = std::bit_cast<FloatLanes>(history & 0x7F800000);                    // 2^(e - 17)
    const FloatLanes wanmant = __builtin_convertvector(
        __builtin_convertvector(anmant * mantissa + 3.0f, Lanes), FloatLanes);  // (anmant * m + 48) >> 4
    const Lanes product = __builtin_convertvector(wanmant * (anpower_or_quarter * power), Lanes) & 0x7FFF;
    const Lanes flip = an_sign ^ (history >> 31);
    return (product ^ flip) - flip;
  }

  // A new dq (lane 0) and sr (lane 1) magnitude, each below 2^15, into the
  // history, read from their float bits: the five bits below the leading
  // one make the mantissa, the leading bit's position the exponent.
  static void push(Lanes& low, Lanes& high, Lanes magnitudes, Lanes signs) {
    const auto bits = std::bit_cast<Lanes>(__builtin_convertvector(magnitudes, FloatLanes));
    const Lanes converted = (bits & static_cast<std::int32_t>(0xFFFC0000)) - (16 << 23);
    const Lanes fresh = (magnitudes == 0 ? Lanes{} + history_zero : converted) | (signs & static_cast<std::int32_t>(0x80000000));
    const Lanes high_shifted = __builtin_shufflevector(low, high, 3, 4, 6, 6);
    high = __builtin_shufflevector(high_shifted, fresh, 0, 1, 5, 2);
    low = __builtin_shufflevector(low, fresh, 4, 0, 1, 2);
  }

  int step_size() const {  // MIX
    const int yl6 = yl_ >> 6;
    const int dif = yu_ - yl6;
    const int al = ap_ >> 2;
    const int mixed = yl6 + ((dif * al + (dif < 0 ? 0x3F : 0)) >> 6);
    return ap_ >= 256 ? yu_ : mixed;
  }

  // The quantizer level of every possible dln = dl - y/4 (dl is 0..2047 and
  // y/4 is 136..1280, so dln lies in -1280..1911).
  static constexpr int dln_offset = 2048;
  static constexpr auto quantizer_levels = [] {
    std::array<std::uint8_t, 4096> levels{};
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const int dln = static_cast<int>(i) - dln_offset;
      for (const int step : quantizer_steps) levels[i] = static_cast<std::uint8_t>(levels[i] + (dln >= step ? 1 : 0));
    }
    return levels;
  }();

  static int clamp(int value, int low, int high) { return value < low ? low : value > high ? high : value; }

  void adapt(int y, int level, int mag, bool negative, int sr, int dqsez) {
    const int pk0 = dqsez < 0 ? 1 : 0;
    // TRANS: a likely modem signal whose difference exceeds 3/4 of the threshold.
    bool tr = false;
    if (td_) [[unlikely]] {  // only after a tone: the threshold is not worth computing otherwise
      const int ylint = yl_ >> 15;
      const int ylfrac = (yl_ >> 10) & 0x1F;
      const int thr = ylint > 9 ? 31 << 10 : (32 + ylfrac) << ylint;
      tr = mag > (thr + (thr >> 1)) >> 1;
    }

    yu_ = clamp(y + ((wi_by_level[level] - y) >> 5), 544, 5120);  // FUNCTW, FILTD, LIMB
    yl_ += yu_ + ((-yl_) >> 6);                                  // FILTE

    int a2p = 0;
    if (tr) [[unlikely]] {
      a1_ = a2_ = 0;
      coefficients_low_ = coefficients_high_ = Lanes{};
    } else {
      const bool active = dqsez != 0;
      const int pks1 = pk0 ^ pk0_;
      a2p = static_cast<std::int16_t>(a2_ - (a2_ >> 7));  // UPA2
      const int fa1 = static_cast<std::int16_t>(pks1 ? a1_ : -a1_);
      const int a2_moved = static_cast<std::int16_t>(a2p + (clamp(fa1, -8192, 8191) >> 5));
      const int a2_limited = clamp(a2_moved + ((pk0 ^ pk1_) ? -0x80 : 0x80), -12288, 12288);  // LIMC
      a2p = active ? a2_limited : a2p;
      a2_ = a2p;
      const int a1_leaked = static_cast<std::int16_t>(a1_ - (a1_ >> 8));  // UPA1
      const int a1_moved = active ? static_cast<std::int16_t>(a1_leaked + (pks1 ? -192 : 192)) : a1_leaked;
      const int a1ul = 15360 - a2p;  // LIMD
      a1_ = clamp(a1_moved, -a1ul, a1ul);
      // UPB: +-128 by whether dq and each history value agree in sign; the
      // coefficients stay 16-bit values, wrapping as in spandsp.
      const Lanes sign = Lanes{} + (negative ? -1 : 0);
      const Lanes nonzero = Lanes{} + (mag != 0 ? -1 : 0);
      const auto upb = [&](Lanes b, Lanes history_sign) {
        const Lanes moved = b - (b >> 8) + ((128 + ((sign ^ history_sign) & -256)) & nonzero);
        return (moved << 16) >> 16;
      };
      coefficients_low_ = upb(coefficients_low_, history_low_ >> 31);
      coefficients_high_ = upb(coefficients_high_, history_high_ >> 31);
      coefficients_high_[2] = a1_;
      coefficients_high_[3] = a2_;
    }

    const int sr_magnitude = (sr < 0 ? -sr : sr) & 0x7FFF;  // -32768 is a negative zero
    push(history_low_, history_high_, Lanes{mag, sr_magnitude, 0, 0}, Lanes{negative ? -1 : 0, sr < 0 ? -1 : 0, 0, 0});
    pk1_ = pk0_;
    pk0_ = pk0;

    td_ = !tr && a2p < -11776;  // TONE

    const int fi = fi_by_level[level];
    dms_ = static_cast<std::int16_t>(dms_ + ((fi - dms_) >> 5));         // FILTA
    dml_ = static_cast<std::int16_t>(dml_ + (((fi << 2) - dml_) >> 7));  // FILTB
    const bool fast = y < 1536 || td_ || std::abs((dms_ << 2) - dml_) >= (dml_ >> 3);  // SUBTC
    const int ap_next = static_cast<std::int16_t>(ap_ + (fast ? (0x200 - ap_) >> 4 : (-ap_) >> 4));
    ap_ = tr ? 256 : ap_next;
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
    const int first = encoder.encode(pcm_8khz[2 * i]);
    const int second = encoder.encode(pcm_8khz[2 * i + 1]);
    out[i] = static_cast<std::uint8_t>(first | (second << 4));
  }
  // An odd count is padded with one silent sample so the last code fills its octet's high nibble.
  if (pcm_8khz.size() % 2 != 0) {
    const int first = encoder.encode(pcm_8khz.back());
    const int second = encoder.encode(0);
    out.back() = static_cast<std::uint8_t>(first | (second << 4));
  }
  return out;
}

std::vector<std::vector<std::uint8_t>> encode_32kadpcm_batch(std::span<const std::span<const std::int16_t>> streams) {
  std::vector<std::vector<std::uint8_t>> out(streams.size());
  // One stream alone is faster here than in a lane pass (about two streams' cost).
  if (streams.size() > 1 && detail::encode_32kadpcm_in_lanes(streams, out)) return out;
  for (std::size_t i = 0; i < streams.size(); ++i) out[i] = encode_32kadpcm(streams[i]);
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
