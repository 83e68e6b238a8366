// MTA-STS (RFC 8461): the TXT record, the policy file, its fetch over
// verified HTTPS and the cache of policies.
#include "smtp/mta_sts.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

#include "client_connection.hpp"
#include "common/ascii.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/parse_number.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "mta-sts";
constexpr std::size_t kMaxPolicyBytes = 64 * 1024;  // §3.3: senders may refuse larger policies
constexpr std::uint32_t kMaxAge = 31557600;         // §3.2: at most a year
constexpr std::string_view kCacheMagic = "umstore-mta-sts 1";
constexpr std::size_t kMaxPoliciesInMemory = 10000;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// A domain as a cache file name: letters, digits, '-' and inner dots only.
bool plain_domain(std::string_view domain) {
  return !domain.empty() && domain.size() <= 253 && domain.front() != '.' &&
         std::all_of(domain.begin(), domain.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
         });
}

std::string without_dot(std::string_view name) {
  std::string out = ascii_lower(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// "key: value" lines (§3.2), CRLF or LF.
template <class Visit>
void for_each_field(std::string_view text, Visit&& visit) {
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    visit(trim_blanks(line.substr(0, colon)), trim_blanks(line.substr(colon + 1)));
  }
}

// The policy body of an HTTP/1.0 response: 200, text/plain (§3.3, no redirects).
std::string policy_body(std::string_view response, const std::string& url) {
  const auto head_end = response.find("\r\n\r\n");
  if (head_end == std::string_view::npos) throw std::runtime_error(url + " sent no complete HTTP response");
  const std::string_view head = response.substr(0, head_end);
  const std::string_view status = head.substr(0, head.find("\r\n"));
  const auto space = status.find(' ');
  if (!status.starts_with("HTTP/1.") || space == std::string_view::npos || status.substr(space + 1, 3) != "200")
    throw std::runtime_error(url + " answered \"" + std::string(status.substr(0, 80)) + "\" (redirects are not followed)");
  bool text_plain = false;
  for_each_field(head.substr(status.size()), [&](std::string_view key, std::string_view value) {
    if (ascii_iequals(key, "Content-Type")) text_plain = ascii_istarts_with(value, "text/plain");
  });
  if (!text_plain) throw std::runtime_error(url + " is not text/plain");
  return std::string(response.substr(head_end + 4));
}

}  // namespace

std::string_view to_string(MtaStsPolicy::Mode mode) {
  switch (mode) {
    case MtaStsPolicy::Mode::Enforce: return "enforce";
    case MtaStsPolicy::Mode::Testing: return "testing";
    case MtaStsPolicy::Mode::None: return "none";
  }
  return "none";
}

bool MtaStsPolicy::allows(std::string_view host) const {
  const std::string name = without_dot(host);
  return std::any_of(mx.begin(), mx.end(), [&name](const std::string& pattern) {
    if (!pattern.starts_with("*.")) return name == pattern;
    // "*.example.net" stands for exactly one label: a.example.net, not a.b.example.net.
    const std::string_view suffix = std::string_view(pattern).substr(1);
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) return false;
    const std::string_view label = std::string_view(name).substr(0, name.size() - suffix.size());
    return label.find('.') == std::string_view::npos;
  });
}

