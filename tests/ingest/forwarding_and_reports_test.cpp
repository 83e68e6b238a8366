#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <mutex>

#include "common/durable_file.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/mail_store.hpp"
#include "smtp/dsn.hpp"
#include "ingest_test_support.hpp"

using namespace umstore::ingest;
using namespace std::chrono_literals;

namespace {

std::string failure_dsn(const std::string& envid, const std::string& diagnostic) {
  umstore::smtp::DsnRecipient recipient;
  recipient.final_recipient = "carol@remote.example";
  recipient.action = umstore::smtp::DsnAction::Failed;
  recipient.status = "5.1.1";
  recipient.remote_mta = "mx.remote.example";
  recipient.diagnostic = diagnostic;
  recipient.last_attempt = std::chrono::system_clock::now();
  umstore::smtp::DsnReport report;
  report.reporting_mta = "vm.example.net";
  report.to = "ingest-dsn@vm.example.net";
  report.envid = envid;
  report.arrival = std::chrono::system_clock::now();
  report.recipients.push_back(recipient);
  report.original = "Subject: voice message\r\n\r\nbody\r\n";
  return umstore::smtp::compose_dsn(report);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(forwarding_and_reports)

BOOST_AUTO_TEST_CASE(a_dsn_gives_its_envelope_id_and_first_recipient_fields) {
  const auto parsed = parse_delivery_report(failure_dsn("0123abcd", "550 5.1.1 user unknown"));
  BOOST_REQUIRE(parsed);
  BOOST_TEST(parsed->first == "0123abcd");
  BOOST_TEST(parsed->second.action == "failed");
  BOOST_TEST(parsed->second.status == "5.1.1");
  BOOST_TEST(parsed->second.diagnostic_code.find("550 5.1.1 user unknown") != std::string::npos);
  BOOST_TEST(parsed->second.final_recipient.find("carol@remote.example") != std::string::npos);
  BOOST_TEST(!parse_delivery_report("Subject: hello\r\n\r\nno report here\r\n"));
}

BOOST_AUTO_TEST_CASE(a_forwarded_copy_carries_the_ingest_id_and_its_failure_dsn_fails_the_job) {
  TempDir dir;
  auto store = umstore::mailstore::open_maildir_store(dir.path() / "mail");
  IngestQueueConfig config = ingest_test::queue_config_in(dir);
  std::mutex m;
  std::vector<ForwardRequest> copies;
  config.forward_address = [](std::string_view number) {
    return number == "+15550100" ? std::string("carol@remote.example") : std::string();
  };
  config.forward = [&](const ForwardRequest& copy) {
    std::lock_guard lock(m);
    copies.push_back(copy);
  };
  IngestQueue queue(config, *store);
  queue.start();
  const auto forwarded = queue.submit(ingest_test::sample_voicemail("+15550100"), {});
  const auto kept = queue.submit(ingest_test::sample_voicemail("+15550101"), {});
  BOOST_REQUIRE(queue.wait_idle(60s));

  BOOST_REQUIRE_EQUAL(copies.size(), 1u);
  BOOST_TEST(copies[0].id == forwarded.id);
  BOOST_TEST(copies[0].to == "carol@remote.example");
  BOOST_TEST(copies[0].rfc822.find("X-Umstore-Ingest-Id: " + forwarded.id) != std::string::npos);
  BOOST_TEST(state_name(queue.status(forwarded.id)->state) == "delivered");
  BOOST_TEST(queue.status(forwarded.id)->forwarded_to == "carol@remote.example");
  BOOST_TEST(queue.status(kept.id)->forwarded_to.empty());

  BOOST_TEST(queue.apply_report(failure_dsn(forwarded.id, "550 5.1.1 <carol@remote.example>: user unknown")));
  const auto after = queue.status(forwarded.id);
  BOOST_TEST(state_name(after->state) == "failed");
  BOOST_TEST(after->dsn.action == "failed");
  BOOST_TEST(after->dsn.status == "5.1.1");
  BOOST_TEST(after->reason.find("user unknown") != std::string::npos);
  BOOST_TEST(after->uid != 0u);  // the mailbox copy stays

  BOOST_TEST(!queue.apply_report(failure_dsn("not-a-job", "550 5.1.1 nobody")));
  BOOST_TEST(state_name(queue.status(kept.id)->state) == "delivered");
}

BOOST_AUTO_TEST_SUITE_END()
