#include "mailauth/sender_authentication.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "common/ascii.hpp"

namespace umstore::mailauth {

namespace {

// The unfolded values of every `name` field in the message's header.
std::vector<std::string> header_values(std::string_view message, std::string_view name) {
  std::vector<std::string> values;
  std::string* current = nullptr;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find('\n', pos);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header
    if (line.front() == ' ' || line.front() == '\t') {
      if (current) current->append(line);
      continue;
    }
    const std::size_t colon = line.find(':');
    current = nullptr;
    if (colon != std::string_view::npos && ascii_iequals(trim_blanks(line.substr(0, colon)), name)) {
      current = &values.emplace_back(line.substr(colon + 1));
    }
  }
  return values;
}

// An IPv4 client on a dual-stack listener appears as ::ffff:a.b.c.d; SPF's
// ip4: mechanisms and DMARC see it as the IPv4 address it is.
std::string unmapped(const std::string& ip) {
  in6_addr v6{};
  if (::inet_pton(AF_INET6, ip.c_str(), &v6) != 1 || !IN6_IS_ADDR_V4MAPPED(&v6)) return ip;
  char text[INET_ADDRSTRLEN] = {};
  return ::inet_ntop(AF_INET, &v6.s6_addr[12], text, sizeof text) ? std::string(text) : ip;
}

// RFC 8601 §2.2: a value that is not a plain token is quoted.
std::string property_value(std::string_view value) {
  const bool token = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return c > ' ' && c < 127 && std::string_view("()<>,;:\\\"/[]?=").find(c) == std::string_view::npos;
  });
  if (token) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + '"';
}

// A comment must not break the header: no parentheses or line ends inside.
std::string comment(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '(' || c == ')' || c == '\r' || c == '\n') ? ' ' : c;
  return " (" + std::string(trim_blanks(out)) + ")";
}

}  // namespace

std::string from_domain(std::string_view message) {
  const std::vector<std::string> froms = header_values(message, "From");
  if (froms.size() != 1) return {};
  std::string_view value = froms.front();
  // The address is inside <> when there is a display name; a comma outside
  // quotes means a list of authors, which DMARC cannot evaluate.
  if (const std::size_t open = value.rfind('<'); open != std::string_view::npos) {
    const std::size_t close = value.find('>', open);
    if (close == std::string_view::npos) return {};
    if (value.substr(close).find(',') != std::string_view::npos) return {};
    value = value.substr(open + 1, close - open - 1);
  } else if (value.find(',') != std::string_view::npos) {
    return {};
  }
  const std::size_t at = value.rfind('@');
  if (at == std::string_view::npos) return {};
  return ascii_lower(trim_blanks(value.substr(at + 1)));
}

bool SenderAuthentication::temporary_failure() const { return dmarc.result == AuthResult::temperror; }

std::string authentication_results_field(std::string_view authserv_id, const SpfVerdict& spf,
                                         std::span<const DkimVerdict> dkim, const DmarcVerdict& dmarc) {
  std::string field = "Authentication-Results: " + std::string(authserv_id);
  field += ";\r\n\tspf=" + std::string(to_string(spf.result));
  if (!spf.reason.empty() && spf.result != AuthResult::pass) field += comment(spf.reason);
  field += (spf.from_helo ? " smtp.helo=" : " smtp.mailfrom=") + property_value(spf.domain);
  if (dkim.empty()) field += ";\r\n\tdkim=none";
  for (const DkimVerdict& signature : dkim) {
    field += ";\r\n\tdkim=" + std::string(to_string(signature.result));
    if (!signature.reason.empty()) field += comment(signature.reason);
    field += " header.d=" + property_value(signature.domain) + " header.s=" + property_value(signature.selector);
    if (!signature.algorithm.empty()) field += " header.a=" + property_value(signature.algorithm);
  }
  field += ";\r\n\tdmarc=" + std::string(to_string(dmarc.result));
  if (dmarc.policy != DmarcPolicy::absent) field += comment("p=" + std::string(to_string(dmarc.policy)));
  if (!dmarc.from_domain.empty()) field += " header.from=" + property_value(dmarc.from_domain);
  return field + "\r\n";
}

std::string exempt_authentication_results_field(std::string_view authserv_id, std::string_view smtp_auth) {
  if (smtp_auth.empty()) return "Authentication-Results: " + std::string(authserv_id) + "; none (trusted network)\r\n";
  return "Authentication-Results: " + std::string(authserv_id) + ";\r\n\tauth=pass smtp.auth=" +
         property_value(smtp_auth) + "\r\n";
}

std::string without_our_authentication_results(std::string_view message, std::string_view authserv_id) {
  std::string out;
  out.reserve(message.size());
  std::size_t pos = 0;
  const auto line_end = [&](std::size_t from) {
    const std::size_t lf = message.find('\n', from);
    return lf == std::string_view::npos ? message.size() : lf + 1;
  };
  while (pos < message.size() && message[pos] != '\r' && message[pos] != '\n') {
    // One field: its first line and the folded lines after it.
    std::size_t end = line_end(pos);
    while (end < message.size() && (message[end] == ' ' || message[end] == '\t')) end = line_end(end);
    const std::string_view field = message.substr(pos, end - pos);
    pos = end;
    const std::size_t colon = field.find(':');
    if (colon != std::string_view::npos && ascii_iequals(trim_blanks(field.substr(0, colon)), "Authentication-Results")) {
      // authserv-id: the value's first word, up to ';' or a blank (RFC 8601 §2.2).
      std::string_view value = field.substr(colon + 1);
      value.remove_prefix(std::min(value.size(), value.find_first_not_of(" \t\r\n")));
      if (ascii_iequals(value.substr(0, value.find_first_of("; \t\r\n(")), authserv_id)) continue;
    }
    out.append(field);
  }
  out.append(message.substr(pos));  // the blank line and the body, as they are
  return out;
}

SenderAuthentication authenticate_sender(dns::Resolver& resolver, std::string_view authserv_id,
                                         const SmtpEnvelope& envelope, std::string_view message) {
  SenderAuthentication result;
  const std::string client_ip = unmapped(envelope.client_ip);
  result.spf = check_spf(resolver, client_ip, envelope.helo, envelope.mail_from);
  result.dkim = dkim_verify(resolver, message);
  result.dmarc = check_dmarc(resolver, client_ip, from_domain(message), result.spf, result.dkim);
  result.header = authentication_results_field(authserv_id, result.spf, result.dkim, result.dmarc);
  return result;
}

}  // namespace umstore::mailauth