std::optional<std::string> sts_record_id(std::span<const std::string> txt_records) {
  std::optional<std::string> id;
  int records = 0;
  for (const auto& record : txt_records) {
    std::string_view rest = record;
    if (!rest.starts_with("v=STSv1")) continue;  // not an MTA-STS record
    ++records;
    while (!rest.empty()) {
      const auto end = std::min(rest.find(';'), rest.size());
      const std::string_view field = trim_blanks(rest.substr(0, end));
      rest.remove_prefix(std::min(end + 1, rest.size()));
      if (field.starts_with("id=")) id = std::string(field.substr(3));
    }
  }
  // §3.1: more than one record, or one without a valid id, is no policy.
  if (records != 1 || !id || id->empty() || id->size() > 32 ||
      !std::all_of(id->begin(), id->end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return id;
}

std::variant<MtaStsPolicy, std::string> parse_mta_sts_policy(std::string_view text) {
  MtaStsPolicy policy;
  std::string version, mode;
  std::optional<std::uint32_t> max_age;
  for_each_field(text, [&](std::string_view key, std::string_view value) {
    if (key == "version") version = value;
    else if (key == "mode") mode = value;
    else if (key == "max_age") max_age = parse_number<std::uint32_t>(value);
    else if (key == "mx") policy.mx.push_back(without_dot(value));
    // other keys: extensions, ignored (§3.2)
  });
  if (version != "STSv1") return std::string("the policy's version is not STSv1");
  if (mode == "enforce") policy.mode = MtaStsPolicy::Mode::Enforce;
  else if (mode == "testing") policy.mode = MtaStsPolicy::Mode::Testing;
  else if (mode == "none") policy.mode = MtaStsPolicy::Mode::None;
  else return "unknown mode \"" + mode + "\"";
  if (!max_age) return std::string("the policy has no valid max_age");
  policy.max_age = std::min(*max_age, kMaxAge);
  if (policy.mode != MtaStsPolicy::Mode::None && policy.mx.empty()) return std::string("the policy names no mx");
  return policy;
}

MtaStsPolicies::MtaStsPolicies(MtaStsConfig config) : config_(std::move(config)) {}

std::optional<MtaStsPolicy> MtaStsPolicies::policy_for(const std::string& domain_name) {
  const std::string domain = without_dot(domain_name);
  std::lock_guard lock(mutex_);
  auto held = cached(domain);
  if (held && held->expires <= unix_now()) held.reset();
  const auto txt = config_.resolver->txt("_mta-sts." + domain);
  const auto id = txt.found() ? sts_record_id(txt.records) : std::nullopt;
  if (!id || (held && held->id == *id)) return held;  // §5.1: a cached policy stays in force until it expires
  try {
    return fetch(domain, *id);
  } catch (const std::exception& e) {
    // §3.3: no policy fetched and none cached is as if the domain had none.
    log(LogLevel::Warning, kLog, "cannot fetch the MTA-STS policy of {}: {}{}", domain, e.what(),
        held ? "; the cached policy stays in force" : "; delivering as without a policy");
    return held;
  }
}

MtaStsPolicy MtaStsPolicies::fetch(const std::string& domain, const std::string& id) {
  const std::string host = "mta-sts." + domain;
  const std::string url = "https://" + host + "/.well-known/mta-sts.txt";
  auto found = config_.resolver->addresses(host, dns::RrType::a);
  auto v6 = config_.resolver->addresses(host, dns::RrType::aaaa);
  found.records.insert(found.records.end(), v6.records.begin(), v6.records.end());
  if (found.records.empty()) throw std::runtime_error(host + " has no address (" + std::string(to_string(found.status)) + ")");
  detail::ClientConnection connection(found.records, host, config_.https_port, config_.timeout);
  connection.start_verified_tls(host, config_.ca_file);
  connection.send("GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: umstore\r\n\r\n");
  const std::string body = policy_body(connection.read_to_end(kMaxPolicyBytes), url);
  auto parsed = parse_mta_sts_policy(body);
  if (auto* error = std::get_if<std::string>(&parsed)) throw std::runtime_error(url + ": " + *error);
  auto policy = std::get<MtaStsPolicy>(std::move(parsed));
  policy.id = id;
  policy.expires = unix_now() + policy.max_age;
  keep(domain, policy, body);
  log(LogLevel::Info, kLog, "{}: policy {} in mode {} for {} s, mx {}", domain, id, to_string(policy.mode),
      policy.max_age, policy.mx.empty() ? std::string("-") : policy.mx.front());
  return policy;
}

std::optional<MtaStsPolicy> MtaStsPolicies::cached(const std::string& domain) {
  if (const auto it = policies_.find(domain); it != policies_.end()) return it->second;
  if (config_.cache_dir.empty() || !plain_domain(domain)) return std::nullopt;
  try {
    const auto path = config_.cache_dir / domain;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    // "umstore-mta-sts 1\nID EXPIRES\n" and the policy as fetched.
    const std::string text = read_file(path);
    const auto first = text.find('\n');
    const auto second = text.find('\n', first == std::string::npos ? first : first + 1);
    if (first == std::string::npos || second == std::string::npos || text.substr(0, first) != kCacheMagic)
      return std::nullopt;
    const std::string_view line = std::string_view(text).substr(first + 1, second - first - 1);
    const auto space = line.find(' ');
    const auto expires = parse_number<std::int64_t>(line.substr(space == std::string_view::npos ? line.size() : space + 1));
    auto parsed = parse_mta_sts_policy(std::string_view(text).substr(second + 1));
    if (space == std::string_view::npos || !expires || !std::holds_alternative<MtaStsPolicy>(parsed)) return std::nullopt;
    auto policy = std::get<MtaStsPolicy>(std::move(parsed));
    policy.id = std::string(line.substr(0, space));
    policy.expires = *expires;
    if (policies_.size() >= kMaxPoliciesInMemory) policies_.clear();
    policies_[domain] = policy;
    return policy;
  } catch (const std::exception& e) {
    log(LogLevel::Warning, kLog, "cannot read the cached MTA-STS policy of {}: {}", domain, e.what());
    return std::nullopt;
  }
}

void MtaStsPolicies::keep(const std::string& domain, const MtaStsPolicy& policy, std::string_view text) {
  // Memory holds a bounded number; the disk keeps them all and refills it.
  if (policies_.size() >= kMaxPoliciesInMemory && !policies_.contains(domain)) policies_.clear();
  policies_[domain] = policy;
  if (config_.cache_dir.empty() || !plain_domain(domain)) return;
  try {
    create_directories_durably(config_.cache_dir);
    replace_file_durably(config_.cache_dir / domain, std::string(kCacheMagic) + "\n" + policy.id + " " +
                                                         std::to_string(policy.expires) + "\n" + std::string(text));
  } catch (const std::exception& e) {
    log(LogLevel::Warning, kLog, "cannot keep the MTA-STS policy of {} on disk: {}", domain, e.what());
  }
}

}  // namespace umstore::smtp
