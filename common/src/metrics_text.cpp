#include "common/metrics_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace umstore {
namespace {
std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

std::string with_le(std::string_view labels, std::string_view le) {
  return labels.empty() ? label("le", le) : std::string(labels) + "," + label("le", le);
}
}  // namespace

void append_metric_header(std::string& out, std::string_view name, MetricType type, std::string_view help) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type_name(type));
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  if (labels.empty())
    out += fmt::format("{} {}\n", name, value);
  else
    out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

std::string label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::uint64_t value) {
  append_metric_header(out, name, type, help);
  append_sample(out, name, "", value);
}

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help, double value) {
  append_metric_header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void append_histogram(std::string& out, std::string_view name, std::string_view help, std::span<const double> bounds,
                      std::span<const std::uint64_t> cumulative, std::uint64_t count, double sum) {
  append_metric_header(out, name, MetricType::Histogram, help);
  append_histogram_samples(out, name, "", bounds, cumulative, count, sum);
}

void append_histogram_samples(std::string& out, std::string_view name, std::string_view labels,
                              std::span<const double> bounds, std::span<const std::uint64_t> cumulative,
                              std::uint64_t count, double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i)
    append_sample(out, bucket, with_le(labels, fmt::format("{}", bounds[i])), cumulative[i]);
  append_sample(out, bucket, with_le(labels, "+Inf"), count);
  if (labels.empty())
    out += fmt::format("{}_sum {}\n", name, sum);
  else
    out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum);
  append_sample(out, std::string(name) + "_count", labels, count);
}

void LatencyHistogram::observe(double seconds) noexcept {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  if (i < kBounds.size()) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) s.cumulative[i] = running += buckets_[i].load(std::memory_order_relaxed);
  // The +Inf bucket must not be below the last bound's.
  s.count = std::max(count_.load(std::memory_order_relaxed), running);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

void LatencyHistogram::append_samples(std::string& out, std::string_view name, std::string_view labels) const {
  const Snapshot s = snapshot();
  append_histogram_samples(out, name, labels, kBounds, s.cumulative, s.count, s.sum);
}

}  // namespace umstore
