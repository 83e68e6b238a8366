#pragma once
// The calling fax terminal over G.711 audio: spandsp's T.30 sending a TIFF,
// the counterpart of FaxReceiver (fax_receiver.hpp). Over T.38 the same
// sending is T38FaxTerminal's (t38_fax.hpp).
#include "fax_receiver.hpp"

namespace umstore::sip {

class FaxSender : public AudioFaxSession {
 public:
  explicit FaxSender(const FaxToSend& fax);
};

}  // namespace umstore::sip
