#include "faxout/fax_address.hpp"

#include <algorithm>

#include "common/ascii.hpp"
#include "common/e164.hpp"

namespace umstore::faxout {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ours(std::string_view domain, const std::vector<std::string>& domains) {
  return std::any_of(domains.begin(), domains.end(), [&](const std::string& d) { return ascii_iequals(d, domain); });
}

// RFC 3192: fax-number [ "/T33S=" digits ]; other qualifiers are not ours to
// ignore silently (they would change where the fax goes), so they make the
// address unreadable.
std::optional<FaxAddress> read_number(std::string_view text, const FaxAddressing& addressing) {
  FaxAddress out;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view qualifier = text.substr(slash + 1);
    text = text.substr(0, slash);
    if (!ascii_istarts_with(qualifier, "T33S=") || !all_digits(qualifier.substr(5))) {
      out.written = std::string(text) + "/" + std::string(qualifier);
      return out;  // number stays nullopt: refused with the reason
    }
    out.sub_address = std::string(qualifier.substr(5));
  }
  out.written = std::string(text);
  out.number = ingest::normalise_called_number(text, addressing.routing);
  return out;
}

}  // namespace

std::optional<FaxAddress> parse_fax_address(std::string_view address, const FaxAddressing& addressing) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
  if (ascii_istarts_with(local, "FAX=") && is_ours(domain, addressing.domains))
    return read_number(local.substr(4), addressing);
  if (addressing.subdomain.empty()) return std::nullopt;
  const std::string prefix = addressing.subdomain + ".";
  if (!ascii_istarts_with(domain, prefix) || !is_ours(domain.substr(prefix.size()), addressing.domains))
    return std::nullopt;
  return read_number(local, addressing);
}

}  // namespace umstore::faxout
