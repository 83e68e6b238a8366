#pragma once
// The Prometheus text exposition format (version 0.0.4), written in this one
// place for every library's /metrics lines: names follow Prometheus
// conventions (umstore_<part>_<what>_<unit>, counters end in _total).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace umstore {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";

enum class MetricType { Counter, Gauge };

// "# HELP", "# TYPE" and the sample line of one unlabelled metric.
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::uint64_t value);
void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help, double value);

// A histogram: `cumulative[i]` observations were <= `bounds[i]` (ascending),
// `count` in all (the +Inf bucket), their values summing to `sum`.
void append_histogram(std::string& out, std::string_view name, std::string_view help, std::span<const double> bounds,
                      std::span<const std::uint64_t> cumulative, std::uint64_t count, double sum);

}  // namespace umstore
