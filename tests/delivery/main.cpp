#define BOOST_TEST_MODULE delivery
#include <boost/test/unit_test.hpp>
