#pragma once
// The test side of tests/peers/dns_peer.py's run mode: the server's port and
// its control command (publish a zone, stop, start), from the environment.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>

#include "dns/resolver.hpp"

namespace umstore::dns {

// Boost.Test prints the values of failed comparisons.
inline std::ostream& operator<<(std::ostream& out, DnsStatus v) { return out << to_string(v); }

}  // namespace umstore::dns

namespace umstore::dns::test {

inline std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    throw std::runtime_error(std::string(name) + " is not set: run through tests/peers/dns_peer.py run -- ...");
  }
  return value;
}

inline DnsConfig peer_dns(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  return {"127.0.0.1", static_cast<std::uint16_t>(std::stoi(env("UMSTORE_TEST_DNS_PORT"))), timeout, {}};
}

// Runs the peer's control command with `input` on its stdin.
inline void control(const std::string& arguments, const std::string& input = "") {
  const std::string command = env("UMSTORE_TEST_DNS_CONTROL") + " " + arguments;
  FILE* pipe = ::popen(command.c_str(), "w");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::fwrite(input.data(), 1, input.size(), pipe);
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(command + " failed");
}

inline void publish(const std::string& zone, const std::string& text) { control("publish " + zone, text); }
inline void stop_dns() { control("stop"); }
inline void start_dns() { control("start"); }

}  // namespace umstore::dns::test
