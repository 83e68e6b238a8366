#include "admin/admin_store.hpp"

#include "common/enum_names.hpp"

namespace umstore::admin {

namespace {
constexpr EnumName<Role> kRoleNames[] = {{Role::Admin, "admin"}, {Role::Helpdesk, "helpdesk"}};
}

std::string_view to_string(Role role) { return name_of(kRoleNames, role); }
std::optional<Role> parse_role(std::string_view text) { return value_named(kRoleNames, text); }

void require_admin_name(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 && name.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string_view::npos;
  if (!ok) throw AdminError("an admin name is 1 to 64 letters, digits, '.', '_' or '-': '" + std::string(name) + "' is not");
}

}  // namespace umstore::admin
