#define BOOST_TEST_MODULE mime
#include <boost/test/unit_test.hpp>
