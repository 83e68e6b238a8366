#pragma once
// An offset-based MIME parser (RFC 5322 + RFC 2045/2046): it never copies a
// body, it records where each part's header and body lie in the message so
// IMAP can serve BODY[1.2.MIME] or BODYSTRUCTURE from a memory-mapped file.
// Every count and depth is bounded; malformed input gives a best-effort tree
// (as mail clients do), never an exception or a crash.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umstore::mime {

struct HeaderField {
  std::string_view name;   // as written, e.g. "Content-Type"
  std::string_view value;  // raw, still folded, without the final CRLF
};

struct Parameters {
  std::vector<std::pair<std::string, std::string>> items;  // names lower-case; RFC 2231 continuations joined and decoded
  std::optional<std::string> get(std::string_view name) const;  // case-insensitive
};

struct ContentType {
  std::string type = "text";     // lower-case
  std::string subtype = "plain"; // lower-case
  Parameters params;             // e.g. charset, boundary, version, application
  bool is(std::string_view t, std::string_view s) const;  // case-insensitive
};

struct Disposition {
  std::string type;  // lower-case "inline"/"attachment"; empty when absent
  Parameters params; // filename, voice, ...
};

struct Part {
  std::size_t header_begin = 0;  // first octet of this part's header
  std::size_t body_begin = 0;    // first octet after the empty line ending the header
  std::size_t body_end = 0;      // one past the body's last octet (the CRLF before a boundary is not body)
  std::vector<HeaderField> headers;
  ContentType content_type;      // defaults per RFC 2046 (message/rfc822 in multipart/digest)
  std::string transfer_encoding = "7bit";  // lower-case
  std::optional<std::string> id, description, md5, location;
  std::vector<std::string> languages;
  Disposition disposition;
  std::size_t body_lines = 0;    // lines in the body (for text/* and message/rfc822)
  std::vector<Part> children;    // multipart parts, or the single encapsulated message of message/rfc822

  std::optional<std::string_view> header(std::string_view name) const;  // first field, case-insensitive, raw
  std::string_view header_text(std::string_view message) const;  // header block incl. the empty line
  std::string_view body(std::string_view message) const;
  bool is_multipart() const { return content_type.type == "multipart"; }
  bool is_message() const { return content_type.is("message", "rfc822") || content_type.is("message", "global"); }
};

struct ParseLimits {
  std::size_t max_depth = 16;
  std::size_t max_parts = 1000;
  std::size_t max_header_fields = 1000;
  std::size_t max_parameters = 64;
};

// The top-level header block up to and including the empty line that ends
// it; the whole message when there is no CRLF CRLF (bare-LF mail).
inline std::string_view header_block(std::string_view message) {
  const auto end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 4);
}

// The whole message is the root part (header_begin 0).
// A multipart or message/rfc822 part with no children was left opaque: no
// boundary, no delimiter found, a limit reached, or a base64/QP-encoded
// message/rfc822 (RFC 2046 §5.2.1 forbids that encoding).
Part parse_message(std::string_view message, const ParseLimits& limits = {});
// The body of an entity whose header came apart from it (an HTTP request's
// multipart/form-data, RFC 7578): the root part has `type` and no header
// fields, and every offset is into `body`, which is never copied.
Part parse_body(std::string_view body, ContentType type, const ParseLimits& limits = {});

// Parses a Content-Type / Content-Disposition style value: "type/sub; a=b; c*0=..."
ContentType parse_content_type(std::string_view value, std::size_t max_parameters = 64);
Disposition parse_disposition(std::string_view value, std::size_t max_parameters = 64);

// Header helpers.
std::string unfold(std::string_view raw);                // removes CRLF before WSP
std::string decode_encoded_words(std::string_view text); // RFC 2047 -> UTF-8 (Q and B, common charsets)
std::string encode_header_text(std::string_view utf8);   // RFC 2047 B-words only when non-ASCII
// encode_header_text of at most `max_bytes` of `utf8` (cut at a word, then
// " ..."), folded at blanks so lines stay within 78 characters: for long
// free text such as a transcript.
std::string encode_long_header_text(std::string_view utf8, std::size_t max_bytes);

// Transfer encodings.
std::string base64_encode(std::string_view data, std::size_t line_length = 76);  // CRLF line ends
// The same appended to `out` (no intermediate copy), and its length.
void append_base64(std::string& out, std::string_view data, std::size_t line_length = 76);
std::size_t base64_encoded_size(std::size_t data_size, std::size_t line_length = 76);
std::string base64_decode(std::string_view text);  // skips whitespace and junk, stops at '='
std::string quoted_printable_decode(std::string_view text);
// Text with CRLF line ends -> quoted-printable (soft breaks keep lines <= 76).
std::string quoted_printable_encode(std::string_view text);
// Decodes a part body according to its Content-Transfer-Encoding.
std::string decode_body(const Part& part, std::string_view message);

// Converts text in a MIME charset to UTF-8. Knows utf-8, us-ascii,
// iso-8859-1, iso-8859-15 and windows-1252; nullopt for anything else so the
// caller can keep the original text rather than show mojibake.
std::optional<std::string> charset_to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace umstore::mime
