#define BOOST_TEST_MODULE mailauth
#include <boost/test/unit_test.hpp>
