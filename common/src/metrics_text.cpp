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

}  // namespace umstore
