#pragma once
// The result words of RFC 8601 (Authentication-Results) shared by SPF, DKIM
// and DMARC. `temperror` always means "try again later" (a DNS failure): the
// SMTP server answers 451 4.7.x, never a refusal.
#include <string_view>

namespace umstore::mailauth {

enum class AuthResult { pass, fail, softfail, neutral, none, temperror, permerror };

std::string_view to_string(AuthResult result);

}  // namespace umstore::mailauth
