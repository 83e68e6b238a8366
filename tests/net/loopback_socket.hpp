#pragma once
// A blocking TCP socket to a test server on 127.0.0.1, for tests' own
// clients. Reads give up after a few seconds, so a server that never
// answers fails the test instead of hanging it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace umstore::test {

// `from`: the local address to connect from (127.0.0.2 is another client
// as far as per-address limits go). Throws when it cannot connect.
inline int connect_loopback(unsigned short port, const char* from = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &source.sin_addr);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("cannot connect from ") + from + " to port " + std::to_string(port));
  }
  return fd;
}

}  // namespace umstore::test
