#include "fax_sender.hpp"

#include <spandsp.h>

#include <stdexcept>

namespace umstore::sip {

void FaxSession::configure_sending(t30_state_t* t30, const FaxToSend& fax) {
  t30_ = t30;
  sending_ = true;
  // T.30 carries at most 20 characters of TSI; spandsp refuses longer ones.
  t30_set_tx_ident(t30, fax.station_id.substr(0, 20).c_str());
  if (!fax.sub_address.empty()) t30_set_tx_sub_address(t30, fax.sub_address.substr(0, 20).c_str());
  if (!fax.page_header.empty()) t30_set_tx_page_header_info(t30, fax.page_header.c_str());
  // All pages (-1, -1): the queue rendered exactly what is to go.
  t30_set_tx_file(t30, fax.tiff.c_str(), -1, -1);
  configure_common(t30);
}

FaxSender::FaxSender(const FaxToSend& fax) : FaxSession(fax.tiff) {
  fax_ = fax_init(nullptr, 1 /* calling */);
  if (!fax_) throw std::runtime_error("spandsp: cannot create a fax sender");
  fax_set_transmit_on_idle(fax_, 1);
  configure_sending(fax_get_t30_state(fax_), fax);
}

FaxSender::~FaxSender() { fax_free(fax_); }

void FaxSender::receive(std::span<const std::int16_t> samples) {
  if (finished_ || samples.empty()) return;
  std::vector<std::int16_t> copy(samples.begin(), samples.end());  // spandsp wants a mutable buffer
  fax_rx(fax_, copy.data(), static_cast<int>(copy.size()));
}

std::vector<std::int16_t> FaxSender::transmit(std::size_t samples) {
  std::vector<std::int16_t> out(samples, 0);
  if (!finished_) {
    const int n = fax_tx(fax_, out.data(), static_cast<int>(out.size()));
    if (n < 0) out.assign(samples, 0);
  }
  return out;
}

}  // namespace umstore::sip
