#define BOOST_TEST_MODULE dns
#include <boost/test/unit_test.hpp>
