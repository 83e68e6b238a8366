#include "mime/dsn_report.hpp"

#include <algorithm>

#include "ascii.hpp"

namespace umstore::mime {

std::optional<DeliveryStatus> parse_delivery_status(std::string_view message) {
  const std::string lowered = ascii_lower(message);
  const auto type = lowered.find("content-type: message/delivery-status");
  if (type == std::string::npos) return std::nullopt;
  auto body = lowered.find("\r\n\r\n", type);
  if (body == std::string::npos) return std::nullopt;
  body += 4;
  const auto end = message.find("\r\n--", body);
  std::string_view part = message.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body + 2);

  DeliveryStatus out;
  std::map<std::string, std::string> block;
  bool first = true;
  std::string last_name;
  auto finish_block = [&] {
    if (block.empty()) return;
    if (first) out.message_fields = std::move(block);
    else out.recipients.push_back(std::move(block));
    first = false;
    block.clear();
  };
  while (!part.empty()) {
    const auto nl = std::min(part.find("\r\n"), part.size());
    const std::string_view line = part.substr(0, nl);
    part.remove_prefix(std::min(nl + 2, part.size()));
    if (line.empty()) {
      finish_block();
      continue;
    }
    if (ascii::is_wsp(line.front()) && !last_name.empty()) {  // a folded line continues the last field
      block[last_name] += " " + std::string(ascii::trim(line));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    last_name = ascii_lower(ascii::trim(line.substr(0, colon)));
    block[last_name] = std::string(ascii::trim(line.substr(colon + 1)));
  }
  finish_block();
  return out;
}

}  // namespace umstore::mime
