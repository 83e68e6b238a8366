#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace umstore::mime {

// Converts text in a MIME charset to UTF-8. Knows utf-8, us-ascii,
// iso-8859-1, iso-8859-15 and windows-1252; nullopt for anything else so the
// caller can keep the original text rather than show mojibake.
std::optional<std::string> charset_to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace umstore::mime
