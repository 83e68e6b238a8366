#define BOOST_TEST_MODULE mailstore
#include <boost/test/unit_test.hpp>
