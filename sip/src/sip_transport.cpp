#include "sip_transport.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <tuple>

#include "common/log.hpp"
#include "net/task.hpp"
#include "sip_message.hpp"

namespace umstore::sip {
namespace {

using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMaxDatagram = 65535;
constexpr auto kConnectTimeout = 5s;

udp::endpoint as_udp(const tcp::endpoint& ep) { return udp::endpoint(ep.address(), ep.port()); }
tcp::endpoint as_tcp(const udp::endpoint& ep) { return tcp::endpoint(ep.address(), ep.port()); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Calls `f(name, value)` for each header line (folded continuation lines are
// not joined: the headers we look at here are never folded by real peers).
template <typename F>
void for_each_header(std::string_view headers, F&& f) {
  bool first = true;
  while (!headers.empty()) {
    const auto eol = headers.find('\n');
    const auto line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 1);
    if (std::exchange(first, false)) continue;  // the request or status line
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || line.empty() || line.front() == ' ' || line.front() == '\t') continue;
    f(trim(line.substr(0, colon)), trim(line.substr(colon + 1)), line);
  }
}

}  // namespace

std::optional<std::size_t> content_length_of(std::string_view headers) {
  std::optional<std::size_t> found;
  bool bad = false;
  for_each_header(headers, [&](std::string_view name, std::string_view value, std::string_view) {
    if (!ascii_iequals(name, "content-length") && !ascii_iequals(name, "l")) return;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() || (found && *found != n))
      bad = true;
    found = n;
  });
  if (bad) return std::nullopt;
  return found;
}

std::string endpoint_text(const udp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::optional<udp::endpoint> stream_target_of(const SipMessage& request) {
  for (const auto& host_port : {request.contact_host_port(), request.via_sent_by()}) {
    if (!host_port) continue;
    std::string host = host_port->first;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) return udp::endpoint(address, host_port->second ? host_port->second : 5060);
  }
  return std::nullopt;
}

std::string response_from_headers(std::string_view headers, int code, std::string_view reason) {
  std::string out = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  for_each_header(headers, [&](std::string_view name, std::string_view, std::string_view line) {
    static constexpr std::string_view kCopied[] = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"};
    for (const auto copied : kCopied)
      if (ascii_iequals(name, copied)) {
        out += trim(line);
        out += "\r\n";
        return;
      }
  });
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

// One TCP connection, accepted or opened by us to reach a peer whose
// connection closed. Reads Content-Length framed messages; writes queue.
class StreamConnection : public std::enable_shared_from_this<StreamConnection> {
 public:
  // `connected` false: connect_then_read() connects first; writes wait for it.
  StreamConnection(std::shared_ptr<SipTransport::State> owner, tcp::socket socket, udp::endpoint remote,
                   bool connected, asio::ssl::context* tls = nullptr)
      : owner_(std::move(owner)),
        socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        remote_(remote),
        connected_(connected) {
    if (tls) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  void start_reading();
  // TLS: the client must present a certificate that `store` verifies.
  void require_client_certificate(X509_STORE* store, const STACK_OF(X509_NAME)* authorities);
  // TLS we open: the server's certificate must verify and carry `name`.
  void expect_server_name(const std::string& name);
  asio::awaitable<void> connect_then_read();
  void write(std::string text);
  void close();
  bool open() const { return (socket_.is_open() || !connected_) && !closed_ && !closing_; }
  const udp::endpoint& remote() const { return remote_; }

 private:
  asio::awaitable<void> handshake_then_read();
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> watch_idle();
  // Takes the complete messages off the front of `buffer_`; false: close.
  bool frame_messages();
  void touch() { last_activity_ = Clock::now(); }

  std::shared_ptr<SipTransport::State> owner_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // SIP over TLS, accepted or opened by us
  asio::steady_timer idle_;
  udp::endpoint remote_;
  std::string buffer_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool connected_;
  bool handshaken_ = false;  // TLS: the handshake ended, one way or the other
  bool closed_ = false;
  bool closing_ = false;  // the reader is done; close once the queue is written
  Clock::time_point last_activity_ = Clock::now();
};

struct SipTransport::State : std::enable_shared_from_this<SipTransport::State> {
  State(asio::strand<asio::io_context::executor_type> s, SipTransportConfig c)
      : strand(s), config(std::move(c)), udp_socket(s), acceptor(s), tls_acceptor(s) {}

  asio::strand<asio::io_context::executor_type> strand;
  SipTransportConfig config;
  udp::socket udp_socket;
  tcp::acceptor acceptor;
  tcp::acceptor tls_acceptor;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> client_store{nullptr, X509_STORE_free};
  std::unique_ptr<STACK_OF(X509_NAME), void (*)(STACK_OF(X509_NAME)*)> client_authorities{
      nullptr, [](STACK_OF(X509_NAME)* names) { sk_X509_NAME_pop_free(names, X509_NAME_free); }};
  Handler handler;
  std::set<std::shared_ptr<StreamConnection>> connections;
  // Connections we opened, by destination and (TLS) the name verified, so later requests reuse them.
  std::map<std::pair<udp::endpoint, std::string>, std::weak_ptr<StreamConnection>> outbound;
  std::unique_ptr<asio::ssl::context> client_tls;  // for the TLS connections we open
  bool stopped = false;

  void bind(const udp::endpoint& where);
  asio::awaitable<void> receive_datagrams();
  asio::awaitable<void> accept_connections(tcp::acceptor& from, asio::ssl::context* tls);
  void deliver(std::string_view message, const Peer& from) {
    try {
      if (handler) handler(message, from);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "{}: {}", endpoint_text(from.endpoint), e.what());
    }
  }
  void send_stream(std::string text, const Peer& to);
};

void StreamConnection::start_reading() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(),
                 [self] { return self->tls_ && !self->handshaken_ ? self->handshake_then_read() : self->read_loop(); },
                 asio::detached);
  asio::co_spawn(socket_.get_executor(), [self] { return self->watch_idle(); }, asio::detached);
}

