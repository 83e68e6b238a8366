#pragma once
// SIP transports (RFC 3261 section 18): UDP and TCP on the same port number,
// TLS on a port of its own.
// TCP messages are framed by Content-Length with bounded header and body
// sizes; responses go back on the connection the request came in on, and
// requests we originate in a dialog that came over TCP go over TCP too
// (on the same connection while it lasts, else on a new one); a peer we
// call over TLS gets a connection of ours, its certificate verified for the
// name we dialled (RFC 5922). Everything
// runs on the SIP server's strand: no thread per connection.
#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace umstore::sip {

class StreamConnection;

// Where a SIP message came from, and so where its responses and the
// dialog's later requests go. For TCP, `endpoint` is the remote end of the
// connection (an address and port; the UDP type only carries them).
struct Peer {
  asio::ip::udp::endpoint endpoint;
  bool tcp = false;  // a stream: TCP, or TLS when `tls` is set too
  bool tls = false;
  std::weak_ptr<StreamConnection> stream;
  // Where to open a new TCP connection when `stream` is gone (the peer's
  // Contact, else its Via sent-by); unset: the connection's remote end.
  std::optional<asio::ip::udp::endpoint> stream_target;
  // TLS to a peer we call (a gateway): the name (or IP address) its
  // certificate must carry; a connection opened to it is verified for it.
  std::string tls_name;

  Peer() = default;
  Peer(asio::ip::udp::endpoint e) : endpoint(e) {}  // NOLINT: a UDP source is a peer
  operator const asio::ip::udp::endpoint&() const { return endpoint; }  // NOLINT
  asio::ip::address address() const { return endpoint.address(); }
  unsigned short port() const { return endpoint.port(); }
  // The Via transport token: "UDP", "TCP" or "TLS".
  std::string_view transport() const { return tls ? "TLS" : tcp ? "TCP" : "UDP"; }
};

// "address:port" (an IPv6 address without brackets).
std::string endpoint_text(const asio::ip::udp::endpoint& ep);

struct SipTransportConfig {
  asio::ip::udp::endpoint listen{asio::ip::make_address("127.0.0.1"), 5060};
  bool tcp = true;
  std::size_t max_tcp_connections = 1024;
  std::chrono::seconds tcp_idle_timeout{300};  // no bytes either way this long: closed
  std::size_t max_tcp_connections_per_source = 64;  // one address cannot take them all
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_queued_bytes = 1 << 20;  // unsent output per connection before it is dropped
  // SIP over TLS (RFC 3261 26.2, RFC 5630) on its own port: set both.
  // Requests in a dialog that came over TLS go back over its connection;
  // when it is gone they are not sent in the clear.
  std::optional<asio::ip::tcp::endpoint> tls_listen;
  std::shared_ptr<asio::ssl::context> tls;
  // Set: a TLS client (a gateway) must present a certificate that chains to
  // one of these CAs (PEM), or the handshake fails.
  std::filesystem::path tls_client_ca;
  // TLS connections we open (to a gateway we call) trust the system's CAs
  // and these (PEM), and the certificate must name the gateway.
  std::filesystem::path tls_ca_file;
  // On those connections, when the gateway asks for a certificate: puts
  // ours on the SSL (unset: none is sent).
  std::function<bool(SSL*)> client_certificate;
};

class SipTransport {
 public:
  // Called on the strand with one complete message (a datagram, or one
  // Content-Length framed message from a stream).
  using Handler = std::function<void(std::string_view message, const Peer& from)>;

  SipTransport(asio::strand<asio::io_context::executor_type> strand, SipTransportConfig config);
  ~SipTransport();
  SipTransport(const SipTransport&) = delete;
  SipTransport& operator=(const SipTransport&) = delete;

  // Binds UDP and (if enabled) TCP on the same port; port 0 picks one free for both.
  void start(Handler handler);
  void stop();
  void send(std::string text, const Peer& to);
  asio::ip::udp::endpoint local_endpoint() const;
  std::optional<asio::ip::tcp::endpoint> tls_endpoint() const;
  bool is_open() const;
  std::size_t tcp_connections() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

class SipMessage;

// Where to open a new TCP connection for requests in the dialog `request`
// starts: its Contact when that is an IP address, else its Via sent-by
// (port 5060 when absent); nullopt when neither is an IP address.
std::optional<asio::ip::udp::endpoint> stream_target_of(const SipMessage& request);

// Parses the Content-Length (or compact `l`) header out of a header block;
// nullopt when it is missing, repeated with different values, or not a number.
std::optional<std::size_t> content_length_of(std::string_view headers);

// A response built from a request's header block alone (for messages too big
// to parse): Via, From, To, Call-ID and CSeq lines copied.
std::string response_from_headers(std::string_view headers, int code, std::string_view reason);

}  // namespace umstore::sip
