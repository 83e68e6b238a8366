#pragma once
// Special-use names (RFC 6154 without the backslash) as every backend stores
// them: "Sent", "Trash", ...; "" for none (internal, any backend).
#include <string>
#include <string_view>

#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

std::string special_use_to_string(SpecialUse use);
// Trailing blanks and line ends are ignored; an unknown name is None.
SpecialUse special_use_from_string(std::string_view text);

}  // namespace umstore::mailstore::detail
