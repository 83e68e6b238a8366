#include "digest_auth.hpp"
#include "common/ascii.hpp"
#include "sip_message.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace umstore::sip {
namespace {

constexpr std::size_t kMaxTrackedNonces = 10000;
constexpr std::size_t kTimeHex = 16;  // the issue time at the front of a nonce
constexpr std::size_t kSaltHex = 16;
constexpr std::size_t kMacHex = 32;

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1)
    throw std::runtime_error("no random bytes for digest nonces");
  return to_hex(buffer.data(), buffer.size());
}

}  // namespace

std::map<std::string, std::string> parse_digest_params(std::string_view value) {
  std::map<std::string, std::string> out;
  std::size_t i = value.find_first_not_of(" \t");
  if (i == std::string_view::npos) return out;
  const auto scheme_end = value.find_first_of(" \t", i);
  if (scheme_end == std::string_view::npos) return out;
  out[""] = std::string(value.substr(i, scheme_end - i));  // the scheme
  i = scheme_end;
  while (i < value.size()) {
    i = value.find_first_not_of(" \t,", i);
    if (i == std::string_view::npos) break;
    const auto eq = value.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name = ascii_lower(value.substr(i, eq - i));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    i = value.find_first_not_of(" \t", eq + 1);
    if (i == std::string_view::npos) {
      out[name] = "";
      break;
    }
    std::string v;
    if (value[i] == '"') {
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        v += value[i];
      }
      ++i;  // the closing quote
    } else {
      const auto end = value.find(',', i);
      v = std::string(value.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
      i = end == std::string_view::npos ? value.size() : end;
    }
    out[name] = std::move(v);
  }
  return out;
}

std::string digest_hex(std::string_view algorithm, std::string_view data) {
  const EVP_MD* md = ascii_iequals(algorithm, "MD5") ? EVP_md5() : ascii_iequals(algorithm, "SHA-256") ? EVP_sha256() : nullptr;
  if (!md) return {};
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out, &size, md, nullptr) != 1) return {};
  return to_hex(out, size);
}

std::optional<std::string> digest_credentials(const std::vector<std::string>& challenges, std::string_view method,
                                              std::string_view uri, std::string_view user,
                                              std::string_view password, std::string_view cnonce) {
  std::optional<std::map<std::string, std::string>> chosen;
  for (const auto& challenge : challenges) {
    auto p = parse_digest_params(challenge);
    if (!ascii_iequals(p[""], "Digest") || !p.contains("nonce")) continue;
    const std::string algorithm = p.contains("algorithm") ? p["algorithm"] : "MD5";
    if (ascii_iequals(algorithm, "SHA-256")) {
      chosen = std::move(p);
      break;
    }
    if (ascii_iequals(algorithm, "MD5") && !chosen) chosen = std::move(p);
  }
  if (!chosen) return std::nullopt;
  auto& p = *chosen;
  const std::string algorithm = p.contains("algorithm") ? p["algorithm"] : "MD5";
  // qop is a list ("auth,auth-int"); we only do auth.
  bool qop_auth = false;
  for (const auto& option : split_header_list(p["qop"])) qop_auth = qop_auth || ascii_iequals(option, "auth");
  const std::string ha1 = digest_hex(algorithm, std::string(user) + ":" + p["realm"] + ":" + std::string(password));
  const std::string ha2 = digest_hex(algorithm, std::string(method) + ":" + std::string(uri));
  const std::string nc = "00000001";
  const std::string response =
      qop_auth ? digest_hex(algorithm, ha1 + ":" + p["nonce"] + ":" + nc + ":" + std::string(cnonce) + ":auth:" + ha2)
               : digest_hex(algorithm, ha1 + ":" + p["nonce"] + ":" + ha2);
  std::string out = "Digest username=\"" + std::string(user) + "\", realm=\"" + p["realm"] + "\", nonce=\"" +
                    p["nonce"] + "\", uri=\"" + std::string(uri) + "\", response=\"" + response +
                    "\", algorithm=" + algorithm;
  if (qop_auth) out += ", qop=auth, nc=" + nc + ", cnonce=\"" + std::string(cnonce) + "\"";
  if (p.contains("opaque")) out += ", opaque=\"" + p["opaque"] + "\"";
  return out;
}

DigestAuthenticator::DigestAuthenticator(DigestSettings settings)
    : settings_(std::move(settings)), key_(random_hex(32)) {}

std::string DigestAuthenticator::mac(std::string_view text) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), out, &size);
  return to_hex(out, size).substr(0, kMacHex);
}