void StreamConnection::require_client_certificate(X509_STORE* store, const STACK_OF(X509_NAME)* authorities) {
  SSL* ssl = tls_->native_handle();
  SSL_set1_verify_cert_store(ssl, store);
  SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_set_client_CA_list(ssl, SSL_dup_CA_list(authorities));  // the CAs a gateway may choose its certificate by
}

void StreamConnection::expect_server_name(const std::string& name) {
  SSL* ssl = tls_->native_handle();
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  std::error_code not_ip;
  asio::ip::make_address(name, not_ip);
  if (not_ip) {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  }
}

asio::awaitable<void> StreamConnection::handshake_then_read() {
  auto self = shared_from_this();
  // A handshake has kConnectTimeout, not tcp_idle_timeout: a client that
  // connects and stalls must not hold one of its connections for minutes.
  asio::steady_timer deadline(socket_.get_executor(), kConnectTimeout);
  deadline.async_wait([self](const std::error_code& ec) {
    if (!ec && !self->handshaken_) self->close();
  });
  const auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, net::use_nothrow);
  handshaken_ = true;
  deadline.cancel();
  if (ec || closed_) {
    std::string why = ec ? ec.message() : "closed";
    if (const long verified = SSL_get_verify_result(tls_->native_handle()); ec && verified != X509_V_OK)
      why += " (" + std::string(X509_verify_cert_error_string(verified)) + ")";
    log(LogLevel::Info, "sip", "tls handshake with {} failed: {}", endpoint_text(remote_), why);
    co_return close();
  }
  if (X509* peer = SSL_get0_peer_certificate(tls_->native_handle())) {
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
    log(LogLevel::Info, "sip", "tls {}: client certificate {}", endpoint_text(remote_), subject);
  }
  touch();
  co_await read_loop();
}

asio::awaitable<void> StreamConnection::connect_then_read() {
  auto self = shared_from_this();
  idle_.expires_after(kConnectTimeout);
  idle_.async_wait([self](const std::error_code& ec) {
    if (!ec && !self->connected_) self->close();
  });
  auto [ec] = co_await socket_.async_connect(as_tcp(remote_), net::use_nothrow);
  if (!ec && !closed_ && tls_) {
    // Nothing is written before the certificate verified (within kConnectTimeout too).
    std::tie(ec) = co_await tls_->async_handshake(asio::ssl::stream_base::client, net::use_nothrow);
    handshaken_ = true;
    if (const long verified = SSL_get_verify_result(tls_->native_handle()); ec && verified != X509_V_OK) {
      log(LogLevel::Warning, "sip", "tls connection to {} refused: {} ({})", endpoint_text(remote_), ec.message(),
          X509_verify_cert_error_string(verified));
      co_return close();
    }
  }
  connected_ = true;
  idle_.cancel();
  if (ec == asio::error::operation_aborted) co_return close();  // stopping
  if (ec || closed_) {
    log(LogLevel::Warning, "sip", "{} connection to {} failed: {}", tls_ ? "tls" : "tcp", endpoint_text(remote_),
        ec ? ec.message() : "timed out");
    co_return close();
  }
  touch();
  start_reading();
  if (!queue_.empty() && !writing_) {
    writing_ = true;
    asio::co_spawn(socket_.get_executor(), [self] { return self->write_loop(); }, asio::detached);
  }
}

