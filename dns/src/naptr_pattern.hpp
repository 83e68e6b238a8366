#pragma once
// Which NAPTR regexp patterns umstore hands to libc's regcomp.
#include <string_view>

namespace umstore::dns {

// True when `pattern` is a POSIX ERE small enough in every dimension that
// compiling and matching it costs little, whoever wrote it. See the .cpp.
bool is_bounded_pattern(std::string_view pattern);

}  // namespace umstore::dns
