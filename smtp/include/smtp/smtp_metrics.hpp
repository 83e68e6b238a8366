#pragma once
// What the SMTP server and the queue runner count for /metrics: lock-free
// counters bumped by sessions and deliveries, written out by append().
#include <array>
#include <string>

#include "common/metrics_text.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/dsn.hpp"

namespace umstore::smtp {

// One counter per reply code 200..599.
class ReplyCodeCounters {
 public:
  void count(int code) noexcept {
    if (code >= kFirst && code < kFirst + static_cast<int>(counters_.size())) counters_[code - kFirst].add();
  }
  std::uint64_t value(int code) const noexcept { return counters_[code - kFirst].value(); }
  // One sample per code seen (label "code").
  void append_samples(std::string& out, std::string_view name) const;

 private:
  static constexpr int kFirst = 200;
  std::array<Counter, 400> counters_;
};

enum class DeliveryResult { Delivered, Relayed, Deferred, Failed };

struct SmtpMetrics {
  Counter sessions;              // connections served
  Gauge sessions_open;
  ReplyCodeCounters replies;     // every reply, by code
  ReplyCodeCounters messages;    // the final reply to DATA or BDAT LAST: accepted (2xx) or refused
  std::array<Counter, 4> deliveries;  // queue runner attempts per recipient, by DeliveryResult
  std::array<Counter, 4> dsns;        // DSN recipients reported, by DsnAction

  void count_delivery(DeliveryResult result) noexcept { deliveries[static_cast<std::size_t>(result)].add(); }
  void count_dsn(DsnAction action) noexcept { dsns[static_cast<std::size_t>(action)].add(); }
  // umstore_smtp_* lines, with the queue's depth and its oldest message's age.
  void append(std::string& out, const DeliveryQueue& queue) const;
};

}  // namespace umstore::smtp
