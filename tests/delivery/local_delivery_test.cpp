// The local-delivery service on a real Maildir store: what each recipient
// gets (stored, temporary failure, refusal), the trace headers added once,
// and a delivery repeated after an interruption finding the first copy.
#include <boost/test/unit_test.hpp>

#include "../mailstore/temp_dir.hpp"
#include "delivery/local_delivery.hpp"
#include "foreign_message.hpp"

namespace umstore::delivery {
namespace {

const std::string kBody = "From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n";

struct Store {
  TempDir dir;
  std::unique_ptr<mailstore::MailStore> store = mailstore::open_maildir_store(dir.path() / "mail");

  std::vector<std::string> messages(std::string_view number, std::string_view folder = "INBOX") {
    std::vector<std::string> out;
    auto opened = store->user(number)->open(folder);
    for (const auto& info : opened->snapshot()) out.emplace_back(opened->open_message(info.uid)->bytes());
    return out;
  }
};

const std::vector<LocalRecipient> kTwo = {{"+15550100@vm.example.net", "+15550100"},
                                          {"+15550101@vm.example.net", "+15550101"}};

DeliveryRequest smtp_request(std::span<const LocalRecipient> recipients, std::string_view message = kBody) {
  return {.key = "18A2B3C4D5E60001",
          .origin = MessageOrigin::Smtp,
          .sender = "a@example.org",
          .recipients = recipients,
          .message = message,
          .trace = {"client.example ([192.0.2.1])", "vm.example.net", "umstore", "ESMTP"}};
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(local_delivery)

BOOST_AUTO_TEST_CASE(every_recipient_gets_its_copy_with_the_trace_headers_once) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  const DeliveryResult result = delivery.deliver(smtp_request(kTwo));
  BOOST_TEST(result.all_stored());
  for (std::size_t i = 0; i < kTwo.size(); ++i) {
    const auto& stored = std::get<Stored>(result.recipients[i]);
    BOOST_TEST(stored.number == kTwo[i].number);
    BOOST_TEST(stored.folder == "INBOX");
    BOOST_TEST(stored.uid == 1u);
    BOOST_TEST(!stored.earlier);
    const auto inbox = s.messages(kTwo[i].number);
    BOOST_REQUIRE(inbox.size() == 1u);
    BOOST_TEST(inbox[0].starts_with("Return-Path: <a@example.org>\r\nReceived: from client.example ([192.0.2.1])\r\n"
                                    "\tby vm.example.net (umstore) with ESMTP id 18A2B3C4D5E60001\r\n\t; "));
    BOOST_TEST(inbox[0].ends_with("\r\n" + kBody));
    BOOST_TEST(count(inbox[0], "Return-Path:") == 1u);
    BOOST_TEST(count(inbox[0], "Received:") == 1u);
    BOOST_TEST(count(inbox[0], "X-Umstore-Ingest-Id") == 0u);
  }
}

BOOST_AUTO_TEST_CASE(one_recipient_is_named_in_received) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  BOOST_TEST(delivery.deliver(smtp_request(std::span(kTwo).first(1))).all_stored());
  BOOST_TEST(s.messages("+15550100")[0].find("\tfor <+15550100@vm.example.net>; ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(queued_mail_keeps_its_received_and_gains_only_return_path) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  const std::string queued = "Received: from earlier.example by vm.example.net id Q1; date\r\n" + kBody;
  DeliveryRequest request = smtp_request(std::span(kTwo).first(1), queued);
  request.trace = {};
  BOOST_TEST(delivery.deliver(request).all_stored());
  const auto stored = s.messages("+15550100")[0];
  BOOST_TEST(stored == "Return-Path: <a@example.org>\r\n" + queued);
}

BOOST_AUTO_TEST_CASE(a_composed_message_gets_the_null_sender_and_its_ingest_id) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  const LocalRecipient to{"+15550100@vm.example.net", "+15550100"};
  const DeliveryRequest request{.key = "job-7",
                                .origin = MessageOrigin::Ingest,
                                .recipients = std::span(&to, 1),
                                .message = kBody,
                                .trace = {"http:gw1", "vm.example.net", "umstore ingest", ""}};
  const DeliveryResult result = delivery.deliver(request);
  BOOST_REQUIRE(result.all_stored());
  const auto stored = s.messages("+15550100")[0];
  BOOST_TEST(stored.starts_with("Return-Path: <>\r\nReceived: from http:gw1\r\n"
                                "\tby vm.example.net (umstore ingest) id job-7\r\n"));
  BOOST_TEST(stored.find("\r\nX-Umstore-Ingest-Id: job-7\r\n") != std::string::npos);
  BOOST_TEST(count(stored, "Return-Path:") == 1u);
  BOOST_TEST(count(stored, "Received:") == 1u);
  BOOST_TEST(count(stored, "X-Umstore-Ingest-Id:") == 1u);
}

BOOST_AUTO_TEST_CASE(the_caller_hears_of_each_copy_before_it_is_stored) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  DeliveryRequest request = smtp_request(kTwo);
  std::vector<std::string> heard;
  request.on_storing = [&](std::string_view number, std::string_view folder) {
    heard.push_back(std::string(number) + " " + std::string(folder) + " " +
                    std::to_string(s.messages(number).size()));
  };
  BOOST_TEST(delivery.deliver(request).all_stored());
  BOOST_TEST(heard == (std::vector<std::string>{"+15550100 INBOX 0", "+15550101 INBOX 0"}));
}

BOOST_AUTO_TEST_CASE(a_full_mailbox_is_a_temporary_failure_for_all_and_stores_nothing) {
  Store s;
  s.store->user("+15550101")->set_quota_limit(100);
  const LocalDelivery delivery(*s.store, std::nullopt);
  const DeliveryResult result = delivery.deliver(smtp_request(kTwo));
  for (const auto& r : result.recipients) {
    const auto* failure = std::get_if<TemporaryFailure>(&r);
    BOOST_REQUIRE(failure);
    BOOST_TEST((failure->cause == TemporaryFailure::Cause::OverQuota));
    BOOST_TEST(failure->reason == "mailbox +15550101 is over its quota");
  }
  BOOST_TEST(s.messages("+15550100").empty());
  BOOST_TEST(s.messages("+15550101").empty());
}

BOOST_AUTO_TEST_CASE(a_full_mailbox_by_message_count_stores_nothing) {
  Store s;
  s.store->user("+15550101")->set_count_limits(1, 0);
  s.store->deliver("+15550101", kBody);
  const LocalDelivery delivery(*s.store, std::nullopt);
  const DeliveryResult result = delivery.deliver(smtp_request(kTwo));
  BOOST_TEST(!result.all_stored());
  BOOST_TEST((std::get<TemporaryFailure>(result.recipients[0]).cause == TemporaryFailure::Cause::OverQuota));
  BOOST_TEST(s.messages("+15550100").empty());
  BOOST_TEST(s.messages("+15550101").size() == 1u);
}

BOOST_AUTO_TEST_CASE(one_warning_per_threshold_crossed_and_again_only_after_dropping_below) {
  Store s;
  const std::string number = "+15550100";
  const std::vector<LocalRecipient> one = {{number + "@vm.example.net", number}};
  s.store->user(number)->set_count_limits(10, 0);
  const LocalDelivery delivery(*s.store, std::nullopt);
  const auto warnings = [&] {
    std::vector<std::string> subjects;
    for (const auto& m : s.messages(number))
      if (m.find("X-Umstore-Quota-Warning: ") != std::string::npos)
        subjects.push_back(m.substr(m.find("Subject: ") + 9, m.find("\r\n", m.find("Subject: ")) - m.find("Subject: ") - 9));
    return subjects;
  };
  for (int i = 0; i < 7; ++i) BOOST_TEST(delivery.deliver(smtp_request(one)).all_stored());
  BOOST_TEST(warnings().empty());
  BOOST_TEST(delivery.deliver(smtp_request(one)).all_stored());  // 8 of 10
  BOOST_TEST(warnings() == (std::vector<std::string>{"Your mailbox is 80% full (messages)"}));
  // The warning counts (9 of 10) and was never refused; the next delivery
  // reaches 10: 100%, past 95%.
  BOOST_TEST(delivery.deliver(smtp_request(one)).all_stored());
  BOOST_TEST(warnings().size() == 2u);
  BOOST_TEST(warnings().back() == "Your mailbox is 100% full (messages)");
  BOOST_TEST(s.store->user(number)->quota().messages == 11u);  // the warning itself was stored
  BOOST_TEST(!delivery.deliver(smtp_request(one)).all_stored());  // full now
  BOOST_TEST(warnings().size() == 2u);                            // no warning per refused delivery

  // Below 80% again, then past it: one more warning.
  const auto inbox = s.store->user(number)->open("INBOX");
  std::vector<std::uint32_t> uids;
  for (const auto& m : inbox->snapshot()) uids.push_back(m.uid);
  uids.resize(5);
  inbox->change_flags(uids, mailstore::FlagChange::Add, mailstore::kDeleted, {});
  inbox->expunge();
  BOOST_TEST(s.store->user(number)->quota().messages == 6u);
  BOOST_TEST(delivery.deliver(smtp_request(one)).all_stored());  // 7
  BOOST_TEST(delivery.deliver(smtp_request(one)).all_stored());  // 8: 80% again
  BOOST_TEST(warnings().size() == 3u);
  BOOST_TEST(warnings().back() == "Your mailbox is 80% full (messages)");
}

BOOST_AUTO_TEST_CASE(a_store_error_is_a_temporary_failure_naming_the_mailbox) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  const std::vector<LocalRecipient> bad = {{"x@vm.example.net", "not-a-number"}};
  const DeliveryResult result = delivery.deliver(smtp_request(bad));
  const auto* failure = std::get_if<TemporaryFailure>(&result.recipients.at(0));
  BOOST_REQUIRE(failure);
  BOOST_TEST((failure->cause == TemporaryFailure::Cause::LocalError));
  BOOST_TEST(failure->reason == "local error while storing the message for not-a-number");
}

