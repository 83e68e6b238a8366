#pragma once
// tests/dns's client of the private DNS server, plus printers for
// mailauth's values in failed Boost.Test comparisons.
#include <ostream>

#include "../dns/dns_peer_client.hpp"
#include "mailauth/dmarc.hpp"

namespace umstore::mailauth {

inline std::ostream& operator<<(std::ostream& out, AuthResult v) { return out << to_string(v); }
inline std::ostream& operator<<(std::ostream& out, DmarcPolicy v) { return out << to_string(v); }
inline std::ostream& operator<<(std::ostream& out, DkimAlgorithm v) { return out << to_string(v); }

}  // namespace umstore::mailauth

namespace umstore::mailauth::test {
using namespace umstore::dns::test;
}  // namespace umstore::mailauth::test