bool StreamConnection::frame_messages() {
  const auto& config = owner_->config;
  for (;;) {
    // CRLF keep-alives (RFC 5626 4.4.1): a double CRLF ping gets a CRLF pong.
    while (buffer_.starts_with("\r\n")) {
      if (buffer_.starts_with("\r\n\r\n")) {
        buffer_.erase(0, 4);
        write("\r\n");
      } else if (buffer_.size() >= 3 && buffer_[2] != '\r') {
        buffer_.erase(0, 2);
      } else {
        return true;  // wait for more
      }
    }
    const auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buffer_.size() > config.max_header_bytes) {
        log(LogLevel::Warning, "sip", "tcp {}: no end of headers in {} bytes, closing", endpoint_text(remote_),
            buffer_.size());
        return false;
      }
      return true;
    }
    const std::string_view headers(buffer_.data(), end + 2);
    if (headers.size() > config.max_header_bytes) {
      if (headers.starts_with("SIP/") == false) write(response_from_headers(headers, 513, "Message Too Large"));
      return false;
    }
    const auto length = content_length_of(headers);
    if (!length) {
      // Over a stream the message boundary is unknown without it (RFC 3261 18.3).
      log(LogLevel::Warning, "sip", "tcp {}: message without a valid Content-Length, closing",
          endpoint_text(remote_));
      if (!headers.starts_with("SIP/")) write(response_from_headers(headers, 400, "Missing Content-Length"));
      return false;
    }
    if (*length > config.max_body_bytes) {
      log(LogLevel::Warning, "sip", "tcp {}: body of {} bytes refused, closing", endpoint_text(remote_), *length);
      if (!headers.starts_with("SIP/")) write(response_from_headers(headers, 413, "Request Entity Too Large"));
      return false;
    }
    const std::size_t total = end + 4 + *length;
    if (buffer_.size() < total) return true;
    const std::string message = buffer_.substr(0, total);
    buffer_.erase(0, total);
    Peer from(remote_);
    from.tcp = true;
    from.tls = tls_ != nullptr;
    from.stream = weak_from_this();
    owner_->deliver(message, from);
    if (closed_) return false;
  }
}

asio::awaitable<void> StreamConnection::read_loop() {
  auto self = shared_from_this();
  std::vector<char> chunk(8192);
  for (;;) {
    std::error_code ec;
    std::size_t n = 0;
    if (tls_)
      std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(chunk), net::use_nothrow);
    else
      std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(chunk), net::use_nothrow);
    if (ec || closed_) break;
    touch();
    buffer_.append(chunk.data(), n);
    if (!frame_messages()) break;
  }
  // Let queued answers (a 400 or 413) leave before closing.
  if (writing_ && !closed_) {
    closing_ = true;  // write_loop closes when its queue is empty
    co_return;
  }
  close();
}

asio::awaitable<void> StreamConnection::write_loop() {
  auto self = shared_from_this();
  bool failed = false;
  while (!queue_.empty() && socket_.is_open()) {
    const std::string text = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= text.size();
    std::error_code ec;
    if (tls_)
      std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(text), net::use_nothrow);
    else
      std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(text), net::use_nothrow);
    if (ec) {
      failed = true;
      break;
    }
    touch();
  }
  writing_ = false;
  if (failed || closing_) close();
}

asio::awaitable<void> StreamConnection::watch_idle() {
  auto self = shared_from_this();
  const auto timeout = owner_->config.tcp_idle_timeout;
  while (open()) {
    idle_.expires_at(last_activity_ + timeout);
    const auto [ec] = co_await idle_.async_wait(net::use_nothrow);
    if (!open()) co_return;
    if (!ec && Clock::now() - last_activity_ >= timeout) {
      log(LogLevel::Debug, "sip", "tcp {}: idle, closing", endpoint_text(remote_));
      co_return close();
    }
  }
}

