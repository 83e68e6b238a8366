#include "mailstore/message_text.hpp"

namespace umstore::mailstore {
namespace {

constexpr std::size_t kMaxDepth = 16;

void add_body_text(const mime::Part& part, std::string_view message, std::size_t depth, std::vector<std::string>& out) {
  if (part.is_multipart() || (part.is_message() && !part.children.empty())) {
    if (depth > kMaxDepth) return;
    for (const auto& child : part.children) add_body_text(child, message, depth + 1, out);
    return;
  }
  const auto& type = part.content_type.type;
  if (type != "text" && type != "message") return;
  std::string bytes = part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable"
                          ? mime::decode_body(part, message)
                          : std::string(part.body(message));
  const auto charset = part.content_type.params.get("charset");
  if (type == "text" && charset)
    if (auto utf8 = mime::charset_to_utf8(bytes, *charset)) bytes = std::move(*utf8);
  out.push_back(std::move(bytes));
}

}  // namespace

MessageText message_text(const mime::Part& root, std::string_view message) {
  MessageText text;
  const std::string_view header = root.header_text(message);
  text.header.emplace_back(header);
  if (header.find("=?") != std::string_view::npos) text.header.push_back(mime::decode_encoded_words(mime::unfold(header)));
  add_body_text(root, message, 0, text.body);
  return text;
}

}  // namespace umstore::mailstore
