#include "message_summary.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <cctype>

#include "mailstore/message.hpp"

namespace umstore::sip {
namespace {

constexpr std::size_t kHeaderScanBytes = 16 * 1024;

bool is_fax(std::string_view message) {
  const auto end = message.find("\r\n\r\n");
  std::string header(message.substr(0, std::min({end, message.size(), kHeaderScanBytes})));
  header = ascii_lower(header);
  const auto at = header.find("\nmessage-context:");
  return at != std::string::npos && header.find("fax-message", at) < header.find('\n', at + 1);
}

}  // namespace

MessageCounts count_messages(const mailstore::Folder& inbox) {
  MessageCounts counts;
  for (const auto& info : inbox.snapshot()) {
    const auto data = inbox.open_message(info.uid);
    const bool fax = data && is_fax(data->bytes());
    const bool seen = info.flags & mailstore::kSeen;
    auto& slot = fax ? (seen ? counts.fax_old : counts.fax_new) : (seen ? counts.voice_old : counts.voice_new);
    ++slot;
  }
  return counts;
}

std::string message_summary_body(const MessageCounts& c, std::string_view account_uri) {
  std::string out = std::string("Messages-Waiting: ") + (c.waiting() ? "yes" : "no") + "\r\n";
  out += "Message-Account: " + std::string(account_uri) + "\r\n";
  out += "Voice-Message: " + std::to_string(c.voice_new) + "/" + std::to_string(c.voice_old) + " (0/0)\r\n";
  out += "Fax-Message: " + std::to_string(c.fax_new) + "/" + std::to_string(c.fax_old) + " (0/0)\r\n";
  return out;
}

}  // namespace umstore::sip
