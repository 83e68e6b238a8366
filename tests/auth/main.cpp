#define BOOST_TEST_MODULE auth
#include <boost/test/unit_test.hpp>
