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

BOOST_AUTO_TEST_CASE(labelled_samples_share_one_header_and_escape_values) {
  std::string out;
  append_metric_header(out, "umstore_z_total", MetricType::Counter, "Zs.");
  append_sample(out, "umstore_z_total", label("code", "250"), 3);
  append_sample(out, "umstore_z_total", label("name", "a\"b\\c\nd"), 1);
  BOOST_TEST(out ==
             "# HELP umstore_z_total Zs.\n# TYPE umstore_z_total counter\n"
             "umstore_z_total{code=\"250\"} 3\numstore_z_total{name=\"a\\\"b\\\\c\\nd\"} 1\n");
}

BOOST_AUTO_TEST_CASE(a_latency_histogram_counts_each_observation_in_its_bucket_and_above) {
  LatencyHistogram h;
  h.observe(0.0001);  // first bucket
  h.observe(0.003);   // le 0.005
  h.observe(100);     // only +Inf
  BOOST_TEST(h.count() == 3u);
  std::string out;
  h.append_samples(out, "umstore_t_seconds", label("command", "FETCH"));
  BOOST_TEST(out.find("umstore_t_seconds_bucket{command=\"FETCH\",le=\"0.0005\"} 1\n") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_bucket{command=\"FETCH\",le=\"0.0025\"} 1\n") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_bucket{command=\"FETCH\",le=\"0.005\"} 2\n") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_bucket{command=\"FETCH\",le=\"60\"} 2\n") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_bucket{command=\"FETCH\",le=\"+Inf\"} 3\n") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_sum{command=\"FETCH\"} 100.003") != std::string::npos);
  BOOST_TEST(out.find("umstore_t_seconds_count{command=\"FETCH\"} 3\n") != std::string::npos);
}
