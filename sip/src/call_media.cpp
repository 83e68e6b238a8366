// A call's audio: the greeting and beep sent over RTP at 20 ms pace, RTP
// received from the gateway only, DTMF '#' and silence ending the message,
// the recording appended (and fsync'ed on the workers) as it arrives. A CNG
// tone hands the call to call_fax.cpp.
#include <cstdlib>

#include "call.hpp"
#include "codecs/audio.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "net/task.hpp"

namespace umstore::sip {
namespace {

using namespace std::chrono_literals;
using asio::ip::udp;

constexpr int kVoiceLevel = 300;         // mean |sample| above this is not silence
constexpr std::uint8_t kDtmfPound = 11;  // RFC 4733 event code of '#'

std::vector<std::int16_t> load_greeting(const std::filesystem::path& wav) {
  const std::string bytes = read_file(wav);
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  auto audio = codecs::decode_audio(std::span(data, bytes.size()), wav.string(), codecs::AudioLimits{60, 8u << 20});
  if (audio.sample_rate != 8000) audio = codecs::resample(audio, 8000);
  return std::move(audio.samples);
}

std::optional<std::vector<std::int16_t>> admin_greeting(const SipServerConfig& config, const std::string& number) {
  if (!config.greeting_for) return std::nullopt;
  const auto path = config.greeting_for(number);
  if (!path || !std::filesystem::exists(*path)) return std::nullopt;
  try {
    return load_greeting(*path);
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "sip", "greeting for {} unusable, playing the default: {}", number, e.what());
    return std::nullopt;
  }
}

}  // namespace

std::vector<std::int16_t> default_greeting() {
  std::vector<std::int16_t> out = tone(660, 180);
  for (const auto& part : {silence(80), tone(880, 180), silence(80), tone(990, 260), silence(300)})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

std::vector<std::int16_t> mailbox_full_notice() {
  std::vector<std::int16_t> out;
  for (int repeat = 0; repeat < 2; ++repeat)
    for (const auto& part : {tone(950, 330), tone(1400, 330), tone(1800, 330), silence(1000)})
      out.insert(out.end(), part.begin(), part.end());
  return out;
}

std::vector<std::int16_t> SipEndpoint::prompt_for(const std::string& number) const {
  auto prompt = admin_greeting(config, number).value_or(greeting_default);
  const auto beep = tone(1000, 400, 10000);
  prompt.insert(prompt.end(), beep.begin(), beep.end());
  return prompt;
}

asio::awaitable<void> Call::send_packet(std::span<const std::int16_t> samples, bool marker) {
  auto datagram = rtp_out.next(codec, samples, marker);
  if (srtp_out && !srtp_out->protect(datagram)) co_return;
  const auto [ec, sent] = co_await rtp.async_send_to(asio::buffer(datagram), rtp_peer, net::use_nothrow);
  (void)ec;  // a lost packet of prompt is not worth ending the call for
  (void)sent;
}

asio::awaitable<void> Call::play_prompt() {
  auto self = shared_from_this();
  asio::steady_timer pace(server->strand);
  auto next = Clock::now();
  for (std::size_t at = 0; at < prompt.size(); at += kSamplesPerPacket) {
    if (ended() || fax || t38) co_return;
    const auto chunk = std::span(prompt).subspan(at, std::min(kSamplesPerPacket, prompt.size() - at));
    co_await send_packet(chunk, at == 0);
    next += 20ms;
    pace.expires_at(next);
    const auto [ec] = co_await pace.async_wait(net::use_nothrow);
    if (ec) co_return;
  }
  if (ended() || fax || t38) co_return;
  if (mailbox_full) {
    hang_up("mailbox full");
    co_return;
  }
  recording_active = true;
  last_voice = Clock::now();
  asio::co_spawn(server->strand, [self] { return self->watch_recording(); }, asio::detached);
}

asio::awaitable<void> Call::receive_media() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buffer(2048);
  const auto media_source = asio::ip::make_address(offer.address);
  while (!ended()) {
    udp::endpoint from;
    const auto [ec, n] = co_await rtp.async_receive_from(asio::buffer(buffer), from, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !rtp.is_open()) co_return;
      continue;
    }
    // Media from anyone but the gateway would let a stranger talk into the recording.
    if (from.address() != media_source && from.address() != peer.address()) continue;
    std::size_t length = n;
    // SRTP: what does not authenticate with the gateway's key never reaches the recording.
    if (srtp_in && !srtp_in->unprotect(buffer.data(), length)) continue;
    if (const auto p = parse_rtp(std::span(buffer.data(), length))) on_rtp(*p);
  }
}

void Call::on_rtp(const RtpPacket& p) {
  if (ended() || t38) return;
  if (offer.telephone_event_pt && p.payload_type == *offer.telephone_event_pt) {
    if (recording_active && p.payload.size() >= 4 && p.payload[0] == kDtmfPound) hang_up("caller pressed #");
    return;
  }
  if (p.payload_type != static_cast<std::uint8_t>(codec) || p.payload.size() > 1600) return;
  auto samples = decode_g711(codec, p.payload);
  if (fax) return on_fax_audio(std::move(samples), p);
  // A fax machine announces itself with CNG during the greeting or the recording.
  if (cng && recording && cng->feed(samples)) return start_fax();
  if (!recording_active) return;
  long long level = 0;
  for (const auto s : samples) level += std::abs(static_cast<int>(s));
  if (!samples.empty() && level / static_cast<long long>(samples.size()) > kVoiceLevel) last_voice = Clock::now();
  record(reorder.push(p.sequence, p.timestamp, std::move(samples)));
  if (recording->samples() >= max_samples) hang_up("maximum length reached");
}

asio::awaitable<void> Call::watch_recording() {
  auto self = shared_from_this();
  auto last_sync = Clock::now();
  while (state == State::Connected || state == State::AwaitingAck) {
    watchdog.expires_after(500ms);
    const auto [ec] = co_await watchdog.async_wait(net::use_nothrow);
    if (ec || !recording) co_return;
    if (Clock::now() - last_voice >= server->config.max_silence) {
      hang_up("silence");
      co_return;
    }
    if (Clock::now() - last_sync >= 1s) {
      last_sync = Clock::now();
      asio::post(server->workers, [file = recording] {
        try {
          file->sync();
        } catch (const std::exception& e) {
          log(LogLevel::Error, "sip", "recording {}: {}", file->id(), e.what());
        }
      });
    }
  }
}

void Call::record(std::span<const std::int16_t> samples) {
  const auto room = max_samples > recording->samples() ? max_samples - recording->samples() : 0;
  recording->append(samples.first(std::min<std::size_t>(samples.size(), room)));
}

void Call::finish_recording(const std::string& reason) {
  if (!recording) return;
  if (recording_active) record(reorder.flush());
  call_log(LogLevel::Info, "call_id={} ended ({}): {:.1f} s recorded, {} RTP packets lost, {} late", invite.call_id(),
      reason, static_cast<double>(recording->samples()) / 8000.0, reorder.lost(), reorder.dropped());
  server->deliver_recording(std::move(recording), call_log);
}

}  // namespace umstore::sip