void StreamConnection::write(std::string text) {
  // Until connect_then_read() has connected, the socket is not open yet but output queues.
  if (closed_ || closing_ || (connected_ && !socket_.is_open())) return;
  if (queued_bytes_ + text.size() > owner_->config.max_queued_bytes) {
    log(LogLevel::Warning, "sip", "tcp {}: peer not reading, closing", endpoint_text(remote_));
    return close();
  }
  queued_bytes_ += text.size();
  queue_.push_back(std::move(text));
  if (writing_ || !connected_) return;
  writing_ = true;
  asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
                 asio::detached);
}

void StreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  idle_.cancel();
  queue_.clear();
  queued_bytes_ = 0;
  owner_->connections.erase(shared_from_this());
}

void SipTransport::State::bind(const udp::endpoint& where) {
  // Port 0: the kernel's free UDP port may be taken for TCP; try a few.
  for (int attempt = 0;; ++attempt) {
    std::error_code ignored;
    udp_socket.close(ignored);
    udp_socket.open(where.protocol());
    udp_socket.bind(where);
    if (!config.tcp) return;
    const tcp::endpoint tcp_where(where.address(), udp_socket.local_endpoint().port());
    acceptor.close(ignored);
    acceptor.open(tcp_where.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    std::error_code ec;
    acceptor.bind(tcp_where, ec);
    if (!ec) {
      acceptor.listen(asio::socket_base::max_listen_connections);
      return;
    }
    if (where.port() != 0 || attempt >= 20) throw std::system_error(ec, "sip tcp " + endpoint_text(where));
  }
}

asio::awaitable<void> SipTransport::State::receive_datagrams() {
  auto self = shared_from_this();
  std::vector<char> buffer(kMaxDatagram);
  for (;;) {
    udp::endpoint from;
    const auto [ec, n] = co_await udp_socket.async_receive_from(asio::buffer(buffer), from, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !udp_socket.is_open()) co_return;
      continue;  // ICMP port unreachable and the like: keep serving
    }
    deliver(std::string_view(buffer.data(), n), Peer(from));
  }
}

asio::awaitable<void> SipTransport::State::accept_connections(tcp::acceptor& from, asio::ssl::context* tls) {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await from.async_accept(strand, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !from.is_open()) co_return;
      // Out of descriptors and the like: wait a little instead of spinning.
      asio::steady_timer pause(strand, 100ms);
      co_await pause.async_wait(net::use_nothrow);
      continue;
    }
    std::error_code remote_ec;
    const auto remote = socket.remote_endpoint(remote_ec);
    if (remote_ec) continue;
    const auto from_same_source = std::count_if(connections.begin(), connections.end(), [&](const auto& c) {
      return c->remote().address() == remote.address();
    });
    if (connections.size() >= config.max_tcp_connections ||
        static_cast<std::size_t>(from_same_source) >= config.max_tcp_connections_per_source) {
      log(LogLevel::Warning, "sip", "tcp connection from {} refused: {} connections open, {} from there",
          endpoint_text(as_udp(remote)), connections.size(), from_same_source);
      continue;  // the socket closes as it goes out of scope
    }
    auto connection =
        std::make_shared<StreamConnection>(shared_from_this(), std::move(socket), as_udp(remote), true, tls);
    if (tls && client_store) connection->require_client_certificate(client_store.get(), client_authorities.get());
    connections.insert(connection);
    connection->start_reading();
  }
}

