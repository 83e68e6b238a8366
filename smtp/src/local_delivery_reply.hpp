#pragma once
// The one SMTP reply for a local delivery (DATA's reply in the session, the
// recorded reply in the queue runner), derived from the typed results of
// delivery::LocalDelivery.
#include <span>
#include <string_view>

#include "delivery/local_delivery.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::smtp {

// 250 when every recipient has its copy; else the refusal (5xx) or the
// temporary failure (452 4.2.2 over quota, 451 4.3.0 local error), naming
// the recipients already delivered to, so a retry surprises no one.
SmtpReply local_delivery_reply(const delivery::DeliveryResult& result,
                               std::span<const delivery::LocalRecipient> recipients, std::string_view queue_id);

}  // namespace umstore::smtp
