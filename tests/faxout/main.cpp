#define BOOST_TEST_MODULE faxout
#include <boost/test/unit_test.hpp>
