#pragma once
// [fax_out] in a running server: the outbox the SMTP servers hand faxes
// to (made before them), and its dialler and webhook sender once the SIP
// endpoint and the SMTP queue runner are up.
#include <memory>

#include "faxout/fax_dialler.hpp"
#include "faxout/fax_outbox.hpp"
#include "faxout/fax_webhooks.hpp"
#include "settings.hpp"
#include "sip/sip_server.hpp"
#include "smtp/queue_runner.hpp"

namespace umstore::app {

class FaxOutService {
 public:
  explicit FaxOutService(const Settings& s);
  ~FaxOutService();
  std::shared_ptr<faxout::Outbox> outbox() const { return outbox_; }
  faxout::FaxJobs& jobs() const { return *jobs_; }
  // `queue` and `runner`: the SMTP queue the reports (and Internet faxes for
  // numbers ENUM routes, when `enum_routes` is set) go to; `resolver` finds
  // the gateway's SRV records ([dns]).
  void start(sip::SipServer& sip, smtp::DeliveryQueue& queue, smtp::QueueRunner& runner,
             std::shared_ptr<const dns::EnumLookup> enum_routes, std::shared_ptr<dns::Resolver> resolver);
  void stop();

 private:
  FaxOutSettings settings_;
  // In the PostgreSQL backend's database with that backend (shared by the
  // nodes), else under the data directory.
  std::unique_ptr<faxout::FaxJobs> jobs_;
  std::unique_ptr<faxout::PageBudget> budget_;
  faxout::FaxWebhooks webhooks_;  // [ingest] webhook_* settings, like the gateway API's other webhooks
  std::unique_ptr<faxout::FaxDialler> dialler_;
  std::shared_ptr<faxout::Outbox> outbox_;
};

}  // namespace umstore::app
