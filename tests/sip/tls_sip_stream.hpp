#pragma once
// SIP over TLS (RFC 3261 §26) as a gateway's test terminal speaks it: one
// connection to 127.0.0.1, the server's certificate verified against a CA
// file and the address 127.0.0.1, messages framed by Content-Length.
// Blocking handshake, then non-blocking reads polled by the caller's loop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sip_transport.hpp"

namespace umstore::test {

class TlsSipStream {
 public:
  TlsSipStream(std::uint16_t port, const std::filesystem::path& ca_file)
      : context_(SSL_CTX_new(TLS_client_method())), fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    try {
      connect(port, ca_file);
    } catch (...) {
      release();  // no destructor runs for a constructor that throws
      throw;
    }
  }
  ~TlsSipStream() { release(); }
  TlsSipStream(const TlsSipStream&) = delete;
  TlsSipStream& operator=(const TlsSipStream&) = delete;

  void send(std::string_view message) {
    // Small messages on a socket that is rarely full: wait out WANT_WRITE.
    while (!message.empty()) {
      const int n = SSL_write(ssl_, message.data(), static_cast<int>(message.size()));
      if (n > 0) {
        message.remove_prefix(static_cast<std::size_t>(n));
      } else if (SSL_get_error(ssl_, n) != SSL_ERROR_WANT_WRITE && SSL_get_error(ssl_, n) != SSL_ERROR_WANT_READ) {
        return;  // the connection is gone; the call's timeouts tell
      }
    }
  }

  // One complete message, if one has arrived.
  std::optional<std::string> receive() {
    char chunk[4096];
    for (int n; (n = SSL_read(ssl_, chunk, sizeof chunk)) > 0;) buffer_.append(chunk, static_cast<std::size_t>(n));
    const auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    const std::size_t total = end + 4 + sip::content_length_of(std::string_view(buffer_).substr(0, end + 2)).value_or(0);
    if (buffer_.size() < total) return std::nullopt;
    std::string message = buffer_.substr(0, total);
    buffer_.erase(0, total);
    return message;
  }

 private:
  void connect(std::uint16_t port, const std::filesystem::path& ca_file) {
    if (!context_ || fd_ < 0) throw std::runtime_error("cannot set up TLS");
    SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(context_, ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error("cannot read CA file " + ca_file.string());
    SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      throw std::runtime_error("cannot connect to SIP over TLS on port " + std::to_string(port));
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    if (SSL_connect(ssl_) != 1) {
      char why[256];
      ERR_error_string_n(ERR_get_error(), why, sizeof why);
      throw std::runtime_error(std::string("TLS handshake failed: ") + why);
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }

  void release() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (context_) SSL_CTX_free(context_);
  }

  SSL_CTX* context_;
  int fd_;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

}  // namespace umstore::test
