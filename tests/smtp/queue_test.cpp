// The durable queue, the relay client, DSNs, AUTH, BDAT and trusted
// networks, over real TCP: a "front" server relays through a queue to a
// second server acting as the smarthost.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "mime/dsn_report.hpp"
#include "smtp/delivery_queue.hpp"
#include "smtp/dsn.hpp"
#include "smtp/queue_runner.hpp"
#include "smtp/smtp_client.hpp"
#include "test_server.hpp"

using namespace umstore;
using namespace umstore::smtp;
using namespace umstore::smtp::test;
using umstore::mime::DeliveryStatus;
using umstore::mime::parse_delivery_status;

namespace {

constexpr std::string_view kFrontDomain = "front.example.org";

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("umstore-queue-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

// A front server whose only local domain is front.example.org: everything
// for vm.example.net is relayed through its queue.
struct Relay {
  explicit Relay(const std::string& name, bool trusted = true, bool auth = false)
      : queue(fresh_dir(name)),
        front(false, [&](SmtpServerConfig& c) {
          c.hostname = "front.example.org";
          c.local_domains = {std::string(kFrontDomain)};
          c.queue = &queue;
          if (trusted) c.trusted_networks = {"127.0.0.0/8"};
          c.auth = auth;
          c.auth_requires_tls = false;
        }) {}
  ~Relay() { std::filesystem::remove_all(queue.directory()); }

  QueueRunnerConfig runner_config(unsigned short smarthost_port) const {
    QueueRunnerConfig c;
    c.hostname = "front.example.org";
    c.local_domains = {std::string(kFrontDomain)};
    c.smarthost = "127.0.0.1:" + std::to_string(smarthost_port);
    c.timeout = std::chrono::seconds(10);
    return c;
  }

  FileDeliveryQueue queue;
  TestServer front;
};

void send_raw(unsigned short port, const std::vector<std::string>& envelope, std::string_view body) {
  RawClient client(port);
  BOOST_TEST_REQUIRE(client.read_reply().starts_with("220"));
  BOOST_TEST_REQUIRE(client.command("EHLO client.example").starts_with("250"));
  for (const auto& line : envelope) BOOST_TEST_REQUIRE(client.command(line).starts_with("250"), line);
  BOOST_TEST_REQUIRE(client.command("DATA").starts_with("354"));
  client.send(std::string(body) + ".\r\n");
  BOOST_TEST_REQUIRE(client.read_reply().starts_with("250"));
  client.command("QUIT");
}

const std::string kSender = "+15550100@front.example.org";
const std::string kBody = "From: a@front.example.org\r\nSubject: relay test\r\n\r\nhello\r\n";

DeliveryStatus only_dsn(TestServer& server) {
  auto inbox = server.inbox();
  BOOST_TEST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(contains(inbox[0], "multipart/report; report-type=delivery-status"));
  BOOST_TEST(contains(inbox[0], "Return-Path: <>"));
  auto status = parse_delivery_status(inbox[0]);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST_REQUIRE(status->recipients.size() == 1u);
  return *status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(xtext_and_notify_round_trip) {
  BOOST_TEST(xtext_encode("FAX=+1613") == "FAX+3D+2B1613");
  BOOST_TEST(*xtext_decode("FAX+3D+2B1613") == "FAX=+1613");
  BOOST_TEST(!xtext_decode("bad+4").has_value());
  BOOST_TEST(!xtext_decode("a=b").has_value());
  BOOST_TEST(format_notify(*parse_notify("success,Delay")) == "SUCCESS,DELAY");
  BOOST_TEST(!parse_notify("NEVER,SUCCESS").has_value());
  BOOST_TEST(!parse_notify("SOMETIMES").has_value());
  BOOST_TEST(retry_delay(1, std::chrono::seconds(60), std::chrono::seconds(3600)).count() == 60);
  BOOST_TEST(retry_delay(4, std::chrono::seconds(60), std::chrono::seconds(3600)).count() == 480);
  BOOST_TEST(retry_delay(30, std::chrono::seconds(60), std::chrono::seconds(3600)).count() == 3600);
}

BOOST_AUTO_TEST_CASE(queue_survives_reopening_and_drops_orphans) {
  auto dir = fresh_dir("store");
  {
    FileDeliveryQueue queue(dir);
    QueuedEnvelope e;
    e.id = new_queue_id();
    e.sender = "a@example.org";
    e.envid = "ID+2B1";
    QueuedRecipient r;
    r.address = "b@example.com";
    r.orcpt = "rfc822;b@example.com";
    r.notify = *parse_notify("SUCCESS");
    e.recipients.push_back(r);
    queue.enqueue(e, "Subject: x\r\n\r\nbody\r\n");
  }
  { std::ofstream(dir / "ORPHAN1.eml") << "half-written"; }
  FileDeliveryQueue reopened(dir);
  reopened.remove_orphans();
  BOOST_TEST_REQUIRE(reopened.ids().size() == 1u);
  auto e = reopened.envelope(reopened.ids()[0]);
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->envid == "ID+2B1");
  BOOST_TEST(e->recipients[0].notify.wants_success());
  BOOST_TEST(reopened.message(e->id) == "Subject: x\r\n\r\nbody\r\n");
  BOOST_TEST(!std::filesystem::exists(dir / "ORPHAN1.eml"));
  BOOST_TEST(reopened.remove(e->id));
  BOOST_TEST(reopened.ids().empty());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(relays_to_the_smarthost_and_reports_relayed_with_dsn_fields) {
  TestServer next_hop;  // no queue: does not offer DSN, so we send "relayed"
  Relay relay("relayed");
  send_raw(relay.front.port(),
           {"MAIL FROM:<" + kSender + "> RET=HDRS ENVID=QQ+2B7", "RCPT TO:<+15550100@vm.example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;+2B15550100@vm.example.net"},
           kBody);
  BOOST_TEST(relay.queue.ids().size() == 1u);  // on disk before 250
  QueueRunner runner(relay.runner_config(next_hop.port()), relay.queue, relay.front.store(), relay.front.accounts());
  BOOST_TEST(runner.run_once() == 1u);
  auto delivered = next_hop.inbox();
  BOOST_TEST_REQUIRE(delivered.size() == 1u);
  BOOST_TEST(contains(delivered[0], "Subject: relay test"));
  BOOST_TEST(contains(delivered[0], "Return-Path: <" + kSender + ">"));
  BOOST_TEST(!contains(delivered[0].substr(20), "Return-Path:"));  // ours is not passed on
  // The relayed DSN is queued to the (local) sender and delivered on the next pass.
  BOOST_TEST(runner.run_once() == 1u);
  BOOST_TEST(relay.queue.ids().empty());
  auto dsn = only_dsn(relay.front);
  BOOST_TEST(dsn.message_fields["original-envelope-id"] == "QQ+7");
  BOOST_TEST(dsn.message_fields["reporting-mta"] == "dns;front.example.org");
  BOOST_TEST(dsn.recipients[0]["action"] == "relayed");
  BOOST_TEST(dsn.recipients[0]["status"] == "2.0.0");
  BOOST_TEST(dsn.recipients[0]["final-recipient"] == "rfc822;+15550100@vm.example.net");
  BOOST_TEST(dsn.recipients[0]["original-recipient"] == "rfc822;+2B15550100@vm.example.net");
  BOOST_TEST(dsn.recipients[0]["remote-mta"] == "dns;127.0.0.1");
}

BOOST_AUTO_TEST_CASE(permanent_refusal_gives_a_failed_dsn_with_the_diagnostic) {
  TestServer next_hop;
  Relay relay("failed");
  send_raw(relay.front.port(), {"MAIL FROM:<" + kSender + "> RET=FULL", "RCPT TO:<+15559999@vm.example.net>"}, kBody);
  QueueRunner runner(relay.runner_config(next_hop.port()), relay.queue, relay.front.store(), relay.front.accounts());
  runner.run_once();
  runner.run_once();
  BOOST_TEST(relay.queue.ids().empty());
  auto dsn = only_dsn(relay.front);
  BOOST_TEST(dsn.recipients[0]["action"] == "failed");
  BOOST_TEST(dsn.recipients[0]["status"] == "5.1.1");
  BOOST_TEST(contains(dsn.recipients[0]["diagnostic-code"], "smtp;550 5.1.1"));
  BOOST_TEST(!dsn.recipients[0].contains("original-recipient"));
  BOOST_TEST(contains(relay.front.inbox()[0], "Content-Type: message/rfc822"));  // RET=FULL
}

BOOST_AUTO_TEST_CASE(unreachable_next_hop_is_retried_then_delayed_then_failed) {
  Relay relay("delayed");
  unsigned short closed_port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  send_raw(relay.front.port(), {"MAIL FROM:<" + kSender + ">", "RCPT TO:<someone@elsewhere.example> NOTIFY=DELAY,FAILURE"}, kBody);
  auto config = relay.runner_config(closed_port);
  config.schedule.delay_warning = std::chrono::seconds(0);
  config.schedule.retry_base = std::chrono::seconds(0);
  {
    QueueRunner runner(config, relay.queue, relay.front.store(), relay.front.accounts());
    runner.run_once();  // fails, reports the delay, stays queued
    auto e = relay.queue.envelope(relay.queue.ids().front());
    BOOST_TEST_REQUIRE(e.has_value());
  }
  // Two entries now: the message and the delayed DSN; deliver the DSN.
  {
    QueueRunner runner(config, relay.queue, relay.front.store(), relay.front.accounts());
    runner.run_once();
  }
  auto delayed = only_dsn(relay.front);
  BOOST_TEST(delayed.recipients[0]["action"] == "delayed");
  BOOST_TEST(delayed.recipients[0]["status"] == "4.4.1");
  BOOST_TEST(delayed.recipients[0].contains("will-retry-until"));
  BOOST_TEST(relay.queue.ids().size() == 1u);
  auto e = relay.queue.envelope(relay.queue.ids().front());
  BOOST_TEST(e->recipients[0].attempts == 2u);
  BOOST_TEST(e->recipients[0].delay_reported);

  config.schedule.max_age = std::chrono::seconds(0);
  QueueRunner expiring(config, relay.queue, relay.front.store(), relay.front.accounts());
  expiring.run_once();
  expiring.run_once();
  BOOST_TEST(relay.queue.ids().empty());
  auto inbox = relay.front.inbox();
  BOOST_TEST_REQUIRE(inbox.size() == 2u);
  auto failed = parse_delivery_status(inbox[1]);
  BOOST_TEST(failed->recipients[0]["action"] == "failed");
  BOOST_TEST(failed->recipients[0]["status"] == "4.4.7");
}

BOOST_AUTO_TEST_CASE(local_delivery_with_notify_success_sends_a_delivered_dsn) {
  Relay relay("delivered");
  send_raw(relay.front.port(), {"MAIL FROM:<" + kSender + "> ENVID=local1", "RCPT TO:<+15550100@front.example.org> NOTIFY=SUCCESS"}, kBody);
  QueueRunner runner(relay.runner_config(1), relay.queue, relay.front.store(), relay.front.accounts());
  runner.run_once();
  runner.run_once();
  auto inbox = relay.front.inbox();
  BOOST_TEST_REQUIRE(inbox.size() == 2u);
  BOOST_TEST(contains(inbox[0], "Subject: relay test"));
  auto dsn = parse_delivery_status(inbox[1]);
  BOOST_TEST_REQUIRE(dsn.has_value());
  BOOST_TEST(dsn->recipients[0]["action"] == "delivered");
  BOOST_TEST(dsn->message_fields["original-envelope-id"] == "local1");
}

BOOST_AUTO_TEST_CASE(null_sender_failures_produce_no_dsn) {
  TestServer next_hop;
  Relay relay("nullsender");
  send_raw(relay.front.port(), {"MAIL FROM:<>", "RCPT TO:<+15559999@vm.example.net>"}, kBody);
  QueueRunner runner(relay.runner_config(next_hop.port()), relay.queue, relay.front.store(), relay.front.accounts());
  runner.run_once();
  runner.run_once();
  BOOST_TEST(relay.queue.ids().empty());
  BOOST_TEST(relay.front.inbox().empty());
}

BOOST_AUTO_TEST_CASE(strangers_may_not_relay_and_bad_dsn_parameters_are_refused) {
  Relay relay("stranger", false);
  RawClient client(relay.front.port());
  client.read_reply();
  BOOST_TEST(contains(client.command("EHLO client.example"), "DSN"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org> RET=MAYBE").starts_with("501 5.5.4"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org> RET=HDRS").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<b@elsewhere.example>").starts_with("554 5.7.1"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@front.example.org> NOTIFY=NEVER,SUCCESS").starts_with("501 5.5.4"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@front.example.org> ORCPT=nosemicolon").starts_with("501 5.5.4"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@front.example.org> NOTIFY=NEVER").starts_with("250"));
}

BOOST_AUTO_TEST_CASE(auth_plain_and_login_allow_relaying) {
  Relay relay("auth", false, true);
  RawClient client(relay.front.port());
  client.read_reply();
  BOOST_TEST(contains(client.command("EHLO client.example"), "AUTH PLAIN LOGIN"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org>").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<b@elsewhere.example>").starts_with("554 5.7.1"));
  BOOST_TEST(client.command("RSET").starts_with("250"));
  // "\0+15550100\0wrong" and "\0+15550100\0secret"
  BOOST_TEST(client.command("AUTH PLAIN ACsxNTU1MDEwMAB3cm9uZw==").starts_with("535 5.7.8"));
  BOOST_TEST(client.command("AUTH LOGIN").starts_with("334 VXNlcm5hbWU6"));
  BOOST_TEST(client.command("KzE1NTUwMTAw").starts_with("334 UGFzc3dvcmQ6"));
  BOOST_TEST(client.command("c2VjcmV0").starts_with("235 2.7.0"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org>").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<b@elsewhere.example>").starts_with("250"));
}

BOOST_AUTO_TEST_CASE(submission_requires_auth_and_swaks_authenticates_over_starttls) {
  FileDeliveryQueue queue(fresh_dir("submission"));
  TestServer submission(true, [&](SmtpServerConfig& c) {
    c.queue = &queue;
    c.auth = true;
    c.require_auth = true;
  });
  RawClient client(submission.port());
  client.read_reply();
  auto ehlo = client.command("EHLO client.example");
  BOOST_TEST(!contains(ehlo, "AUTH"));  // not before TLS
  BOOST_TEST(client.command("AUTH PLAIN ACsxNTU1MDEwMABzZWNyZXQ=").starts_with("538 5.7.11"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org>").starts_with("530 5.7.0"));

  auto result = run_process("POSIXLY_CORRECT=1 swaks --to someone@elsewhere.example --server 127.0.0.1 --port " +
                            std::to_string(submission.port()) +
                            " --from +15550100@vm.example.net --auth PLAIN --auth-user +15550100 --auth-password secret"
                            " --timeout 20 -tls");
  BOOST_TEST(result.status == 0, result.output);
  BOOST_TEST(contains(result.output, "235 2.7.0"));
  BOOST_TEST(queue.ids().size() == 1u);
  std::filesystem::remove_all(queue.directory());
}

BOOST_AUTO_TEST_CASE(bdat_chunks_are_delivered_and_data_after_bdat_is_refused) {
  TestServer server;
  RawClient client(server.port());
  client.read_reply();
  BOOST_TEST(contains(client.command("EHLO client.example"), "CHUNKING"));
  BOOST_TEST(client.command("MAIL FROM:<a@example.org>").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@vm.example.net>").starts_with("250"));
  client.send("BDAT 22\r\nSubject: chunked\r\n\r\nhe");
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0 22 octets"));
  BOOST_TEST(client.command("DATA").starts_with("503"));
  client.send("BDAT 8 LAST\r\nllo\r\n.\r\n");
  BOOST_TEST(client.read_reply().starts_with("250 2.0.0 OK"));
  auto inbox = server.inbox();
  BOOST_TEST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox[0].ends_with("Subject: chunked\r\n\r\nhello\r\n.\r\n"));
  // Without a transaction the chunk is read and refused, and the session goes on.
  client.send("BDAT 5 LAST\r\nabcde");
  BOOST_TEST(client.read_reply().starts_with("503"));
  BOOST_TEST(client.command("NOOP").starts_with("250"));
}

BOOST_AUTO_TEST_CASE(smtputf8_addresses_are_accepted) {
  TestServer server;
  RawClient client(server.port());
  client.read_reply();
  BOOST_TEST(contains(client.command("EHLO client.example"), "SMTPUTF8"));
  BOOST_TEST(client.command("MAIL FROM:<j\xC3\xBCrgen@b\xC3\xBC" "cher.example> SMTPUTF8").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@vm.example.net>").starts_with("250"));
}

BOOST_AUTO_TEST_CASE(a_delivery_interrupted_by_a_crash_is_not_repeated) {
  Relay relay("crash");
  send_raw(relay.front.port(), {"MAIL FROM:<>", "RCPT TO:<+15550100@front.example.org> NOTIFY=SUCCESS"}, kBody);
  auto ids = relay.queue.ids();
  BOOST_TEST_REQUIRE(ids.size() == 1u);
  // As if the runner had delivered and then died before recording it.
  auto envelope = *relay.queue.envelope(ids[0]);
  relay.front.store().deliver(std::string(kNumber), "Return-Path: <>\r\n" + relay.queue.message(ids[0]));
  envelope.recipients[0].delivering = true;
  relay.queue.update(envelope);
  QueueRunner runner(relay.runner_config(1), relay.queue, relay.front.store(), relay.front.accounts());
  runner.run_once();
  BOOST_TEST(relay.queue.ids().empty());
  BOOST_TEST(relay.front.inbox().size() == 1u);
}
