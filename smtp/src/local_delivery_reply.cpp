#include "local_delivery_reply.hpp"

#include <string>
#include <variant>

namespace umstore::smtp {
namespace {

using delivery::Stored;
using delivery::TemporaryFailure;

std::string join(const std::vector<std::string>& numbers) {
  std::string out;
  for (const auto& n : numbers) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

SmtpReply local_delivery_reply(const delivery::DeliveryResult& result,
                               std::span<const delivery::LocalRecipient> recipients, std::string_view queue_id) {
  std::vector<std::string> stored;
  const delivery::RecipientResult* failure = nullptr;
  for (const auto& r : result.recipients) {
    if (const auto* copy = std::get_if<Stored>(&r)) stored.push_back(copy->number);
    else if (!failure) failure = &r;
  }
  if (!failure) return {250, "2.0.0", "OK: queued as " + std::string(queue_id)};
  if (const auto* refusal = std::get_if<delivery::SmtpRefusal>(failure))
    return {refusal->reply_code, refusal->enhanced_status, refusal->text};
  const auto& temporary = std::get<TemporaryFailure>(*failure);
  const bool over_quota = temporary.cause == TemporaryFailure::Cause::OverQuota;
  std::string text = temporary.reason + ", try again later";
  if (!stored.empty()) {
    text += " (already delivered to " + join(stored) + ")";
  } else if (over_quota && recipients.size() > 1) {
    std::vector<std::string> numbers;
    for (const auto& r : recipients) numbers.push_back(r.number);
    text += "; not delivered to any of " + join(numbers);
  }
  return over_quota ? SmtpReply{452, "4.2.2", text} : SmtpReply{451, "4.3.0", text};
}

}  // namespace umstore::smtp
