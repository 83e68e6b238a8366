#include "common/metrics_text.hpp"

#include <fmt/format.h>

namespace umstore {
namespace {
std::string_view type_name(MetricType type) { return type == MetricType::Counter ? "counter" : "gauge"; }
}  // namespace

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help,
                   std::uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type_name(type), value);
}

void append_metric(std::string& out, std::string_view name, MetricType type, std::string_view help, double value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type_name(type), value);
}

void append_histogram(std::string& out, std::string_view name, std::string_view help, std::span<const double> bounds,
                      std::span<const std::uint64_t> cumulative, std::uint64_t count, double sum) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i)
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], cumulative[i]);
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count, sum);
}

}  // namespace umstore
