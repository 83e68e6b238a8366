#pragma once
// Whether an INVITE or SUBSCRIBE from an allowed gateway address may go on:
// a fixed-window request count per source address, then digest
// authentication when configured. The address allow-list is checked first,
// by the server, so both must pass when both are configured.
#include <asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "digest_auth.hpp"
#include "sip_message.hpp"

namespace umstore::sip {

// Requests per source address per fixed time window; bounded memory.
class SourceRateLimit {
 public:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    bool allowed = true;
    bool first_refusal = false;        // the first refusal in this window: worth one log line
    std::chrono::seconds retry_after{0};  // until the window ends
  };

  SourceRateLimit(std::size_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}
  Verdict take(const asio::ip::address& source, Clock::time_point now);
  // SIGHUP: windows already open keep their start; the new limit counts at once.
  void set_limit(std::size_t limit, std::chrono::seconds window) {
    limit_ = limit;
    window_ = window;
  }

 private:
  struct Window {
    Clock::time_point start;
    std::size_t count = 0;
    bool refusal_logged = false;
  };
  std::size_t limit_;
  std::chrono::seconds window_;
  std::map<asio::ip::address, Window> windows_;
};

// A refusal to send back: status, reason phrase and extra header lines.
struct Refusal {
  int code;
  std::string reason;
  std::string headers;
};

class RequestAdmission {
 public:
  // No digest settings (empty realm): addresses and rates only.
  RequestAdmission(std::size_t requests_per_window, std::chrono::seconds window, std::optional<DigestSettings> digest);
  // nullopt: go on. Logs refusals (rate refusals once per source and window).
  std::optional<Refusal> check(const SipMessage& request, const asio::ip::address& source);
  void set_rate_limit(std::size_t requests_per_window, std::chrono::seconds window) {
    rate_.set_limit(requests_per_window, window);
  }

 private:
  SourceRateLimit rate_;
  std::unique_ptr<DigestAuthenticator> digest_;
};

}  // namespace umstore::sip
