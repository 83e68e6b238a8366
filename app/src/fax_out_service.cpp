#include "fax_out_service.hpp"

namespace umstore::app {
namespace {

FaxOutSettings completed(const Settings& s) {
  FaxOutSettings f = *s.fax_out;
  f.outbox.addressing.domains = {s.domain};
  f.outbox.addressing.routing = s.routing;
  f.outbox.document.limits = s.fax_limits;
  f.dialler.hostname = s.domain;
  return f;
}

std::unique_ptr<faxout::FaxJobs> open_jobs(const Settings& s) {
  if (s.store_backend != mailstore::StoreBackend::postgresql) return std::make_unique<faxout::FileFaxJobs>(s.fax_queue());
  return faxout::open_postgresql_fax_jobs(s.store_dsn, s.node_id, std::chrono::seconds(s.lease_seconds), s.fax_queue());
}

std::unique_ptr<faxout::PageBudget> open_budget(const Settings& s, unsigned pages_per_day) {
  if (s.store_backend != mailstore::StoreBackend::postgresql)
    return std::make_unique<faxout::FilePageBudget>(s.fax_queue() / "page-budget.json", pages_per_day);
  return faxout::open_postgresql_page_budget(s.store_dsn, pages_per_day);
}

faxout::WebhookConfig webhook_config(const Settings& s) {
  faxout::WebhookConfig c;
  c.retry = {s.webhook_attempts, std::chrono::seconds(s.webhook_retry_base_seconds),
             std::chrono::seconds(s.webhook_retry_max_seconds)};
  c.post.ca_file = s.webhook_ca_file;
  return c;
}

}  // namespace

FaxOutService::FaxOutService(const Settings& s)
    : settings_(completed(s)),
      jobs_(open_jobs(s)),
      budget_(open_budget(s, settings_.outbox.policy.pages_per_day)),
      webhooks_(webhook_config(s), *jobs_),
      outbox_(std::make_shared<faxout::Outbox>(settings_.outbox, *jobs_, *budget_, [this] {
        if (dialler_) dialler_->wake();
      })) {}

FaxOutService::~FaxOutService() { stop(); }

void FaxOutService::start(sip::SipServer& sip, smtp::DeliveryQueue& queue, smtp::QueueRunner& runner,
                          std::shared_ptr<const dns::EnumLookup> enum_routes,
                          std::shared_ptr<dns::Resolver> resolver) {
  auto send_report = [&runner](const std::string& to, std::string_view message) {
    runner.queue_report(smtp::new_queue_id(), to, message);
  };
  auto place_call = [&sip](sip::OutboundFax fax, sip::FaxGateway gateway,
                           std::function<void(sip::FaxCallResult)> done) {
    sip.send_fax(std::move(fax), std::move(gateway), std::move(done));
  };
  auto config = settings_.dialler;
  config.resolver = std::move(resolver);
  if (enum_routes) {
    config.enum_routing.lookup = std::move(enum_routes);
    config.enum_routing.domain = config.hostname;
    config.enum_routing.relay = [&queue, &runner](const smtp::QueuedEnvelope& envelope, std::string_view message) {
      queue.enqueue(envelope, message);
      runner.wake();
    };
  }
  config.ended = [this] { webhooks_.wake(); };
  dialler_ = std::make_unique<faxout::FaxDialler>(config, *jobs_, send_report, place_call);
  webhooks_.start();
  dialler_->start();
}

void FaxOutService::stop() {
  if (dialler_) dialler_->stop();
  webhooks_.stop();
}

}  // namespace umstore::app
