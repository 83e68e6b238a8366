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

FaxSender::FaxSender(const FaxToSend& fax) : AudioFaxSession(fax.tiff, true) { configure_sending(t30(), fax); }

}  // namespace umstore::sip
