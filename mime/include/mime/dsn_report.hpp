#pragma once
// Reading a delivery status notification: the machine-readable
// message/delivery-status part (RFC 3464) of an RFC 6522 multipart/report.
// Composing DSNs is the SMTP queue's business (smtp/dsn.hpp); reading them
// is needed wherever a report comes back (the ingest queue, tests).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mime {

// The fields of the message/delivery-status part: the per-message block
// and one map per recipient block. Field names are lower-cased; values are
// unfolded and trimmed. nullopt when the message has no such part.
struct DeliveryStatus {
  std::map<std::string, std::string> message_fields;
  std::vector<std::map<std::string, std::string>> recipients;
};
std::optional<DeliveryStatus> parse_delivery_status(std::string_view message);

}  // namespace umstore::mime
