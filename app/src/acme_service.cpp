#include "acme_service.hpp"

#include "common/log.hpp"
#include "net/listener.hpp"

namespace umstore::app {
namespace {

constexpr std::string_view kLog = "acme";
constexpr std::string_view kChallengePath = "/.well-known/acme-challenge/";

acme::AcmeConfig acme_config(const Settings& s) {
  acme::AcmeConfig config;
  config.directory_url = s.acme.directory;
  config.domains = s.acme.domains.empty() ? std::vector<std::string>{s.domain} : s.acme.domains;
  config.contact_email = s.acme.email;
  config.ca_file = s.acme.ca_file;
  config.dir = s.acme_dir();
  return config;
}

http::ServerConfig listener_config() {
  http::ServerConfig config;
  config.name = "acme-http";
  config.max_connections = 100;
  config.max_connections_per_address = 10;
  config.max_body_bytes = 0;  // GET only
  config.header_timeout = std::chrono::seconds(10);
  return config;
}

}  // namespace

std::optional<acme::CertificateFiles> acme_certificate(const Settings& s) {
  if (!s.acme.enabled) return std::nullopt;
  const auto files = acme::certificate_files(s.acme_dir());
  std::error_code ec;
  if (!std::filesystem::exists(files.cert, ec) || !std::filesystem::exists(files.key, ec)) return std::nullopt;
  return files;
}

AcmeService::AcmeService(asio::io_context& io, const Settings& s, std::function<void()> installed)
    : config_(acme_config(s)),
      renew_before_(std::chrono::hours(24) * s.acme.renew_before_days),
      installed_(std::move(installed)),
      listener_(io, net::parse_endpoint(s.acme.http_listen), listener_config(),
                [this](const http::Request& request) -> net::Task<http::Response> {
                  // RFC 8555 §8.3: the key authorization as it is, for the token's path.
                  const std::string_view path = request.path();
                  if (request.method == "GET" && path.starts_with(kChallengePath))
                    if (auto answer = answers_.find(path.substr(kChallengePath.size())))
                      co_return http::Response{200, "text/plain", *answer, {}, {}};
                  co_return http::json_error(404, "no such challenge");
                }) {}

AcmeService::~AcmeService() { stop(); }

void AcmeService::start() {
  listener_.start();
  const auto where = listener_.local_endpoint();
  log(LogLevel::Info, kLog, "answering http-01 challenges on {}:{}", where.address().to_string(), where.port());
  renewal_ = std::make_unique<PeriodicTask>(std::chrono::milliseconds(0), std::chrono::hours(1), [this] { renew_if_due(); });
}

void AcmeService::stop() {
  renewal_.reset();
  listener_.stop();
}

net::tcp::endpoint AcmeService::challenge_endpoint() const { return listener_.local_endpoint(); }

void AcmeService::renew_if_due() {
  const auto files = acme::certificate_files(config_.dir);
  const auto expiry = acme::certificate_expiry(files.cert);
  if (expiry && *expiry - std::chrono::system_clock::now() > renew_before_) return;
  try {
    log(LogLevel::Info, kLog, "{} certificate for {}: asking {}", expiry ? "renewing the" : "no", config_.domains.front(),
        config_.directory_url);
    acme::obtain_certificate(config_, answers_);
    installed_();
  } catch (const std::exception& e) {
    log(LogLevel::Warning, kLog, "cannot get a certificate for {}: {}; trying again in an hour", config_.domains.front(),
        e.what());
  }
}

}  // namespace umstore::app
