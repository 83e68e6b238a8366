#include "fax_out_settings.hpp"

#include <algorithm>

#include "command_line.hpp"
#include "common/e164.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

std::vector<std::string> prefixes(const Poco::Util::AbstractConfiguration& ini, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& p : comma_list(ini.getString("fax_out." + key, ""))) {
    const std::string digits = dialled_digits(p);
    if (digits.size() < 2 || digits.front() != '+')
      throw UsageError("[fax_out] " + key + ": '" + p + "' is not an E.164 prefix (+ and digits, e.g. +4930)");
    out.push_back(digits);
  }
  return out;
}

}  // namespace

std::optional<FaxOutSettings> read_fax_out_config(const Poco::Util::AbstractConfiguration& ini) {
  if (!ini.has("fax_out.gateway")) return std::nullopt;
  FaxOutSettings f;
  auto& gateway = f.dialler.gateway;
  gateway.uri = ini.getString("fax_out.gateway");
  if (!gateway.uri.starts_with("sip:") && !gateway.uri.starts_with("sips:"))
    throw UsageError("[fax_out] gateway: '" + gateway.uri +
                     "' is not a SIP URI (sip:host[:port][;transport=tcp|tls] or sips:host[:port])");
  gateway.user = ini.getString("fax_out.user", "");
  gateway.password = ini.getString("fax_out.password", "");
  const std::string t38 = ini.getString("fax_out.t38", "accept");
  if (t38 == "accept") gateway.t38 = sip::FaxGateway::T38::accept;
  else if (t38 == "offer") gateway.t38 = sip::FaxGateway::T38::offer;
  else if (t38 == "off") gateway.t38 = sip::FaxGateway::T38::off;
  else throw UsageError("[fax_out] t38: '" + t38 + "' (accept, offer or off)");
  gateway.ring_timeout = std::chrono::seconds(std::max(1u, ini.getUInt("fax_out.ring_timeout", 60)));

  auto& d = f.dialler;
  d.station_id = ini.getString("fax_out.station_id", d.station_id);
  d.page_header = ini.getString("fax_out.page_header", d.page_header);
  d.max_calls = std::max(1u, ini.getUInt("fax_out.max_calls", d.max_calls));
  d.max_attempts = std::max(1u, ini.getUInt("fax_out.max_attempts", d.max_attempts));
  d.confirm_success = ini.getBool("fax_out.confirm_success", d.confirm_success);
  if (ini.has("fax_out.retry_intervals")) {
    d.retry_after.clear();
    for (const auto& v : comma_list(ini.getString("fax_out.retry_intervals"))) {
      try {
        d.retry_after.emplace_back(std::stoul(v));
      } catch (const std::exception&) {
        throw UsageError("[fax_out] retry_intervals: '" + v + "' is not a number of seconds");
      }
    }
  }

  auto& policy = f.outbox.policy;
  policy.trusted_networks_may_send = ini.getBool("fax_out.trusted_networks", policy.trusted_networks_may_send);
  policy.allowed_prefixes = prefixes(ini, "allowed_prefixes");
  policy.refused_prefixes = prefixes(ini, "refused_prefixes");
  policy.max_pages = std::max(1u, ini.getUInt("fax_out.max_pages", policy.max_pages));
  policy.pages_per_day = ini.getUInt("fax_out.pages_per_day", policy.pages_per_day);
  f.outbox.addressing.subdomain = ini.getString("fax_out.subdomain", f.outbox.addressing.subdomain);
  f.outbox.document.cover_page = ini.getBool("fax_out.cover_page", f.outbox.document.cover_page);
  const std::string paper = ini.getString("fax_out.paper", "a4");
  if (paper == "a4") f.outbox.document.text.paper = codecs::TextPageOptions::Paper::a4;
  else if (paper == "letter") f.outbox.document.text.paper = codecs::TextPageOptions::Paper::letter;
  else throw UsageError("[fax_out] paper: '" + paper + "' (a4 or letter)");
  return f;
}

}  // namespace umstore::app
