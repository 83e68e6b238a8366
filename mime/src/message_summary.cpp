#include "mime/message_summary.hpp"

#include <algorithm>
#include <charconv>

#include "common/ascii.hpp"
#include "mime/message_parser.hpp"
#include "tiff_summary.hpp"

namespace umstore::mime {
namespace {

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

std::string header_text(const Part& part, std::string_view name) {
  const auto raw = part.header(name);
  return raw ? trimmed(decode_encoded_words(unfold(*raw))) : std::string();
}

// "15550123,NumberingPlan=e164" -> "+15550123"; "7720" -> "7720" (RFC 3939).
std::string caller_of(std::string_view caller_id) {
  const auto comma = caller_id.find(',');
  const std::string digits = trimmed(caller_id.substr(0, comma));
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {};
  const bool e164 = comma != std::string_view::npos &&
                    ascii_lower(std::string(caller_id.substr(comma))).find("numberingplan=e164") != std::string::npos;
  return e164 ? "+" + digits : digits;
}

// "+15550123@vm.example.org" or "Alice <+15550123@...>" -> "+15550123".
std::string number_in_from(std::string_view from) {
  const auto at = from.rfind('@');
  if (at == std::string_view::npos) return {};
  auto start = from.find_last_of("<\" \t", at);
  start = start == std::string_view::npos ? 0 : start + 1;
  const std::string_view local = from.substr(start, at - start);
  if (local.size() < 3 || local.front() != '+' ||
      !std::all_of(local.begin() + 1, local.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {};
  return std::string(local);
}

void read_parts(const Part& part, std::string_view raw, MessageSummary& out, int depth = 0) {
  if (depth > 8) return;
  if (part.content_type.type == "audio" && !out.seconds) {
    const std::string duration = header_text(part, "Content-Duration");
    unsigned seconds = 0;
    if (const auto [end, ec] = std::from_chars(duration.data(), duration.data() + duration.size(), seconds);
        ec == std::errc() && end == duration.data() + duration.size() && !duration.empty())
      out.seconds = seconds;
  }
  if (part.content_type.is("image", "tiff") && !out.pages) {
    const auto tiff = summarise_tiff(decode_body(part, raw));
    if (tiff.is_tiff) out.pages = tiff.pages;
  }
  for (const auto& child : part.children)
    if (!child.is_message()) read_parts(child, raw, out, depth + 1);
}

}  // namespace

MessageSummary summarise_message(std::string_view raw) {
  const Part root = parse_message(raw);
  MessageSummary out;
  const std::string context = ascii_lower(header_text(root, "Message-Context"));
  if (context.starts_with("voice-message")) out.kind = "voice";
  else if (context.starts_with("fax-message")) out.kind = "fax";
  out.caller = caller_of(header_text(root, "Caller-ID"));
  if (out.caller.empty() && out.kind != "mail") out.caller = number_in_from(header_text(root, "From"));
  out.caller_name = header_text(root, "Caller-Name");
  out.subject = header_text(root, "Subject");
  out.date = header_text(root, "Date");
  if (out.kind != "mail") read_parts(root, raw, out);
  return out;
}

}  // namespace umstore::mime
