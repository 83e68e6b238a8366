// The outbox at RCPT and at the end of DATA, the job directory, and the
// DSN a finished fax sends, read back as a mail client's DSN parser would.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "codecs/fax.hpp"
#include "faxout/fax_dialler.hpp"
#include "faxout/fax_outbox.hpp"
#include "mime/dsn_report.hpp"
#include "mime/message_parser.hpp"

using namespace umstore;
using namespace umstore::faxout;

namespace {

struct Fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("faxout-outbox-" + std::to_string(::getpid()));
  FileFaxJobs jobs{dir / "fax"};
  FilePageBudget budget{dir / "budget.json", 20};
  int woken = 0;
  Outbox outbox{config(), jobs, budget, [this] { ++woken; }};

  ~Fixture() { std::filesystem::remove_all(dir); }

  static OutboxConfig config() {
    OutboxConfig c;
    c.addressing.domains = {"example.net"};
    c.addressing.routing.country_code = "49";
    c.policy.max_pages = 5;
    return c;
  }
  static smtp::FaxSubmission submission(std::vector<std::string> numbers) {
    smtp::FaxSubmission s;
    s.id = "S1";
    s.sender = "+4930111@example.net";
    s.submitter.user = "+4930111";
    s.ret = "HDRS";
    for (auto& n : numbers) s.recipients.push_back({"FAX=" + n + "@example.net", n, "", "", {}});
    return s;
  }
};

std::string text_message(std::string_view body) {
  return "From: Alice <+4930111@example.net>\r\nTo: FAX=+4930222@example.net\r\nSubject: Order 42\r\n"
         "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
         std::string(body) + "\r\n";
}

std::string with_attachment(std::string_view type, std::string_view name, std::string_view bytes) {
  return "From: Alice <+4930111@example.net>\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
         "--b\r\nContent-Type: " + std::string(type) + "\r\nContent-Disposition: attachment; filename=" +
         std::string(name) + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + mime::base64_encode(bytes) + "--b--\r\n";
}

FaxJob new_job() {
  FaxJob job;
  job.id = smtp::new_queue_id();
  job.address = "FAX=+4930222@example.net";
  job.number = "+4930222";
  return job;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(outbox_and_jobs, Fixture)

BOOST_AUTO_TEST_CASE(rcpt_refuses_with_the_rule_that_refused) {
  const smtp::FaxSubmitter user{"+4930111", false}, stranger{"", false}, trusted{"", true};
  BOOST_TEST(!outbox.check_recipient("+4930222@example.net", user).is_fax);
  auto v = outbox.check_recipient("FAX=+4930222@example.net", user);
  BOOST_TEST((v.is_fax && !v.refused && v.number == "+4930222"));
  v = outbox.check_recipient("FAX=+4930222@example.net", stranger);
  BOOST_TEST((v.refused && v.reply.code == 550 && v.reply.enhanced == "5.7.1"));
  v = outbox.check_recipient("FAX=+4930222@example.net", trusted);  // trusted_networks_may_send is off
  BOOST_TEST(v.refused);
  v = outbox.check_recipient("FAX=not-a-number@example.net", user);
  BOOST_TEST((v.refused && v.reply.enhanced == "5.1.3"));
  v = outbox.check_recipient("FAX=+12025550123@example.net", user);  // abroad
  BOOST_TEST((v.refused && v.reply.enhanced == "5.7.1"));
}

BOOST_AUTO_TEST_CASE(a_text_becomes_a_job_with_its_pages_on_disk) {
  const auto reply = outbox.submit(submission({"+4930222", "+4930333"}), text_message("Please send 3 boxes."));
  BOOST_TEST(reply.code == 250, reply.text);
  BOOST_TEST(woken == 1);
  const auto all = jobs.take();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].number == "+4930222");
  BOOST_TEST(all[0].pages == 2u);  // the cover page and the text
  const auto tiff = read(jobs.pages(all[0].id));
  const auto doc = codecs::inspect_tiff({reinterpret_cast<const std::uint8_t*>(tiff.data()), tiff.size()}, "job");
  BOOST_TEST(doc.profile_s);
  BOOST_TEST(doc.pages.size() == 2u);
  unsigned left = 0;
  BOOST_TEST(!budget.take("+4930111", 17, left));  // 2 pages x 2 numbers taken
  BOOST_TEST(left == 16u);
}

