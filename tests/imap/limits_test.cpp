// Budgets that keep one client from exhausting the server, over real TCP.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "test_server.hpp"

using namespace umstore::imap;
using namespace umstore::imap::test;

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(connections_over_the_cap_per_address_hear_bye_unavailable_and_other_addresses_still_get_in) {
  ImapServerConfig config;
  config.max_connections_per_address = 3;
  TestServer server(config);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server.port()));
    BOOST_TEST(held.back()->greeting.starts_with("* OK"));
  }
  Client refused(server.port());
  BOOST_TEST(refused.greeting == "* BYE [UNAVAILABLE] too many connections, try again later");
  BOOST_TEST(refused.some().empty());  // and closed

  Client other(server.port(), "127.0.0.2");
  BOOST_TEST(other.greeting.starts_with("* OK"));
  other.login();
}

BOOST_AUTO_TEST_CASE(logins_beyond_the_password_pool_get_no_unavailable_instead_of_waiting) {
  ImapServerConfig config;
  config.password_pool = std::make_shared<umstore::auth::PasswordPool>(1, 0);
  TestServer server(config);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Client>(server.port()));
  // All at once: one Argon2id check runs, none waits, the rest are told to come back.
  for (auto& c : clients) c->send(std::string("L1 LOGIN ") + kUser + " \"" + kPassword + "\"\r\n");
  int accepted = 0, busy = 0;
  for (auto& c : clients) {
    const std::string reply = c->until_tagged("L1");
    BOOST_TEST((contains(reply, "L1 OK") || contains(reply, "L1 NO [UNAVAILABLE]")), reply);
    (contains(reply, "L1 OK") ? accepted : busy) += 1;
  }
  BOOST_TEST(accepted >= 1);
  BOOST_TEST(busy >= 1);
}

BOOST_AUTO_TEST_CASE(literals_over_the_shared_memory_budget_get_no_limit_until_it_is_given_back) {
  ImapServerConfig config;
  config.literal_budget = std::make_shared<umstore::net::MemoryBudget>(100 * 1024);
  TestServer server(config);
  Client first(server.port());
  first.login();
  Client second(server.port());
  second.login();
  const std::string message = text_message("big", std::string(70 * 1024, 'x') + "\n");
  const std::string append = "APPEND INBOX {" + std::to_string(message.size()) + "}\r\n";
  first.send("a1 " + append);
  BOOST_TEST(first.line().starts_with("+ "));  // the first literal holds most of the budget
  second.send("b1 " + append);
  const std::string refused = second.until_tagged("b1");
  BOOST_TEST(contains(refused, "b1 NO [LIMIT] "), refused);
  first.send(message + "\r\n");
  BOOST_TEST(contains(first.until_tagged("a1"), "a1 OK"));
  // Given back once the first APPEND is done.
  second.send("b2 " + append);
  BOOST_TEST(second.line().starts_with("+ "));
  second.send(message + "\r\n");
  BOOST_TEST(contains(second.until_tagged("b2"), "b2 OK"));
}

