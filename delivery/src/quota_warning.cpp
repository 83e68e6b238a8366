#include "quota_warning.hpp"

#include <chrono>

#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"

namespace umstore::delivery {
namespace {

constexpr unsigned kThresholds[] = {95, 80};  // highest first

// Used and limit as people read them: minutes of voice rather than seconds.
std::string amount(const mailstore::QuotaLevel& level, std::uint64_t value) {
  return level.resource == mailstore::QuotaResource::Seconds ? mailstore::minutes_text(value) : std::to_string(value);
}

std::string_view unit(const mailstore::QuotaLevel& level) {
  return level.resource == mailstore::QuotaResource::Seconds ? "minutes of voice" : mailstore::unit_name(level.resource);
}

}  // namespace

std::optional<QuotaWarning> crossed_threshold(const mailstore::QuotaUsage& after, const mailstore::QuotaCharge& charge) {
  const std::uint64_t adds[] = {charge.bytes, charge.messages, charge.seconds};
  std::optional<QuotaWarning> found;
  for (const auto& level : mailstore::levels(after)) {
    if (level.limit == 0) continue;
    const std::uint64_t before = level.used - std::min(level.used, adds[static_cast<int>(level.resource)]);
    for (const unsigned threshold : kThresholds) {
      // used/limit >= threshold%, in integers.
      const auto reached = [&](std::uint64_t used) { return used * 100 >= level.limit * threshold; };
      if (!reached(level.used) || reached(before)) continue;
      if (!found || threshold > found->threshold) found = QuotaWarning{level, threshold};
      break;
    }
  }
  return found;
}

std::string spoken_warning(const QuotaWarning& warning) {
  return "Your mailbox is " + std::to_string(warning.level.used * 100 / warning.level.limit) +
         " percent full. Please delete messages you no longer need.";
}

std::string quota_warning_message(std::string_view number, const QuotaWarning& warning, std::string_view host,
                                  const std::optional<std::vector<std::uint8_t>>& spoken) {
  const auto now = std::chrono::system_clock::now();
  const auto& level = warning.level;
  const std::string percent = std::to_string(level.used * 100 / level.limit);
  const std::string from = "postmaster@" + std::string(host.empty() ? "localhost" : host);
  const std::string stamp =
      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
  const std::string text =
      "Your mailbox " + std::string(number) + " has used " + amount(level, level.used) + " of its " +
      amount(level, level.limit) + " " + std::string(unit(level)) + " (" + percent + "%).\r\n\r\n"
      "When it is full, new voicemail, fax and mail to it are refused until there is room again.\r\n"
      "Delete messages you no longer need (and empty the Trash), or ask your administrator\r\n"
      "to raise the quota.\r\n";
  std::string out = "From: Mailbox quota <" + from + ">\r\nTo: <" + std::string(number) + ">\r\nSubject: Your mailbox is " +
                    percent + "% full (" + std::string(unit(level)) + ")\r\nDate: " + format_rfc5322_date(now) +
                    "\r\nMessage-ID: <quota." + stamp + "." + std::string(number.substr(number.find('+') + 1)) + "@" +
                    std::string(host.empty() ? "localhost" : host) +
                    ">\r\nAuto-Submitted: auto-generated\r\nX-Umstore-Quota-Warning: " +
                    std::string(unit_name(level.resource)) + " " + std::to_string(warning.threshold) +
                    "\r\nMIME-Version: 1.0\r\n";
  const std::string text_headers = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  if (!spoken) return out + text_headers + text;
  const std::string boundary = "=_quota_" + stamp;
  out += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary + "\r\n" + text_headers +
         text + "\r\n--" + boundary +
         "\r\nContent-Type: audio/wav\r\nContent-Disposition: attachment; filename=\"quota-warning.wav\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n";
  mime::append_base64(out, std::string_view(reinterpret_cast<const char*>(spoken->data()), spoken->size()));
  return out + "\r\n--" + boundary + "--\r\n";
}

}  // namespace umstore::delivery
