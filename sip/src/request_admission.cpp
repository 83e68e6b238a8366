#include "request_admission.hpp"

#include "common/log.hpp"

namespace umstore::sip {
namespace {

constexpr std::size_t kMaxTrackedSources = 4096;

}  // namespace

SourceRateLimit::Verdict SourceRateLimit::take(const asio::ip::address& source, Clock::time_point now) {
  if (windows_.size() >= kMaxTrackedSources) {
    std::erase_if(windows_, [&](const auto& e) { return now - e.second.start >= window_; });
    // A flood from spoofed addresses: forget them all rather than grow.
    if (windows_.size() >= kMaxTrackedSources) windows_.clear();
  }
  auto [it, fresh] = windows_.try_emplace(source, Window{now, 0, false});
  auto& w = it->second;
  if (!fresh && now - w.start >= window_) w = Window{now, 0, false};
  Verdict v;
  if (w.count < limit_) {
    ++w.count;
    return v;
  }
  v.allowed = false;
  v.first_refusal = !std::exchange(w.refusal_logged, true);
  const auto left = std::chrono::ceil<std::chrono::seconds>(w.start + window_ - now);
  v.retry_after = std::max(left, std::chrono::seconds(1));
  return v;
}

RequestAdmission::RequestAdmission(std::size_t requests_per_window, std::chrono::seconds window,
                                   std::optional<DigestSettings> digest)
    : rate_(requests_per_window, window) {
  if (digest && !digest->realm.empty()) digest_ = std::make_unique<DigestAuthenticator>(std::move(*digest));
}

std::optional<Refusal> RequestAdmission::check(const SipMessage& request, const asio::ip::address& source) {
  const auto now = std::chrono::steady_clock::now();
  const std::string method = request.method();
  const auto rate = rate_.take(source, now);
  if (!rate.allowed) {
    if (rate.first_refusal)
      log(LogLevel::Warning, "sip", "{} from {} refused with 503: over the rate limit; refusing for {} s", method,
          source.to_string(), rate.retry_after.count());
    return Refusal{503, "Service Unavailable", "Retry-After: " + std::to_string(rate.retry_after.count()) + "\r\n"};
  }
  if (!digest_) return std::nullopt;
  const auto verdict = digest_->check(method, request.authorization(), now);
  using Outcome = DigestAuthenticator::Outcome;
  switch (verdict.outcome) {
    case Outcome::Accepted:
      return std::nullopt;
    case Outcome::Challenge:
      log(LogLevel::Debug, "sip", "{} from {}: challenged ({})", method, source.to_string(), verdict.reason);
      return Refusal{401, "Unauthorized", digest_->challenge(false, now)};
    case Outcome::Stale:
      return Refusal{401, "Unauthorized", digest_->challenge(true, now)};
    case Outcome::Refused:
      break;
  }
  log(LogLevel::Warning, "sip", "{} from {} refused with 403: digest user '{}': {}", method, source.to_string(),
      verdict.user, verdict.reason);
  return Refusal{403, "Forbidden", {}};
}

}  // namespace umstore::sip
