#include "special_use.hpp"

namespace umstore::mailstore::detail {

std::string special_use_to_string(SpecialUse use) {
  switch (use) {
    case SpecialUse::Sent: return "Sent";
    case SpecialUse::Trash: return "Trash";
    case SpecialUse::Drafts: return "Drafts";
    case SpecialUse::Junk: return "Junk";
    case SpecialUse::Archive: return "Archive";
    case SpecialUse::None: break;
  }
  return "";
}

SpecialUse special_use_from_string(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  for (const SpecialUse use : {SpecialUse::Sent, SpecialUse::Trash, SpecialUse::Drafts, SpecialUse::Junk,
                               SpecialUse::Archive})
    if (text == special_use_to_string(use)) return use;
  return SpecialUse::None;
}

}  // namespace umstore::mailstore::detail
