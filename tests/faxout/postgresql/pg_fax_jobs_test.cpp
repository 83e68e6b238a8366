// Two nodes' views of one fax queue in PostgreSQL: one job per
// Idempotency-Key whichever node takes the request, a webhook claimed by one
// node at a time and kept until sent, the queue as admins list it, and page
// budgets taken and given back.
#define BOOST_TEST_MODULE faxout_postgresql
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "faxout/fax_jobs.hpp"
#include "faxout/send_policy.hpp"

using namespace umstore;
using namespace umstore::faxout;
using namespace std::chrono_literals;

namespace {

std::string dsn() {
  const char* value = std::getenv("UMSTORE_TEST_PG_DSN");
  BOOST_REQUIRE_MESSAGE(value, "UMSTORE_TEST_PG_DSN is not set: run through tests/peers/postgres_peer.py");
  return value;
}

struct TwoNodes {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("faxout-pg-" + std::to_string(::getpid()));
  std::unique_ptr<FaxJobs> a = open_postgresql_fax_jobs(dsn(), "a", 30s, dir / "a");
  std::unique_ptr<FaxJobs> b = open_postgresql_fax_jobs(dsn(), "b", 30s, dir / "b");
  ~TwoNodes() { std::filesystem::remove_all(dir); }
};

FaxJob http_job(std::string key) {
  FaxJob job;
  job.id = smtp::new_queue_id();
  job.source = "http:app";
  job.idempotency_key = std::move(key);
  job.address = "FAX=+4930222";
  job.number = "+4930222";
  job.pages = 2;
  job.arrival = job.next_attempt = Clock::now();
  return job;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(faxout_postgresql, TwoNodes)

BOOST_AUTO_TEST_CASE(one_job_per_idempotency_key_whichever_node_takes_it) {
  const auto first = http_job("order-11");
  a->add(first, "TIFF", "");
  const auto second = http_job("order-11");
  BOOST_CHECK_THROW(b->add(second, "TIFF", ""), DuplicateRequest);
  BOOST_TEST(!a->find(second.id));
  BOOST_TEST(b->find_by_key("http:app", "order-11")->id == first.id);
  // Once the job ended, the key still names it.
  auto ended = first;
  ended.state = JobState::sent;
  a->archive(ended);
  BOOST_CHECK_THROW(b->add(http_job("order-11"), "TIFF", ""), DuplicateRequest);
  BOOST_TEST(to_string(b->find_by_key("http:app", "order-11")->state) == "sent");
  // Another key, or another gateway's same key, is another fax.
  b->add(http_job("order-12"), "TIFF", "");
  auto other_gateway = http_job("order-11");
  other_gateway.source = "http:other";
  b->add(other_gateway, "TIFF", "");
  const auto listed = a->list(10);
  BOOST_TEST(listed.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_webhook_is_sent_by_one_node_and_kept_until_done) {
  auto job = http_job("");
  job.callback_url = "http://127.0.0.1:9/fax";
  a->add(job, "TIFF", "");
  BOOST_TEST(!b->next_webhook(30s));
  job.state = JobState::failed;
  a->archive(job);
  const auto owed = b->next_webhook(30s);
  BOOST_REQUIRE(owed);
  BOOST_TEST(owed->id == job.id);
  BOOST_TEST(owed->url == "http://127.0.0.1:9/fax");
  BOOST_TEST(!a->next_webhook(30s));  // claimed by b meanwhile
  b->webhook_attempted(job.id, 1, Clock::now() - 1s);  // failed: due again (at once, here)
  const auto again = a->next_webhook(30s);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->attempts == 1u);
  a->webhook_attempted(job.id, 2, std::nullopt);  // sent
  b->webhook_attempted(job.id, 1, Clock::now() - 1s);  // a late word from b changes nothing
  BOOST_TEST(!b->next_webhook(30s));
}

BOOST_AUTO_TEST_CASE(page_budgets_are_shared_and_given_back) {
  const auto a_budget = open_postgresql_page_budget(dsn(), 10);
  const auto b_budget = open_postgresql_page_budget(dsn(), 10);
  unsigned left = 0;
  BOOST_TEST(a_budget->take("+4930111", 6, left));
  BOOST_TEST(!b_budget->take("+4930111", 5, left));
  BOOST_TEST(left == 4u);
  b_budget->give_back("+4930111", 6);
  BOOST_TEST(a_budget->take("+4930111", 10, left));
  BOOST_TEST(b_budget->exhausted("+4930111"));
}

BOOST_AUTO_TEST_SUITE_END()