BOOST_AUTO_TEST_CASE(a_refused_message_is_refused_for_all_and_stores_nothing) {
  Store s;
  DeliverySettings policy;
  policy.domain = "vm.example.net";
  const LocalDelivery delivery(*s.store, policy);
  const std::string private_vpim = "Sensitivity: Private\r\n" + read_message("vpim_no_duration.eml");
  const DeliveryResult result = delivery.deliver(smtp_request(kTwo, private_vpim));
  for (const auto& r : result.recipients) {
    const auto* refusal = std::get_if<SmtpRefusal>(&r);
    BOOST_REQUIRE(refusal);
    BOOST_TEST(refusal->reply_code == 554);
    BOOST_TEST(refusal->enhanced_status == "5.6.0");
    BOOST_TEST(!refusal->text.empty());
  }
  BOOST_TEST(s.messages("+15550100").empty());
  BOOST_TEST(s.messages("+15550101").empty());
}

BOOST_AUTO_TEST_CASE(a_drop_address_without_a_mailbox_in_the_subject_is_refused) {
  Store s;
  const LocalDelivery delivery(*s.store, DeliverySettings{});
  const std::vector<LocalRecipient> drop = {{"voicemail@vm.example.net", std::string(kMailboxFromSubject)}};
  const DeliveryResult result = delivery.deliver(smtp_request(drop));
  const auto* refusal = std::get_if<SmtpRefusal>(&result.recipients.at(0));
  BOOST_REQUIRE(refusal);
  BOOST_TEST(refusal->reply_code == 550);
  BOOST_TEST(refusal->enhanced_status == "5.1.1");
}

