#pragma once
// Digest authentication of requests (RFC 3261 22.4, RFC 2617 with qop=auth,
// RFC 8760 for SHA-256). Nonces are stateless: the time they were issued and
// an HMAC over it under a key made at start, so any nonce we did not issue,
// or one issued before a restart, is simply refused with a fresh challenge.
// The highest nonce count seen per nonce is kept to refuse replays.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::sip {

struct DigestSettings {
  std::string realm;
  // user -> password. Passwords, not HA1 hashes: HA1 is as good as the
  // password for digest, and each algorithm needs its own HA1.
  std::map<std::string, std::string> users;
  std::vector<std::string> algorithms = {"SHA-256", "MD5"};  // challenge order, most preferred first
  std::chrono::seconds nonce_lifetime{300};
};

// The parameters of a `Digest ...` credentials header value; quotes removed.
std::map<std::string, std::string> parse_digest_params(std::string_view value);

// Hex digest of `data` with "MD5" or "SHA-256"; empty for another algorithm.
std::string digest_hex(std::string_view algorithm, std::string_view data);

// The client side (RFC 2617 3.2.2, RFC 8760): the Authorization (or
// Proxy-Authorization) value answering the strongest challenge we can
// (SHA-256 before MD5) among `challenges` of a 401/407, for `method` to
// `uri`; with qop=auth when offered (nc 00000001, `cnonce`). nullopt when no
// challenge is a Digest one with an algorithm we know.
std::optional<std::string> digest_credentials(const std::vector<std::string>& challenges, std::string_view method,
                                              std::string_view uri, std::string_view user,
                                              std::string_view password, std::string_view cnonce);

class DigestAuthenticator {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Outcome {
    Accepted,
    Challenge,  // no usable credentials: 401 with a fresh challenge
    Stale,      // right password, expired nonce: 401 with stale=true
    Refused,    // wrong password, unknown user, replayed nonce count: 403
  };
  struct Verdict {
    Outcome outcome;
    std::string user;    // who, when the credentials named someone
    std::string reason;  // for the log
  };

  explicit DigestAuthenticator(DigestSettings settings);

  // `authorization` is the Authorization header value, empty when absent.
  Verdict check(std::string_view method, std::string_view authorization, Clock::time_point now);
  // WWW-Authenticate header lines (CRLF-ended), one per algorithm.
  std::string challenge(bool stale, Clock::time_point now) const;
  const std::string& realm() const { return settings_.realm; }

 private:
  std::string make_nonce(Clock::time_point now) const;
  // Issue time of a nonce we made, nullopt for any other.
  std::optional<std::int64_t> nonce_time(std::string_view nonce) const;
  std::string mac(std::string_view text) const;

  DigestSettings settings_;
  std::string key_;
  std::map<std::string, std::uint64_t> highest_nc_;  // nonce -> highest nonce count accepted
};

}  // namespace umstore::sip
