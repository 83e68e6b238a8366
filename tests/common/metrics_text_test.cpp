#include <boost/test/unit_test.hpp>

#include "common/metrics_text.hpp"

using namespace umstore;

BOOST_AUTO_TEST_CASE(a_counter_has_help_type_and_sample) {
  std::string out;
  append_metric(out, "umstore_x_total", MetricType::Counter, "Things.", std::uint64_t{7});
  BOOST_TEST(out == "# HELP umstore_x_total Things.\n# TYPE umstore_x_total counter\numstore_x_total 7\n");
}

BOOST_AUTO_TEST_CASE(a_histogram_has_cumulative_buckets_inf_sum_and_count) {
  std::string out;
  const double bounds[] = {0.05, 1};
  const std::uint64_t cumulative[] = {2, 3};
  append_histogram(out, "umstore_y_seconds", "Time.", bounds, cumulative, 4, 2.5);
  BOOST_TEST(out ==
             "# HELP umstore_y_seconds Time.\n# TYPE umstore_y_seconds histogram\n"
             "umstore_y_seconds_bucket{le=\"0.05\"} 2\numstore_y_seconds_bucket{le=\"1\"} 3\n"
             "umstore_y_seconds_bucket{le=\"+Inf\"} 4\numstore_y_seconds_sum 2.5\numstore_y_seconds_count 4\n");
}
