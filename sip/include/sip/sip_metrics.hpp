#pragma once
// What the SIP endpoint counts for /metrics: calls by outcome, fax pages,
// NOTIFYs of message-waiting subscriptions. Lock-free.
#include <cstddef>
#include <string>

#include "common/metrics_text.hpp"

namespace umstore::sip {

struct SipMetrics {
  Counter calls_answered;   // 200 OK sent to an INVITE
  Counter calls_failed;     // could not be answered (500)
  Counter calls_cancelled;  // CANCEL before the answer
  Counter fax_pages_ok;     // pages of faxes whose T.30 session succeeded
  Counter fax_pages_failed; // pages of faxes that ended in a T.30 failure (still delivered)
  Counter notifies;         // NOTIFYs sent (retransmissions not counted)
  Counter faxes_sent;       // faxes we sent (send_fax) whose T.30 session succeeded
  Counter faxes_not_sent;   // and those that ended otherwise (busy, no answer, T.30 failure...)
  Counter fax_pages_sent;   // pages those sent, either way

  // umstore_sip_* lines; `active` is the calls in progress now.
  void append(std::string& out, std::size_t active) const;
};

}  // namespace umstore::sip
