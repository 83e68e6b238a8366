// ENUM answers come from DNS servers umstore does not run: a NAPTR regexp
// field, services field and the mailto URI it makes must never crash,
// hang or yield an address with a second recipient hidden in it. The
// input is split at the first two NULs: regexp field, services, number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dns/enum_lookup.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto first = input.find('\0');
  const std::string_view regexp = input.substr(0, first);
  input = first == std::string_view::npos ? std::string_view() : input.substr(first + 1);
  const auto second = input.find('\0');
  const std::string_view services = input.substr(0, second);
  const std::string_view number = second == std::string_view::npos ? "+15550100" : input.substr(second + 1);
  (void)umstore::dns::offers_service(services, umstore::dns::kVpimService);
  (void)umstore::dns::enum_domain(number, "e164.arpa");
  if (const auto uri = umstore::dns::apply_naptr_regexp(regexp, number)) {
    if (const auto address = umstore::dns::mailto_address(*uri)) {
      for (const char c : *address)
        if (c == ',' || c == '<' || c == '>' || static_cast<unsigned char>(c) <= ' ') std::abort();
    }
  }
  return 0;
}
