// A call that turns out to be a fax: CNG heard during the greeting or the
// recording switches to a T.30 receiver over G.711 (paced at 20 ms, since
// spandsp's timers advance only with audio), and the gateway's re-INVITE to
// T.38 moves it to a T.38 terminal on a UDPTL port. Pages are kept durably
// as they complete; the fax is delivered when the call ends.
#include "call.hpp"
#include "common/log.hpp"
#include "net/task.hpp"

namespace umstore::sip {

using namespace std::chrono_literals;

// The gateway heard a fax and moves the call to T.38 (T.38 Annex D): the
// voicemail or G.711 fax so far makes way for a T.38 terminal on a UDPTL port.
void Call::start_t38(const SipMessage& reinvite, const T38Offer& image) {
  const std::string contact = server->contact_header(peer);
  if (!t38) {
    const auto id = server->random_hex(12);
    const auto tiff = server->config.recordings_dir / (id + ".tif");
    try {
      std::weak_ptr<Call> weak = shared_from_this();
      t38 = std::make_shared<T38Channel>(server->strand, server->media_address_toward(peer), image, tiff, [weak] {
        if (auto self = weak.lock(); self && self->t38) self->hang_up("fax " + self->t38->terminal().result());
      });
    } catch (const std::exception& e) {
      call_log(LogLevel::Error, "call_id={}: cannot start T.38: {}", invite.call_id(), e.what());
      server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
      return;
    }
    call_log(LogLevel::Info, "call_id={}: switched to T.38, receiving a fax for {}", invite.call_id(), mailbox.number);
    recording_active = false;
    watchdog.cancel();
    if (recording) recording->remove();
    recording.reset();
    if (fax) {  // T.30 starts again over T.38; the G.711 attempt had no page yet
      fax->terminate();
      const auto old = fax->tiff();
      fax.reset();
      remove_fax_files(old);
    }
    keep_pages_durable(t38->terminal(), id);
    auto answer = t38->agreed();
    answer.session_id = sdp_session;
    answer.session_version = sdp_session + 1;
    t38_answer = make_t38_answer(answer);
    t38->start();
  }
  server->send(reinvite.response(200, "OK", local_tag, contact, "application/sdp", t38_answer), peer);
}

void Call::start_fax() {
  call_log(LogLevel::Info, "call_id={}: fax tone heard, receiving a fax for {}", invite.call_id(), mailbox.number);
  recording_active = false;
  const auto id = recording->id();
  const auto tiff = server->config.recordings_dir / (id + ".tif");
  recording->remove();
  recording.reset();
  watchdog.cancel();
  fax = std::make_unique<FaxReceiver>(tiff);
  keep_pages_durable(*fax, id);
  last_fax_audio = Clock::now();
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self] { return self->send_fax_audio(); }, asio::detached);
}

// Who the fax is for goes to disk before the first page, and each page is
// fsync'ed when complete: after a crash the next start delivers the pages.
void Call::keep_pages_durable(FaxSession& session, const std::string& id) {
  try {
    write_fax_meta(server->config.recordings_dir, id, meta);
  } catch (const std::exception& e) {
    call_log(LogLevel::Error, "call_id={}: fax pages will not survive a restart: {}", invite.call_id(), e.what());
  }
  session.on_page([weak = std::weak_ptr<SipEndpoint>(server), tiff = session.tiff(), call_id = invite.call_id(),
                   call_log = call_log, &session] {
    const auto endpoint = weak.lock();
    if (!endpoint) return;
    call_log(LogLevel::Info, "call_id={}: fax page {} received", call_id, session.pages());
    asio::post(endpoint->workers, [tiff] {
      try {
        sync_fax_pages(tiff);
      } catch (const std::exception& e) {
        log(LogLevel::Error, "sip", "fax {}: {}", tiff.string(), e.what());
      }
    });
  });
}

asio::awaitable<void> Call::send_fax_audio() {
  auto self = shared_from_this();
  asio::steady_timer pace(server->strand);
  auto next = Clock::now();
  const auto give_up = Clock::now() + std::chrono::minutes(30);  // no fax takes this long
  while (fax && !ended()) {
    if (fax->finished() || Clock::now() > give_up) {
      hang_up(fax->finished() ? "fax " + fax->result() : "fax took too long");
      co_return;
    }
    // A gateway gone silent would leave T.30 waiting forever: its timers
    // advance only with received samples.
    if (Clock::now() - last_fax_audio > 10s) {
      hang_up("no fax audio for 10 s");
      co_return;
    }
    const auto samples = fax->transmit(kSamplesPerPacket);
    co_await send_packet(samples, false);
    next += 20ms;
    pace.expires_at(next);
    const auto [ec] = co_await pace.async_wait(net::use_nothrow);
    if (ec) co_return;
  }
}

void Call::on_fax_audio(std::vector<std::int16_t> samples, const RtpPacket& p) {
  last_fax_audio = Clock::now();
  const auto ready = fax_reorder.push(p.sequence, p.timestamp, std::move(samples));
  fax->receive(ready);
}

void Call::finish_fax(const std::string& reason) {
  FaxSession& session = t38 ? static_cast<FaxSession&>(t38->terminal()) : *fax;
  session.terminate();  // closes the TIFF
  FaxOutcome outcome{meta, session.tiff(), session.pages(), session.result(), session.succeeded()};
  if (t38) {
    call_log(LogLevel::Info, "call_id={}: T.38 UDPTL packets recovered from redundancy {}, lost {}",
        invite.call_id(), t38->terminal().packets_recovered(), t38->terminal().packets_lost());
    t38->stop();
  }
  fax.reset();
  t38.reset();
  (outcome.complete ? server->metrics.fax_pages_ok : server->metrics.fax_pages_failed).add(outcome.pages);
  call_log(LogLevel::Info, "call_id={} ended ({}): fax of {} page(s), T.30: {}", invite.call_id(), reason,
      outcome.pages, outcome.result);
  server->deliver_fax(std::move(outcome), call_log);
}

}  // namespace umstore::sip
