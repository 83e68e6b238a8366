#include "http/client.hpp"
#include "http/post_json.hpp"

#include <Poco/Delegate.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/VerificationErrorArgs.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>

namespace umstore::http {

namespace {

// Poco's SSLException says only "certificate verify failed"; the reason
// OpenSSL gave (unknown issuer, host name mismatch, expired, ...) arrives
// through SSLManager's verification event on the thread doing the handshake.
thread_local std::string last_verification_error;

void record_verification_error(const void*, Poco::Net::VerificationErrorArgs& args) {
  // The error is left in force: the handshake fails.
  last_verification_error = args.errorMessage() + " (certificate " + args.certificate().subjectName() + ", depth " +
                            std::to_string(args.errorDepth()) + ")";
}

void initialize_tls_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Net::initializeSSL();
    Poco::Net::SSLManager::instance().ClientVerificationError += Poco::delegate(&record_verification_error);
  });
}

// A client context that trusts the system CAs (and ca_file) and lets only a
// certificate for `host` through. OpenSSL checks the name during the
// handshake (RFC 6125: subjectAltName DNS or IP entries); Poco's own
// after-handshake check is off because it skips loopback hosts and matches
// IP addresses by resolving DNS names.
Poco::Net::Context::Ptr client_context(const std::string& host, const std::filesystem::path& ca_file) {
  Poco::Net::Context::Params params;
  params.caLocation = ca_file.string();
  params.loadDefaultCAs = true;
  params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;  // SSL_VERIFY_PEER: a client still requires the chain
  params.cipherList = "DEFAULT";
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->enableExtendedCertificateVerification(false);
  X509_VERIFY_PARAM* const verify = SSL_CTX_get0_param(context->sslContext());
  X509_VERIFY_PARAM_set_hostflags(verify, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  Poco::Net::IPAddress address;
  const int named = Poco::Net::IPAddress::tryParse(host, address) ? X509_VERIFY_PARAM_set1_ip_asc(verify, host.c_str())
                                                                 : X509_VERIFY_PARAM_set1_host(verify, host.c_str(), host.size());
  if (named != 1) throw std::runtime_error("cannot check certificates for the host name '" + host + "'");
  return context;
}

std::unique_ptr<Poco::Net::HTTPClientSession> open_session(const Poco::URI& uri, const PostOptions& transport) {
  if (uri.getScheme() == "http") return std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  initialize_tls_once();
  return std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                         client_context(uri.getHost(), transport.ca_file));
}

std::string tls_failure(const std::string& host, const Poco::Exception& e) {
  if (!last_verification_error.empty()) return "TLS: certificate of " + host + " rejected: " + last_verification_error;
  return "TLS with " + host + " failed: " + e.displayText();
}

}  // namespace

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return value;
  return {};
}

ClientResponse send_request(const ClientRequest& request, const PostOptions& transport, std::size_t max_body_bytes) {
  std::string host;
  try {
    const Poco::URI uri{request.url};
    if (uri.getScheme() != "http" && uri.getScheme() != "https")
      throw std::runtime_error("only http:// and https:// URLs are supported: " + request.url);
    host = uri.getHost();
    last_verification_error.clear();
    const auto session = open_session(uri, transport);
    const auto ms = transport.timeout.count();
    session->setTimeout(Poco::Timespan(static_cast<long>(ms / 1000), static_cast<long>(ms % 1000) * 1000));
    Poco::Net::HTTPRequest out(request.method, uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                               Poco::Net::HTTPMessage::HTTP_1_1);
    if (!request.content_type.empty()) out.setContentType(request.content_type);
    if (!request.body.empty() || request.method == "POST")
      out.setContentLength(static_cast<std::streamsize>(request.body.size()));
    out.set("User-Agent", "umstore");
    for (const auto& [name, value] : request.headers) out.set(name, value);
    out.setKeepAlive(false);
    session->sendRequest(out).write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
    Poco::Net::HTTPResponse in;
    std::istream& body = session->receiveResponse(in);
    ClientResponse response;
    response.status = static_cast<int>(in.getStatus());
    response.reason = in.getReason();
    for (const auto& [name, value] : in) response.headers.emplace_back(name, value);
    char chunk[4096];
    while (body.read(chunk, sizeof chunk) || body.gcount() > 0) {
      const auto n = static_cast<std::size_t>(body.gcount());
      if (response.body.size() + n > max_body_bytes) {
        response.truncated = true;  // read no further: the connection is closed unread
        break;
      }
      response.body.append(chunk, n);
    }
    return response;
  } catch (const Poco::Net::SSLException& e) {
    throw std::runtime_error(tls_failure(host, e));
  } catch (const Poco::Exception& e) {
    throw std::runtime_error(last_verification_error.empty() ? e.displayText() : tls_failure(host, e));
  }
}

std::optional<std::string> post_json(std::string_view url, std::string_view body, const PostOptions& transport) {
  try {
    // The answer's body is not used: a little of it is read, so the connection closes cleanly.
    const auto response = send_request({"POST", std::string(url), "application/json", std::string(body), {}}, transport, 4096);
    if (response.status / 100 == 2) return std::nullopt;
    return "HTTP " + std::to_string(response.status) + " " + response.reason;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

std::chrono::milliseconds RetrySchedule::wait_after(unsigned failed_attempts) const {
  auto delay = first;
  for (unsigned i = 1; i < failed_attempts && delay < longest; ++i) delay *= 2;
  return std::min(delay, longest);
}

}  // namespace umstore::http
