#include "mailstore/message_metadata.hpp"

#include <cstdint>

#include "mime/imap_structure.hpp"
#include "mime/message_parser.hpp"

namespace umstore::mailstore {
namespace {

// "UMM1", then each field as a 32-bit little-endian length and its bytes,
// then the FNV-1a hash of everything before it, 64 bits little-endian.
constexpr std::string_view kMagic = "UMM1";

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(std::string_view in, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

MessageMetadata compute_metadata(std::string_view rfc822) {
  MessageMetadata m;
  m.header = std::string(mime::header_block(rfc822));
  mime::append_envelope(m.envelope, mime::parse_message(m.header), m.header);
  const auto root = mime::parse_message(rfc822);
  mime::append_body_structure(m.body, root, rfc822, false);
  mime::append_body_structure(m.body_structure, root, rfc822, true);
  return m;
}

std::string encode_metadata(const MessageMetadata& metadata) {
  std::string out(kMagic);
  for (const std::string* field : {&metadata.header, &metadata.envelope, &metadata.body, &metadata.body_structure}) {
    put_le(out, field->size(), 4);
    out += *field;
  }
  put_le(out, fnv1a(out), 8);
  return out;
}

std::optional<MessageMetadata> decode_metadata(std::string_view stored) {
  if (stored.size() < kMagic.size() + 8 || !stored.starts_with(kMagic)) return std::nullopt;
  const std::string_view content = stored.substr(0, stored.size() - 8);
  if (get_le(stored.substr(content.size()), 8) != fnv1a(content)) return std::nullopt;
  MessageMetadata m;
  std::string_view rest = content.substr(kMagic.size());
  for (std::string* field : {&m.header, &m.envelope, &m.body, &m.body_structure}) {
    if (rest.size() < 4) return std::nullopt;
    const std::uint64_t size = get_le(rest, 4);
    rest.remove_prefix(4);
    if (size > rest.size()) return std::nullopt;
    field->assign(rest.substr(0, size));
    rest.remove_prefix(size);
  }
  if (!rest.empty()) return std::nullopt;
  return m;
}

}  // namespace umstore::mailstore
