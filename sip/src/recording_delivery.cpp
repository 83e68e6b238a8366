// Finished voicemails and faxes, and those a crash left behind, handed to
// the voice pipeline (config.deliver) on the workers, since delivery may
// block. Their files go once delivered; a failed delivery keeps them, and the
// next start tries again.
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "sip_endpoint.hpp"

namespace umstore::sip {
namespace {

void deliver_voicemail(RecordingFile& file, const SipServerConfig& config, const ConnectionLog& call_log) {
  if (file.samples() == 0) {
    file.remove();
    return;
  }
  auto recording = file.to_recording();
  const double seconds = static_cast<double>(file.samples()) / 8000.0;
  if (config.deliver) config.deliver(std::move(recording));
  file.remove();
  call_log(LogLevel::Info, "voicemail {:.1f} s for {} from {} delivered", seconds, file.meta().to_number,
           file.meta().caller.number);
}

// A fax cut short still goes out with the pages that arrived.
void deliver_fax_pages(const FaxOutcome& fax, const SipServerConfig& config, const ConnectionLog& call_log) {
  if (fax.pages == 0) {
    call_log(LogLevel::Warning, "fax for {} from {} failed before any page arrived: {}", fax.meta.to_number,
             fax.meta.caller.number, fax.result);
    return;
  }
  ingest::Recording r;
  r.kind = ingest::Kind::Fax;
  r.to_number = fax.meta.to_number;
  r.to_name = fax.meta.to_name;
  r.caller = fax.meta.caller;
  r.file_name = fax.tiff.filename().string();
  r.received = fax.meta.received;
  if (!fax.complete)
    r.note = "The fax ended early, after " + std::to_string(fax.pages) + (fax.pages == 1 ? " page" : " pages") +
             " (T.30: " + fax.result + "); the pages that arrived are attached.";
  const std::string bytes = read_file(fax.tiff);
  r.file.assign(bytes.begin(), bytes.end());
  if (config.deliver) config.deliver(std::move(r));
  call_log(LogLevel::Info, "fax of {} page(s) for {} from {} delivered (T.30: {})", fax.pages, fax.meta.to_number,
           fax.meta.caller.number, fax.result);
}

void deliver_leftover(ingest::Recording recording, const SipServerConfig& config) {
  if (recording.file.empty() || !config.deliver) return;
  log(LogLevel::Info, "sip", "delivering {} for {} left by an interrupted run",
      recording.kind == ingest::Kind::Fax ? "the fax pages" : "voicemail", recording.to_number);
  config.deliver(std::move(recording));
}

}  // namespace

void SipEndpoint::deliver_recording(std::shared_ptr<RecordingFile> file, ConnectionLog call_log) {
  asio::post(workers, [self = shared_from_this(), file, call_log] {
    try {
      deliver_voicemail(*file, self->config, call_log);
    } catch (const std::exception& e) {
      call_log(LogLevel::Error, "voicemail {} not delivered, kept in {}: {}", file->id(),
               self->config.recordings_dir.string(), e.what());
    }
  });
}

void SipEndpoint::deliver_fax(FaxOutcome fax, ConnectionLog call_log) {
  asio::post(workers, [self = shared_from_this(), fax = std::move(fax), call_log] {
    try {
      deliver_fax_pages(fax, self->config, call_log);
      remove_fax_files(fax.tiff);
    } catch (const std::exception& e) {
      call_log(LogLevel::Error, "fax {} not delivered, kept: {}", fax.tiff.string(), e.what());
    }
  });
}

void SipEndpoint::deliver_leftovers() {
  for (auto& leftover : find_leftover_recordings(config.recordings_dir)) {
    asio::post(workers, [self = shared_from_this(), leftover = std::move(leftover)]() mutable {
      try {
        deliver_leftover(std::move(leftover.recording), self->config);
        std::error_code ec;
        std::filesystem::remove(leftover.json, ec);
        std::filesystem::remove(leftover.pcm, ec);
      } catch (const std::exception& e) {
        log(LogLevel::Error, "sip", "leftover {} not delivered: {}", leftover.pcm.string(), e.what());
      }
    });
  }
}

}  // namespace umstore::sip