// Slowloris: budgets hold for a whole line and a whole login, not per read.
BOOST_AUTO_TEST_CASE(a_line_sent_a_byte_at_a_time_is_cut_off_at_the_line_budget) {
  ImapServerConfig config;
  config.line_timeout = std::chrono::seconds(1);
  TestServer server(config);
  Client c(server.port());
  const std::string line = "a1 NOOP" + std::string(40, ' ');  // 47 s at a byte a second; 10 s here
  bool open = true;
  for (std::size_t i = 0; i < line.size() && open; ++i) {
    open = c.try_send(line.substr(i, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  BOOST_TEST(!open);
}

BOOST_AUTO_TEST_CASE(a_client_that_never_logs_in_is_closed_at_the_login_budget) {
  ImapServerConfig config;
  config.login_timeout = std::chrono::seconds(2);
  TestServer server(config);
  Client c(server.port());
  // Complete commands, each well within the idle timeout, for 10 s.
  for (int i = 0; i < 20 && !c.closed(); ++i) {
    c.command("n" + std::to_string(i), "NOOP");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  BOOST_TEST(c.closed());
}

BOOST_AUTO_TEST_CASE(a_logged_in_client_is_not_held_to_the_login_budget) {
  ImapServerConfig config;
  config.login_timeout = std::chrono::seconds(1);
  TestServer server(config);
  Client c(server.port());
  c.login();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  BOOST_TEST(contains(c.command("n1", "NOOP"), "n1 OK"));
}

BOOST_AUTO_TEST_CASE(an_over_long_command_line_gets_a_tagged_bad_so_the_command_completes) {
  TestServer server;
  Client c(server.port());
  c.send("t1 NOOP " + std::string(70 * 1024, 'x') + "\r\n");
  const std::string reply = c.until_tagged("t1");
  BOOST_TEST(contains(reply, "t1 BAD [TOOBIG] "), reply);
  BOOST_TEST(contains(c.command("t2", "NOOP"), "t2 OK"));  // the session goes on
}

BOOST_AUTO_TEST_CASE(too_many_keywords_get_no_limit_not_serverbug) {
  TestServer server;
  server.mailbox()->open("INBOX")->append(text_message("keywords"));
  Client c(server.port());
  c.login();
  c.command("s1", "SELECT INBOX");
  std::string keywords;
  for (int i = 0; i < 65; ++i) keywords += (i ? " k" : "k") + std::to_string(i);
  const std::string reply = c.command("s2", "STORE 1 +FLAGS (" + keywords + ")");
  BOOST_TEST(contains(reply, "s2 NO [LIMIT] "), reply);
}

// RFC 4469 §5: a CATENATE message over the literal limit is refused with
// TOOBIG, though every part of it is within the limit; nothing is stored.
BOOST_AUTO_TEST_CASE(a_catenated_message_over_the_literal_limit_gets_no_toobig) {
  ImapServerConfig config;
  config.max_literal_bytes = 1000;
  TestServer server(config);
  server.mailbox()->open("INBOX")->append(text_message("source", std::string(600, 'x') + "\n"));
  Client c(server.port());
  c.login();
  const std::string fits = c.command("a1", "APPEND INBOX CATENATE (URL \"/INBOX/;UID=1/;SECTION=TEXT\")");
  BOOST_TEST(contains(fits, "a1 OK [APPENDUID "), fits);
  const std::string refused = c.command("a2", "APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\")");
  BOOST_TEST(contains(refused, "a2 NO [TOOBIG] "), refused);
  BOOST_TEST(server.mailbox()->open("INBOX")->snapshot().size() == 2u);
}

// A few bytes of URL can name megabytes of stored message: what CATENATE
// builds counts against the shared literal budget, so a MULTIAPPEND of
// many copies gets NO [LIMIT] instead of growing the server; nothing is stored.
BOOST_AUTO_TEST_CASE(catenated_copies_over_the_shared_memory_budget_get_no_limit) {
  ImapServerConfig config;
  config.literal_budget = std::make_shared<umstore::net::MemoryBudget>(100 * 1024);
  TestServer server(config);
  server.mailbox()->open("INBOX")->append(text_message("source", std::string(30 * 1024, 'x') + "\n"));
  Client c(server.port());
  c.login();
  const std::string one = c.command("a1", "APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\")");
  BOOST_TEST(contains(one, "a1 OK [APPENDUID "), one);
  std::string copies = "APPEND INBOX";
  for (int i = 0; i < 4; ++i) copies += " CATENATE (URL \"/INBOX/;UID=1\")";  // 4 x 30 KB > 100 KB
  const std::string refused = c.command("a2", copies);
  BOOST_TEST(contains(refused, "a2 NO [LIMIT] "), refused);
  BOOST_TEST(server.mailbox()->open("INBOX")->snapshot().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
