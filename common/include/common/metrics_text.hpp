#pragma once
// The Prometheus text exposition format (version 0.0.4), written in this one
// place for every library's /metrics lines: names follow Prometheus
// conventions (umstore_<part>_<what>_<unit>, counters end in _total), and
// the cheap atomic counters and histograms each library counts with.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace umstore {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";

enum class MetricType { Counter, Gauge, Histogram };

// "# HELP", "# TYPE" and the sample line of one unlabelled metric.
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::uint64_t value);
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help, double value);

// A labelled family: the "# HELP" and "# TYPE" lines once, then one
// append_sample per label set. `labels` is what label() builds, joined by
// commas ("" for none).
void append_metric_header(std::string& out, std::string_view name, MetricType type, std::string_view help);
void append_sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value);
// name="value" with the value escaped as the format requires.
std::string label(std::string_view name, std::string_view value);

// A histogram: `cumulative[i]` observations were <= `bounds[i]` (ascending),
// `count` in all (the +Inf bucket), their values summing to `sum`.
void append_histogram(std::string& out, std::string_view name, std::string_view help, std::span<const double> bounds,
                      std::span<const std::uint64_t> cumulative, std::uint64_t count, double sum);
// The bucket, sum and count lines of one labelled histogram (after append_metric_header).
void append_histogram_samples(std::string& out, std::string_view name, std::string_view labels,
                              std::span<const double> bounds, std::span<const std::uint64_t> cumulative,
                              std::uint64_t count, double sum);

// A monotonic counter any thread bumps without a lock.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A gauge of things open now (connections, calls): up on open, down on close.
class Gauge {
 public:
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// One open thing counted in a Gauge for as long as this lives.
class GaugeHold {
 public:
  explicit GaugeHold(Gauge& gauge) noexcept : gauge_(gauge) { gauge_.add(1); }
  ~GaugeHold() { gauge_.add(-1); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;

 private:
  Gauge& gauge_;
};

// Durations in seconds, from half a millisecond (an fsync on a fast disk)
// to a minute (a large APPEND or SEARCH), counted without a lock: one
// atomic increment per observation plus the sum. A scrape may see a count
// one ahead of a bucket; Prometheus tolerates that.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,  10,   60};
  struct Snapshot {
    std::array<std::uint64_t, kBounds.size()> cumulative{};  // observations <= kBounds[i]
    std::uint64_t count = 0;                                 // all of them (the +Inf bucket)
    double sum = 0;
  };
  void observe(double seconds) noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  Snapshot snapshot() const noexcept;
  void append_samples(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size()> buckets_{};  // per bucket, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Observes the time from its construction to its destruction, however the
// scope ends.
class ScopedLatency {
 public:
  explicit ScopedLatency(LatencyHistogram& histogram) noexcept
      : histogram_(histogram), started_(std::chrono::steady_clock::now()) {}
  ~ScopedLatency() {
    histogram_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  }
  ScopedLatency(const ScopedLatency&) = delete;
  ScopedLatency& operator=(const ScopedLatency&) = delete;

 private:
  LatencyHistogram& histogram_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace umstore