void SipTransport::State::send_stream(std::string text, const Peer& to) {
  if (auto connection = to.stream.lock(); connection && connection->open()) return connection->write(std::move(text));
  if (to.tls && to.tls_name.empty()) {
    // A gateway's own TLS connection: we cannot tell which name to verify on a new one.
    log(LogLevel::Info, "sip", "tls connection to {} is gone: request not sent", endpoint_text(to.endpoint));
    return;
  }
  const udp::endpoint target = to.stream_target.value_or(to.endpoint);
  const auto key = std::pair(target, to.tls ? to.tls_name : std::string());
  if (const auto it = outbound.find(key); it != outbound.end()) {
    if (auto connection = it->second.lock(); connection && connection->open())
      return connection->write(std::move(text));
    outbound.erase(it);
  }
  if (stopped || connections.size() >= config.max_tcp_connections) return;
  if (outbound.size() > config.max_tcp_connections) std::erase_if(outbound, [](auto& e) { return e.second.expired(); });
  if (to.tls && !client_tls) {
    client_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(client_tls->native_handle(), TLS1_2_VERSION);
    client_tls->set_default_verify_paths();
    std::error_code ec;
    if (!config.tls_ca_file.empty()) client_tls->load_verify_file(config.tls_ca_file.string(), ec);
    if (ec) log(LogLevel::Warning, "sip", "[sip] tls_ca_file {}: {}", config.tls_ca_file.string(), ec.message());
    // OpenSSL calls it on a client once the server has asked for a certificate.
    if (config.client_certificate)
      SSL_CTX_set_cert_cb(
          client_tls->native_handle(),
          [](SSL* ssl, void* present) { return (*static_cast<std::function<bool(SSL*)>*>(present))(ssl) ? 1 : 0; },
          &config.client_certificate);
  }
  // A new connection: the dialog's is gone (RFC 3261 18.2.2), or we call over TLS.
  auto connection = std::make_shared<StreamConnection>(shared_from_this(), tcp::socket(strand), target, false,
                                                       to.tls ? client_tls.get() : nullptr);
  if (to.tls) connection->expect_server_name(to.tls_name);
  connections.insert(connection);
  outbound[key] = connection;
  connection->write(std::move(text));
  asio::co_spawn(strand, [connection] { return connection->connect_then_read(); }, asio::detached);
}

SipTransport::SipTransport(asio::strand<asio::io_context::executor_type> strand, SipTransportConfig config)
    : state_(std::make_shared<State>(strand, std::move(config))) {}

SipTransport::~SipTransport() = default;

void SipTransport::start(Handler handler) {
  state_->handler = std::move(handler);
  state_->bind(state_->config.listen);
  asio::co_spawn(state_->strand, [s = state_] { return s->receive_datagrams(); }, asio::detached);
  if (state_->config.tcp)
    asio::co_spawn(state_->strand, [s = state_] { return s->accept_connections(s->acceptor, nullptr); }, asio::detached);
  if (state_->config.tls_listen && state_->config.tls) {
    if (const auto& ca = state_->config.tls_client_ca; !ca.empty()) {
      state_->client_store.reset(X509_STORE_new());
      state_->client_authorities.reset(SSL_load_client_CA_file(ca.c_str()));
      if (!state_->client_store || X509_STORE_load_file(state_->client_store.get(), ca.c_str()) != 1 ||
          !state_->client_authorities)
        throw std::runtime_error("[sip] tls_client_ca: cannot read CA certificates from " + ca.string());
    }
    auto& acceptor = state_->tls_acceptor;
    acceptor.open(state_->config.tls_listen->protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(*state_->config.tls_listen);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(state_->strand, [s = state_] { return s->accept_connections(s->tls_acceptor, s->config.tls.get()); },
                   asio::detached);
  }
}

void SipTransport::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  std::error_code ignored;
  state_->udp_socket.close(ignored);
  state_->acceptor.close(ignored);
  state_->tls_acceptor.close(ignored);
  auto connections = state_->connections;
  for (auto& c : connections) c->close();
  state_->handler = nullptr;
}

void SipTransport::send(std::string text, const Peer& to) {
  if (to.tcp) return state_->send_stream(std::move(text), to);
  if (!state_->udp_socket.is_open()) return;
  auto buffer = std::make_shared<std::string>(std::move(text));
  state_->udp_socket.async_send_to(asio::buffer(*buffer), to.endpoint,
                                   [buffer](const std::error_code&, std::size_t) {});
}

udp::endpoint SipTransport::local_endpoint() const { return state_->udp_socket.local_endpoint(); }

std::optional<tcp::endpoint> SipTransport::tls_endpoint() const {
  if (!state_->tls_acceptor.is_open()) return std::nullopt;
  return state_->tls_acceptor.local_endpoint();
}

bool SipTransport::is_open() const { return state_->udp_socket.is_open(); }

std::size_t SipTransport::tcp_connections() const { return state_->connections.size(); }

}  // namespace umstore::sip
