#include "mailauth/result.hpp"

namespace umstore::mailauth {

std::string_view to_string(AuthResult result) {
  switch (result) {
    case AuthResult::pass: return "pass";
    case AuthResult::fail: return "fail";
    case AuthResult::softfail: return "softfail";
    case AuthResult::neutral: return "neutral";
    case AuthResult::none: return "none";
    case AuthResult::temperror: return "temperror";
    case AuthResult::permerror: return "permerror";
  }
  return "?";
}

}  // namespace umstore::mailauth