std::string DigestAuthenticator::make_nonce(Clock::time_point now) const {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  char time_hex[kTimeHex + 1];
  std::snprintf(time_hex, sizeof time_hex, "%016llx", static_cast<unsigned long long>(seconds));
  // The salt keeps nonces unique within a second: nonce counts are tracked per nonce.
  const std::string head = std::string(time_hex) + random_hex(kSaltHex / 2);
  return head + mac(head);
}

std::optional<std::int64_t> DigestAuthenticator::nonce_time(std::string_view nonce) const {
  if (nonce.size() != kTimeHex + kSaltHex + kMacHex) return std::nullopt;
  const auto head = nonce.substr(0, kTimeHex + kSaltHex);
  const std::string expected = mac(head);
  if (CRYPTO_memcmp(expected.data(), nonce.data() + head.size(), kMacHex) != 0) return std::nullopt;
  std::uint64_t seconds = 0;
  std::from_chars(nonce.data(), nonce.data() + kTimeHex, seconds, 16);
  return static_cast<std::int64_t>(seconds);
}

std::string DigestAuthenticator::challenge(bool stale, Clock::time_point now) const {
  const std::string nonce = make_nonce(now);
  std::string out;
  for (const auto& algorithm : settings_.algorithms) {
    out += "WWW-Authenticate: Digest realm=\"" + settings_.realm + "\", nonce=\"" + nonce + "\", algorithm=" +
           algorithm + ", qop=\"auth\"";
    if (stale) out += ", stale=true";
    out += "\r\n";
  }
  return out;
}

DigestAuthenticator::Verdict DigestAuthenticator::check(std::string_view method, std::string_view authorization,
                                                        Clock::time_point now) {
  if (authorization.empty()) return {Outcome::Challenge, {}, "no credentials"};
  auto p = parse_digest_params(authorization);
  if (!ascii_iequals(p[""], "Digest")) return {Outcome::Challenge, {}, "not digest credentials"};
  const std::string user = p["username"];
  if (p["realm"] != settings_.realm) return {Outcome::Challenge, user, "credentials for another realm"};
  const std::string algorithm = p.contains("algorithm") ? p["algorithm"] : "MD5";
  bool offered = false;
  for (const auto& a : settings_.algorithms) offered = offered || ascii_iequals(a, algorithm);
  if (!offered) return {Outcome::Challenge, user, "algorithm " + algorithm + " not offered"};
  const auto issued = nonce_time(p["nonce"]);
  if (!issued) return {Outcome::Challenge, user, "a nonce we did not issue"};
  if (!ascii_iequals(p["qop"], "auth") || p["nc"].empty() || p["cnonce"].empty())
    return {Outcome::Challenge, user, "qop=auth with nc and cnonce required"};
  const auto account = settings_.users.find(user);
  if (account == settings_.users.end()) return {Outcome::Refused, user, "unknown user"};

  const std::string ha1 = digest_hex(algorithm, user + ":" + settings_.realm + ":" + account->second);
  const std::string ha2 = digest_hex(algorithm, std::string(method) + ":" + p["uri"]);
  const std::string expected =
      digest_hex(algorithm, ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2);
  const std::string given = ascii_lower(p["response"]);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
    return {Outcome::Refused, user, "wrong password"};

  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - *issued;
  if (age < 0 || age > settings_.nonce_lifetime.count()) return {Outcome::Stale, user, "nonce expired"};
  std::uint64_t nc = 0;
  const auto [end, ec] = std::from_chars(p["nc"].data(), p["nc"].data() + p["nc"].size(), nc, 16);
  if (ec != std::errc() || end != p["nc"].data() + p["nc"].size())
    return {Outcome::Refused, user, "malformed nonce count"};
  if (highest_nc_.size() >= kMaxTrackedNonces) {
    // Counts of expired nonces no longer matter: those nonces are stale anyway.
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::erase_if(highest_nc_, [&](const auto& entry) {
      const auto t = nonce_time(entry.first);
      return !t || now_s - *t > settings_.nonce_lifetime.count();
    });
    if (highest_nc_.size() >= kMaxTrackedNonces) return {Outcome::Challenge, user, "too many nonces in use"};
  }
  auto& highest = highest_nc_[p["nonce"]];
  if (nc <= highest) return {Outcome::Refused, user, "replayed nonce count"};
  highest = nc;
  return {Outcome::Accepted, user, {}};
}

}  // namespace umstore::sip
