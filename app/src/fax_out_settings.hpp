#pragma once
// [fax_out]: faxes from email. Set `gateway` to turn it on.
#include <Poco/Util/AbstractConfiguration.h>

#include <optional>

#include "faxout/fax_dialler.hpp"
#include "faxout/fax_outbox.hpp"

namespace umstore::app {

struct FaxOutSettings {
  faxout::OutboxConfig outbox;    // addressing (domains and routing filled in by serve), policy, document
  faxout::DiallerConfig dialler;  // gateway, retries, reports
};

// Throws UsageError naming the key.
std::optional<FaxOutSettings> read_fax_out_config(const Poco::Util::AbstractConfiguration& ini);

}  // namespace umstore::app
