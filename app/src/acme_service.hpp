#pragma once
// The server's certificate from an ACME CA ([acme]): answers http-01
// challenges on their own listener, obtains a certificate at start when
// there is none, and renews it when it is about to expire (checked hourly),
// then has every listener present it (ReloadableTls). Failures are logged
// and tried again an hour later; the certificate in use stays meanwhile.
#include <asio/io_context.hpp>

#include <functional>
#include <memory>

#include "acme/acme_client.hpp"
#include "common/periodic_task.hpp"
#include "http/server.hpp"
#include "settings.hpp"

namespace umstore::app {

class AcmeService {
 public:
  // `installed` runs (on the renewal thread) after a new certificate is on disk.
  AcmeService(asio::io_context& io, const Settings& s, std::function<void()> installed);
  ~AcmeService();
  void start();
  void stop();
  net::tcp::endpoint challenge_endpoint() const;

 private:
  void renew_if_due();

  acme::AcmeConfig config_;
  std::chrono::hours renew_before_;
  std::function<void()> installed_;
  acme::ChallengeAnswers answers_;
  http::Server listener_;
  std::unique_ptr<PeriodicTask> renewal_;
};

// The certificate files of [acme] once it has obtained one, else nullopt.
std::optional<acme::CertificateFiles> acme_certificate(const Settings& s);

}  // namespace umstore::app
