#include "fax_receiver.hpp"

#include <spandsp.h>

#include <stdexcept>

namespace umstore::sip {

CngDetector::CngDetector()
    : state_(modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_FAX_CNG, &CngDetector::on_tone, this)) {
  if (!state_) throw std::runtime_error("spandsp: cannot create a CNG tone detector");
}

CngDetector::~CngDetector() { modem_connect_tones_rx_free(state_); }

void CngDetector::on_tone(void* self, int code, int, int) {
  if (code == MODEM_CONNECT_TONES_FAX_CNG) static_cast<CngDetector*>(self)->heard_ = true;
}

bool CngDetector::feed(std::span<const std::int16_t> samples) {
  if (!heard_ && !samples.empty()) modem_connect_tones_rx(state_, samples.data(), static_cast<int>(samples.size()));
  return heard_;
}

void FaxSession::configure(t30_state_t* t30, const std::string& local_ident) {
  t30_ = t30;
  t30_set_tx_ident(t30, local_ident.c_str());
  t30_set_rx_file(t30, tiff_.c_str(), -1);
  // Sub-addressing announced in DIS, so a sender's SUB (T.33) reaches us.
  t30_set_supported_t30_features(t30, T30_SUPPORT_IDENTIFICATION | T30_SUPPORT_SUB_ADDRESSING);
  configure_common(t30);
}

void FaxSession::configure_common(t30_state_t* t30) {
  t30_set_ecm_capability(t30, 1);
  t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION |
                                          T30_SUPPORT_T6_COMPRESSION);
  // spandsp's handler type takes the t30 state as its first argument; we
  // only need our object back.
  t30_set_phase_e_handler(
      t30,
      [](t30_state_t*, void* self, int code) {
        auto* me = static_cast<FaxSession*>(self);
        me->finished_ = true;
        me->completion_code_ = code;
      },
      this);
  t30_set_phase_d_handler(
      t30,
      [](t30_state_t*, void* self, int) -> int {
        auto* me = static_cast<FaxSession*>(self);
        if (me->on_page_) me->on_page_();
        return T30_ERR_OK;
      },
      this);
}

void FaxSession::terminate() {
  if (finished_) return;
  t30_terminate(t30_);
  finished_ = true;
}

bool FaxSession::succeeded() const { return completion_code_ == T30_ERR_OK; }

unsigned FaxSession::pages() const {
  t30_stats_t stats{};
  t30_get_transfer_statistics(t30_, &stats);
  const int pages = sending_ ? stats.pages_tx : stats.pages_rx;
  return pages > 0 ? static_cast<unsigned>(pages) : 0;
}

std::string FaxSession::remote_station() const {
  const char* ident = t30_get_rx_ident(t30_);
  return ident ? ident : "";
}

std::string FaxSession::remote_sub_address() const {
  const char* sub = t30_get_rx_sub_address(t30_);
  return sub ? sub : "";
}

std::string FaxSession::result() const {
  if (completion_code_ < 0) return "call ended during the fax";
  return t30_completion_code_to_str(completion_code_);
}

AudioFaxSession::AudioFaxSession(std::filesystem::path tiff, bool calling) : FaxSession(std::move(tiff)) {
  fax_ = fax_init(nullptr, calling ? 1 : 0);
  if (!fax_) throw std::runtime_error(std::string("spandsp: cannot create a fax ") + (calling ? "sender" : "receiver"));
  fax_set_transmit_on_idle(fax_, 1);
}

AudioFaxSession::~AudioFaxSession() { fax_free(fax_); }

t30_state_s* AudioFaxSession::t30() const { return fax_get_t30_state(fax_); }

void AudioFaxSession::receive(std::span<const std::int16_t> samples) {
  if (finished_ || samples.empty()) return;
  std::vector<std::int16_t> copy(samples.begin(), samples.end());  // spandsp wants a mutable buffer
  fax_rx(fax_, copy.data(), static_cast<int>(copy.size()));
}

std::vector<std::int16_t> AudioFaxSession::transmit(std::size_t samples) {
  std::vector<std::int16_t> out(samples, 0);
  if (!finished_) {
    const int n = fax_tx(fax_, out.data(), static_cast<int>(out.size()));
    if (n < 0) out.assign(samples, 0);
  }
  return out;
}

FaxReceiver::FaxReceiver(const std::filesystem::path& tiff, const std::string& local_ident)
    : AudioFaxSession(tiff, false) {
  configure(t30(), local_ident);
}

}  // namespace umstore::sip
