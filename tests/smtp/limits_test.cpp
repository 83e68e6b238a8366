// Budgets that keep one client from exhausting the server, over real TCP.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "test_server.hpp"

using namespace umstore;
using namespace umstore::smtp;
using namespace umstore::smtp::test;

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(connections_over_the_cap_per_address_hear_421_and_other_addresses_still_get_in) {
  TestServer server(false, [](SmtpServerConfig& config) { config.max_connections_per_address = 3; });
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server.port()));
    BOOST_TEST(held.back()->read_reply().starts_with("220 "));
  }
  RawClient refused(server.port());
  BOOST_TEST(refused.read_until_closed().starts_with("421 4.7.0 mx.example.net too many connections"));

  RawClient other(server.port(), "127.0.0.2");
  BOOST_TEST(other.read_reply().starts_with("220 "));

  // A place given back is a place for the same address again.
  BOOST_TEST(held.back()->command("QUIT").starts_with("221"));
  held.pop_back();
  std::string greeting;
  for (int attempt = 0; attempt < 100 && !greeting.starts_with("220 "); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    RawClient again(server.port());
    greeting = again.read_reply();
  }
  BOOST_TEST(greeting.starts_with("220 "));
}

namespace {
const std::string kWrongPassword = "AUTH PLAIN ACsxNTU1MDEwMAB3cm9uZw==";  // \0+15550100\0wrong
const std::string kRightPassword = "AUTH PLAIN ACsxNTU1MDEwMABzZWNyZXQ=";  // \0+15550100\0secret

void allow_auth_in_clear(SmtpServerConfig& config) {
  config.auth = true;
  config.auth_requires_tls = false;
}
}  // namespace

BOOST_AUTO_TEST_CASE(auth_failures_from_one_address_get_454_and_the_owner_still_gets_in_from_another) {
  auth::ThrottleLimits limits;
  limits.failure_delay = std::chrono::milliseconds(5);
  limits.max_failures_per_address = 2;
  TestServer server(false, [&](SmtpServerConfig& config) {
    allow_auth_in_clear(config);
    config.login_throttle = std::make_shared<auth::LoginThrottle>(limits);
  });
  RawClient guesser(server.port());
  BOOST_TEST(guesser.read_reply().starts_with("220 "));
  BOOST_TEST(guesser.command("EHLO client.example").starts_with("250"));
  BOOST_TEST(guesser.command(kWrongPassword).starts_with("535 5.7.8"));
  BOOST_TEST(guesser.command(kWrongPassword).starts_with("535 5.7.8"));
  // Refused before any check, even with the right password.
  BOOST_TEST(guesser.command(kRightPassword).starts_with("454 4.7.0 "));

  RawClient owner(server.port(), "127.0.0.2");
  BOOST_TEST(owner.read_reply().starts_with("220 "));
  BOOST_TEST(owner.command("EHLO client.example").starts_with("250"));
  BOOST_TEST(owner.command(kRightPassword).starts_with("235 2.7.0"));
}

BOOST_AUTO_TEST_CASE(auth_beyond_the_password_pool_gets_454_instead_of_waiting) {
  TestServer server(false, [](SmtpServerConfig& config) {
    allow_auth_in_clear(config);
    config.password_pool = std::make_shared<auth::PasswordPool>(1, 0);
  });
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<RawClient>(server.port()));
    BOOST_TEST(clients.back()->read_reply().starts_with("220 "));
    BOOST_TEST(clients.back()->command("EHLO client.example").starts_with("250"));
  }
  // All at once: one Argon2id check runs, none waits, the rest are told to come back.
  for (auto& client : clients) client->send(kRightPassword + "\r\n");
  int accepted = 0, busy = 0;
  for (auto& client : clients) {
    const std::string reply = client->read_reply();
    BOOST_TEST_INFO(reply);
    BOOST_TEST((reply.starts_with("235 2.7.0") || reply.starts_with("454 4.7.0 ")));
    (reply.starts_with("235") ? accepted : busy) += 1;
  }
  BOOST_TEST(accepted >= 1);
  BOOST_TEST(busy >= 1);
}

namespace {
// Sends `bytes` in pieces of `piece` octets every `interval`; false once
// the server has stopped taking them (closed the connection).
bool trickle(RawClient& client, std::string_view bytes, std::size_t piece, std::chrono::milliseconds interval) {
  try {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      client.send(bytes.substr(at, piece));
      std::this_thread::sleep_for(interval);
    }
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}
}  // namespace

// Slowloris: budgets hold for a whole line and a whole DATA, not per read.
BOOST_AUTO_TEST_CASE(a_command_line_sent_a_byte_at_a_time_is_cut_off_at_the_line_budget) {
  TestServer server(false, [](SmtpServerConfig& config) { config.line_timeout = std::chrono::seconds(1); });
  RawClient client(server.port());
  BOOST_TEST(client.read_reply().starts_with("220 "));
  BOOST_TEST(!trickle(client, "NOOP" + std::string(40, ' '), 1, std::chrono::milliseconds(200)));
}

BOOST_AUTO_TEST_CASE(data_sent_a_line_at_a_time_too_slowly_is_cut_off) {
  TestServer server(false, [](SmtpServerConfig& config) { config.line_timeout = std::chrono::seconds(1); });
  RawClient client(server.port());
  BOOST_TEST(client.read_reply().starts_with("220 "));
  BOOST_TEST(client.command("EHLO client.example").starts_with("250"));
  BOOST_TEST(client.command("MAIL FROM:<a@b.example>").starts_with("250"));
  BOOST_TEST(client.command("RCPT TO:<+15550100@vm.example.net>").starts_with("250"));
  BOOST_TEST(client.command("DATA").starts_with("354"));
  // Every line well within the line budget, the whole far below 4 KiB/s.
  std::string lines;
  for (int i = 0; i < 40; ++i) lines += "slow line\r\n";
  BOOST_TEST(!trickle(client, lines, 11, std::chrono::milliseconds(250)));
  BOOST_TEST(server.inbox().empty());
}

BOOST_AUTO_TEST_SUITE_END()
