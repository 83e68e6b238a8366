#pragma once
// The calling fax terminal over G.711 audio: spandsp's T.30 sending a TIFF,
// the counterpart of FaxReceiver (fax_receiver.hpp). Over T.38 the same
// sending is T38FaxTerminal's (t38_fax.hpp).
#include <cstdint>
#include <span>
#include <vector>

#include "fax_receiver.hpp"

namespace umstore::sip {

class FaxSender : public FaxSession {
 public:
  explicit FaxSender(const FaxToSend& fax);
  ~FaxSender() override;

  void receive(std::span<const std::int16_t> samples);
  std::vector<std::int16_t> transmit(std::size_t samples);

 private:
  fax_state_s* fax_ = nullptr;
};

}  // namespace umstore::sip