BOOST_AUTO_TEST_CASE(delivering_again_after_an_interruption_finds_the_first_copy) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  s.store->deliver("+15550100", "Subject: older\r\n\r\nid 18A2B3C4D5E60001 in a body is no trace\r\n");
  BOOST_REQUIRE(delivery.deliver(smtp_request(std::span(kTwo).first(1))).all_stored());
  // As if the process had died before recording it: the same key again, for both.
  DeliveryRequest again = smtp_request(kTwo);
  again.after_interruption = true;
  const DeliveryResult result = delivery.deliver(again);
  BOOST_REQUIRE(result.all_stored());
  const auto& first = std::get<Stored>(result.recipients[0]);
  BOOST_TEST(first.earlier);
  BOOST_TEST(first.uid == 2u);
  const auto& second = std::get<Stored>(result.recipients[1]);
  BOOST_TEST(!second.earlier);
  BOOST_TEST(second.uid == 1u);
  BOOST_TEST(s.messages("+15550100").size() == 2u);
  BOOST_TEST(s.messages("+15550101").size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_key_inside_another_word_is_not_taken_for_an_earlier_copy) {
  Store s;
  const LocalDelivery delivery(*s.store, std::nullopt);
  s.store->deliver("+15550100", "Message-ID: <X18A2B3C4D5E60001@x>\r\n\r\nbody\r\n");
  DeliveryRequest request = smtp_request(std::span(kTwo).first(1));
  request.after_interruption = true;
  const auto& stored = std::get<Stored>(delivery.deliver(request).recipients.at(0));
  BOOST_TEST(!stored.earlier);
  BOOST_TEST(s.messages("+15550100").size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace umstore::delivery
