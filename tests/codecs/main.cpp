#define BOOST_TEST_MODULE codecs
#include <boost/test/unit_test.hpp>
