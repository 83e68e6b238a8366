#pragma once
// The blocking client side of one SMTP connection, shared by submit() and
// the relay client: every call is bounded by the timeout (Asio's
// blocking_tcp_client pattern: async operations on a private io_context run
// for at most `timeout`).
#include <asio.hpp>
#include <asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ascii.hpp"
#include "dns/resolver.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::smtp::detail {

using asio::ip::tcp;

inline constexpr std::size_t kMaxReplyLine = 4096;
inline constexpr std::size_t kMaxReplyLines = 100;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1 " at the start of a reply line, in the reply's class (RFC 2034 §4).
inline std::size_t enhanced_code_length(std::string_view text, int code) {
  std::size_t i = 0;
  if (text.empty() || text[0] - '0' != code / 100) return 0;
  for (int part = 0; part < 3; ++part) {
    std::size_t digits = 0;
    while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
    if (digits == 0) return 0;
    if (part < 2) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

inline std::string describe(const SmtpReply& reply) {
  std::string out = std::to_string(reply.code);
  if (!reply.enhanced.empty()) out += " " + reply.enhanced;
  std::string text = reply.text;
  std::replace(text.begin(), text.end(), '\n', ' ');
  return out + " " + text;
}

// Lines starting with '.' get another one (RFC 5321 §4.5.2); bare LF
// becomes CRLF so the server sees proper line ends.
inline std::string dot_stuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (line_start && c == '.') out.push_back('.');
    if (c == '\n' && (i == 0 || data[i - 1] != '\r')) out.push_back('\r');
    out.push_back(c);
    line_start = c == '\n';
  }
  if (!out.empty() && !line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

inline void check_address(const std::string& address) {
  bool bad = address.size() > 256 || std::any_of(address.begin(), address.end(), [](char c) {
               return c == '<' || c == '>' || c == '\r' || c == '\n' || c == '\0';
             });
  if (bad) throw SmtpError("cannot submit to or from address '" + address + "': not a plain mailbox", {});
}

// The extensions a server's EHLO reply lists that the clients use.
struct ServerExtensions {
  bool dsn = false, size = false, eight_bit_mime = false, smtputf8 = false, pipelining = false, starttls = false;
};

inline ServerExtensions parse_ehlo(const SmtpReply& ehlo) {
  ServerExtensions out;
  std::string_view text = ehlo.text;
  bool first = true;
  while (!text.empty()) {
    auto nl = std::min(text.find('\n'), text.size());
    const std::string keyword = ascii_upper(text.substr(0, std::min(nl, text.find(' '))));
    text.remove_prefix(std::min(nl + 1, text.size()));
    if (std::exchange(first, false)) continue;  // the greeting line
    if (keyword == "DSN") out.dsn = true;
    else if (keyword == "SIZE") out.size = true;
    else if (keyword == "8BITMIME") out.eight_bit_mime = true;
    else if (keyword == "SMTPUTF8") out.smtputf8 = true;
    else if (keyword == "PIPELINING") out.pipelining = true;
    else if (keyword == "STARTTLS") out.starttls = true;
  }
  return out;
}

class ClientConnection {
 public:
  ClientConnection(const std::string& host, unsigned short port, std::chrono::seconds timeout)
      : ClientConnection({}, host, port, timeout) {}

  // To `host` at one of `addresses` (as a resolver of our own found them),
  // tried in order, or at the system resolver's addresses for it when there
  // are none; `host` is the name TLS verifies.
  ClientConnection(std::span<const std::string> addresses, const std::string& host, unsigned short port,
                   std::chrono::seconds timeout)
      : socket_(io_), timeout_(timeout) {
    std::vector<tcp::endpoint> endpoints;
    std::error_code ec;
    if (addresses.empty()) {
      tcp::resolver resolver(io_);
      for (const auto& entry : resolver.resolve(host, std::to_string(port), ec)) endpoints.push_back(entry.endpoint());
      if (ec) throw SmtpError("cannot resolve " + host + ": " + ec.message(), {});
    }
    for (const auto& a : addresses) {
      std::error_code bad;
      const auto address = asio::ip::make_address(a, bad);
      if (!bad) endpoints.emplace_back(address, port);
    }
    if (endpoints.empty()) throw SmtpError(host + " has no address", {});
    asio::async_connect(socket_, endpoints, [&](std::error_code e, const tcp::endpoint&) { ec = e; });
    run(ec);
    if (ec) throw SmtpError("cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message(), {});
  }

  // Everything the server sends until it closes, at most `limit` octets
  // (more is an error): an HTTP/1.0 response.
  std::string read_to_end(std::size_t limit) {
    std::string out = std::move(input_);
    input_.clear();
    std::error_code ec;
    on_stream([&](auto& stream) {
      asio::async_read(stream, asio::dynamic_buffer(out, limit + 1), [&](std::error_code e, std::size_t) { ec = e; });
    });
    run(ec);
    if (out.size() > limit) throw SmtpError("the answer is longer than " + std::to_string(limit) + " octets", {});
    // The peer closing is the end; a TLS peer that closes without close_notify too.
    if (ec && ec != asio::error::eof && ec != asio::ssl::error::stream_truncated)
      throw SmtpError("lost the connection: " + ec.message(), {});
    return out;
  }

  SmtpReply read_reply() {
    SmtpReply reply;
    for (std::size_t n = 0; n < kMaxReplyLines; ++n) {
      std::string line = read_line();
      if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
        throw SmtpError("SMTP server sent a malformed reply line: " + line.substr(0, 80), {});
      int code = std::stoi(line.substr(0, 3));
      if (n > 0 && code != reply.code) throw SmtpError("SMTP server mixed reply codes in one reply", {});
      reply.code = code;
      std::string_view text = line.size() > 4 ? std::string_view(line).substr(4) : std::string_view{};
      if (auto length = enhanced_code_length(text, code)) {
        if (reply.enhanced.empty()) reply.enhanced = std::string(text.substr(0, length));
        text.remove_prefix(std::min(length + 1, text.size()));
      }
      if (n > 0) reply.text += '\n';
      reply.text += text;
      if (line.size() == 3 || line[3] == ' ') return reply;
    }
    throw SmtpError("SMTP server sent a reply of more than " + std::to_string(kMaxReplyLines) + " lines", {});
  }

  void send(std::string_view data) {
    std::error_code ec;
    on_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(data), [&](std::error_code e, std::size_t) { ec = e; });
    });
    run(ec);
    if (ec) throw SmtpError("lost the connection to the SMTP server: " + ec.message(), {});
  }

  SmtpReply command(const std::string& line) {
    send(line + "\r\n");
    return read_reply();
  }

  // The TLS handshake after a 220 to STARTTLS (RFC 3207). Encryption only:
  // the certificate is not verified (Postfix's "may"/"encrypt" levels), as
  // MX certificates rarely match and there is no DANE here. Throws SmtpError.
  void start_tls(const std::string& server_name) {
    handshake(server_name, [](asio::ssl::context&, SSL*) {});
  }

  // As start_tls, and the certificate must chain to a CA in the system's
  // store or `ca_file` and name `server_name` (subjectAltName DNS or IP), as
  // Postfix's "verify" level. Throws SmtpError saying which check failed.
  void start_verified_tls(const std::string& server_name, const std::filesystem::path& ca_file) {
    handshake(server_name, [&](asio::ssl::context& context, SSL* ssl) {
      prepare_verification(context, ssl, server_name, ca_file);
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);  // the connection's own: it copied the context's at creation
    });
  }

  // As start_tls, and the certificate is checked as start_verified_tls
  // would, without failing the handshake (MTA-STS "testing", RFC 8461
  // §5.2). Returns why it would have failed, if it would.
  std::optional<std::string> start_audited_tls(const std::string& server_name, const std::filesystem::path& ca_file) {
    handshake(server_name, [&](asio::ssl::context& context, SSL* ssl) {
      prepare_verification(context, ssl, server_name, ca_file);
    });
    const long verified = SSL_get_verify_result(tls_->native_handle());
    if (verified == X509_V_OK) return std::nullopt;
    return std::string(X509_verify_cert_error_string(verified));
  }

  // As start_tls, and the certificate must match one of `tlsa` (RFC 7672
  // §3: DANE-EE(3) the server's own certificate or key, names not checked;
  // DANE-TA(2) a trust anchor of its chain, which must name `server_name`),
  // through OpenSSL's DANE support. Throws SmtpError saying what failed.
  void start_dane_tls(const std::string& server_name, const std::vector<dns::TlsaRecord>& tlsa) {
    handshake(server_name, [&](asio::ssl::context& context, SSL* ssl) {
      SSL_set_min_proto_version(ssl, TLS1_2_VERSION);
      if (SSL_CTX_dane_enable(context.native_handle()) <= 0 || SSL_dane_enable(ssl, server_name.c_str()) <= 0)
        throw SmtpError("cannot set up DANE for " + server_name, {});
      SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int usable = 0;
      for (const auto& r : tlsa) {
        const auto* data = reinterpret_cast<const unsigned char*>(r.data.data());
        if (SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.matching_type, data, r.data.size()) > 0) ++usable;
      }
      if (usable == 0) throw SmtpError("no TLSA record of " + server_name + " is usable", {});
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    });
  }

  bool encrypted() const noexcept { return tls_ != nullptr; }

 private:
  std::string read_line() {
    std::error_code ec;
    std::size_t length = 0;
    on_stream([&](auto& stream) {
      asio::async_read_until(stream, asio::dynamic_buffer(input_, kMaxReplyLine), "\n",
                             [&](std::error_code e, std::size_t n) {
                               ec = e;
                               length = n;
                             });
    });
    run(ec);
    if (ec) throw SmtpError("lost the connection to the SMTP server: " + ec.message(), {});
    std::string line = input_.substr(0, length);
    input_.erase(0, length);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
  }

  // The CAs (the system's and `ca_file`) and the name (DNS or IP address)
  // a certificate must have; failing them fails the handshake only with
  // SSL_VERIFY_PEER, else SSL_get_verify_result tells.
  static void prepare_verification(asio::ssl::context& context, SSL* ssl, const std::string& server_name,
                                   const std::filesystem::path& ca_file) {
    SSL_set_min_proto_version(ssl, TLS1_2_VERSION);
    context.set_default_verify_paths();
    if (!ca_file.empty()) {
      std::error_code ec;
      context.load_verify_file(ca_file.string(), ec);
      if (ec) throw SmtpError("cannot read the CA file " + ca_file.string() + ": " + ec.message(), {});
    }
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    std::error_code not_ip;
    asio::ip::make_address(server_name, not_ip);
    const int named = not_ip ? X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), server_name.size())
                             : X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str());
    if (named != 1) throw SmtpError("cannot verify a certificate for " + server_name, {});
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }

  // `prepare` sets up verification on the context and the connection.
  template <class Prepare>
  void handshake(const std::string& server_name, Prepare&& prepare) {
    input_.clear();  // RFC 3207 §4.2: nothing read before the handshake counts
    tls_context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_context_->set_verify_mode(asio::ssl::verify_none);
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
    std::error_code ec;
    asio::ip::make_address(server_name, ec);
    if (ec) SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());  // SNI only for names
    prepare(*tls_context_, tls_->native_handle());
    ec.clear();
    tls_->async_handshake(asio::ssl::stream_base::client, [&](std::error_code e) { ec = e; });
    run(ec);
    if (!ec) return;
    std::string why = ec.message();
    if (const long verified = SSL_get_verify_result(tls_->native_handle()); verified != X509_V_OK)
      why += " (" + std::string(X509_verify_cert_error_string(verified)) + ")";
    throw SmtpError("TLS handshake with " + server_name + " failed: " + why, {});
  }

  template <class Operation>
  void on_stream(Operation&& operation) {
    if (tls_) operation(*tls_);
    else operation(socket_);
  }

  void run(std::error_code& ec) {
    io_.restart();
    io_.run_for(timeout_);
    if (!io_.stopped()) {
      socket_.close();  // cancels the operation; its handler runs below
      io_.run();
      ec = asio::error::timed_out;
    }
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::chrono::seconds timeout_;
  std::string input_;
  // Declared after socket_: the stream refers to it and goes first.
  std::unique_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

}  // namespace umstore::smtp::detail
