#define BOOST_TEST_MODULE recognition
#include <boost/test/unit_test.hpp>
