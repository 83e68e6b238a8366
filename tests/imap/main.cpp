#define BOOST_TEST_MODULE imap
#include <boost/test/unit_test.hpp>