BOOST_AUTO_TEST_CASE(what_cannot_be_faxed_is_refused_at_the_end_of_data) {
  auto reply = outbox.submit(submission({"+4930222"}), with_attachment("text/plain", "empty.txt", ""));
  BOOST_TEST(reply.code == 550);
  BOOST_TEST(reply.enhanced == "5.6.0", reply.text);
  reply = outbox.submit(submission({"+4930222"}),
                        with_attachment("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                        "letter.docx", "PK\x03\x04 not a fax"));
  BOOST_TEST(reply.enhanced == "5.6.1", reply.text);
  BOOST_TEST(reply.text.find("letter.docx") != std::string::npos);
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "line " + std::to_string(i) + "\r\n";
  reply = outbox.submit(submission({"+4930222"}), text_message(long_text));
  BOOST_TEST(reply.enhanced == "5.3.4", reply.text);  // more than max_pages
  BOOST_TEST(reply.code == 552);
  BOOST_TEST(reply.text.find("[fax_out] max_pages") != std::string::npos, reply.text);
  BOOST_TEST(jobs.take().empty());
}

BOOST_AUTO_TEST_CASE(an_attached_tiff_is_sent_behind_the_cover_page) {
  const std::string tiff = read(UMSTORE_SAMPLES "/fax.tif");
  const auto pages = codecs::inspect_tiff({reinterpret_cast<const std::uint8_t*>(tiff.data()), tiff.size()}, "fax.tif")
                         .pages.size();
  const auto reply = outbox.submit(submission({"+4930222"}), with_attachment("image/tiff", "fax.tif", tiff));
  BOOST_TEST(reply.code == 250, reply.text);
  BOOST_REQUIRE(jobs.take().size() == 1u);
  BOOST_TEST(jobs.take()[0].pages == pages + 1);
}

BOOST_AUTO_TEST_CASE(jobs_round_trip_and_orphans_go) {
  FaxJob job = new_job();
  job.sub_address = "12";
  job.notify = *smtp::parse_notify("SUCCESS,FAILURE");
  job.pages = 3;
  job.attempts = 2;
  job.last_call = CallReport{"busy", 486, "Busy Here", "", 0, "", std::chrono::milliseconds(0), false, Clock::now()};
  jobs.add(job, "TIFF", "MESSAGE");
  const auto back = jobs.find(job.id);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->sub_address == "12");
  BOOST_TEST(back->notify.success);
  BOOST_TEST(back->last_call->sip_status == 486);
  BOOST_TEST(jobs.message(job.id) == "MESSAGE");
  // A crash between the pages and the job leaves pages alone: they go at start.
  { std::ofstream(dir / "fax" / "0ABC.tif") << "x"; }
  jobs.remove_orphans();
  BOOST_TEST(!std::filesystem::exists(dir / "fax" / "0ABC.tif"));
  BOOST_TEST(std::filesystem::exists(jobs.pages(job.id)));
  jobs.remove(job.id);
  BOOST_TEST(jobs.take().empty());
}

BOOST_AUTO_TEST_CASE(an_ended_job_owes_its_webhook_until_it_is_sent_or_given_up) {
  FaxJob job = new_job();
  job.callback_url = "http://127.0.0.1:9/done";
  jobs.add(job, "TIFF", "MESSAGE");
  BOOST_TEST(!jobs.next_webhook(std::chrono::seconds(30)));  // nothing owed while the job runs
  job.state = JobState::sent;
  jobs.archive(job);
  auto owed = jobs.next_webhook(std::chrono::seconds(30));
  BOOST_REQUIRE(owed);
  BOOST_TEST(owed->id == job.id);
  BOOST_TEST(owed->url == "http://127.0.0.1:9/done");
  BOOST_TEST(owed->attempts == 0u);
  BOOST_TEST(jobs.find(job.id)->callback_url == job.callback_url);
  // A failed attempt: not due until its retry time, which a restart keeps.
  jobs.webhook_attempted(job.id, 1, Clock::now() + std::chrono::hours(1));
  BOOST_TEST(!jobs.next_webhook(std::chrono::seconds(30)));
  jobs.webhook_attempted(job.id, 1, Clock::now() - std::chrono::seconds(1));
  FileFaxJobs reopened{dir / "fax"};
  owed = reopened.next_webhook(std::chrono::seconds(30));
  BOOST_REQUIRE(owed);
  BOOST_TEST(owed->attempts == 1u);
  reopened.webhook_attempted(job.id, 2, std::nullopt);
  BOOST_TEST(!jobs.next_webhook(std::chrono::seconds(30)));
  // A job without a callback owes nothing.
  FaxJob quiet = job;
  quiet.id = smtp::new_queue_id();
  quiet.callback_url.clear();
  jobs.archive(quiet);
  BOOST_TEST(!jobs.next_webhook(std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(the_dsn_carries_the_fax_details) {
  FaxJob job;
  job.id = "0123";
  job.sender = "+4930111@example.net";
  job.address = "FAX=+4930222@example.net";
  job.orcpt = "rfc822;FAX=+4930222@example.net";
  job.number = "+4930222";
  job.pages = 3;
  job.attempts = 1;
  job.state = JobState::sent;
  job.last_call = CallReport{"sent", 200, "OK", "OK", 3, "+49 30 222", std::chrono::milliseconds(61'000), true, Clock::now()};
  const std::string sent = fax_dsn(job, text_message("hi"), "example.net", "<fax.0123@example.net>");
  auto status = mime::parse_delivery_status(sent);
  BOOST_REQUIRE(status);
  BOOST_REQUIRE(status->recipients.size() == 1u);
  auto& r = status->recipients[0];
  BOOST_TEST(r["action"] == "delivered");
  BOOST_TEST(r["status"] == "2.0.0");
  BOOST_TEST(r["x-fax-pages-sent"] == "3");
  BOOST_TEST(r["x-fax-remote-station"] == "+49 30 222");
  BOOST_TEST(r["x-fax-transport"] == "T.38");
  BOOST_TEST(r["diagnostic-code"] == "X-FAX;T.30: OK");
  BOOST_TEST(sent.find("Subject: Fax to +49 30 222 sent: 3 of 3 pages") != std::string::npos);

  job.state = JobState::failed;
  job.attempts = 4;
  job.last_call = CallReport{"busy", 486, "Busy Here", "", 0, "", std::chrono::milliseconds(0), false, Clock::now()};
  const std::string failed = fax_dsn(job, text_message("hi"), "example.net", "<fax.0124@example.net>");
  status = mime::parse_delivery_status(failed);
  BOOST_REQUIRE(status);
  auto& f = status->recipients.at(0);
  BOOST_TEST(f["action"] == "failed");
  BOOST_TEST(f["status"] == "4.4.7");
  BOOST_TEST(f["x-fax-attempts"] == "4");
  BOOST_TEST(f["diagnostic-code"].find("busy") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
