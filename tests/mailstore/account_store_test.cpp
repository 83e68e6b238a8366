// What every account backend must do, written against AccountStore only.
// Built into test_mailstore (SQLite) and, with UMSTORE_CONTRACT_POSTGRESQL,
// into test_mailstore_postgresql (a private cluster), as contract_test.cpp is.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include "mailstore/sqlite_account_store.hpp"
#include "temp_dir.hpp"
#ifdef UMSTORE_CONTRACT_POSTGRESQL
#include "pg_account_store.hpp"
#include "pg_test_support.hpp"
#endif

#include <fstream>
#include <iterator>

using namespace umstore::mailstore;

namespace {

#ifdef UMSTORE_CONTRACT_POSTGRESQL
struct PostgresqlAccounts {
  static inline int instances = 0;
  umstore::mailstore::pg::FreshSchema schema{"accounts_" + std::to_string(++instances), true};
  // Another instance on the same database, as another node or the admin CLI would have.
  std::unique_ptr<AccountStore> open() const {
    return open_postgresql_accounts(umstore::mailstore::pg::dsn_in_schema(schema.name));
  }
};
using Backends = boost::mpl::list<PostgresqlAccounts>;
#else
struct SqliteAccounts {
  TempDir dir;
  std::unique_ptr<AccountStore> open() const { return std::make_unique<SqliteAccountStore>(dir.path() / "accounts.db"); }
};
using Backends = boost::mpl::list<SqliteAccounts>;
#endif

Account alice() { return Account{"+15550100", "Alice Example", "alice@example.com", 1'000'000}; }

bool message_contains(const AccountError& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(account_store)

BOOST_AUTO_TEST_CASE_TEMPLATE(add_find_list_and_verify, Backend, Backends) {
  Backend backend;
  auto opened = backend.open();
  AccountStore& store = *opened;
  store.add(alice(), "correct horse");
  store.add(Account{"+4930123456", "Bob", "", 0}, "battery staple");

  const auto found = store.find("+15550100");
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(found->name == "Alice Example");
  BOOST_TEST(found->email == "alice@example.com");
  BOOST_TEST(found->quota_bytes == 1'000'000u);
  BOOST_TEST(!store.find("+15550199").has_value());
  BOOST_TEST(!store.find("not a number").has_value());

  const auto all = store.list();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].number == "+15550100");
  BOOST_TEST(all[1].number == "+4930123456");

  BOOST_TEST(store.verify_password("+15550100", "correct horse"));
  BOOST_TEST(!store.verify_password("+15550100", "battery staple"));
  BOOST_TEST(!store.verify_password("+15550199", "correct horse"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(password_can_be_changed, Backend, Backends) {
  Backend backend;
  auto store = backend.open();
  store->add(alice(), "first-password");
  store->set_password("+15550100", "second-password");
  BOOST_TEST(!store->verify_password("+15550100", "first-password"));
  BOOST_TEST(store->verify_password("+15550100", "second-password"));
  BOOST_TEST(!store->verify_password("+15550100", std::string(2000, 'x')));
}

#ifndef UMSTORE_CONTRACT_POSTGRESQL
BOOST_AUTO_TEST_CASE(sqlite_file_never_holds_the_password) {
  TempDir dir;
  const auto db = dir.path() / "accounts.db";
  {
    SqliteAccountStore store(db);
    store.add(alice(), "first-password");
    store.set_password("+15550100", "second-password");
  }
  // The database file never holds the clear text.
  const std::string bytes = [&] {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      std::ifstream in(entry.path(), std::ios::binary);
      all += std::string(std::istreambuf_iterator<char>(in), {});
    }
    return all;
  }();
  BOOST_TEST(bytes.find("second-password") == std::string::npos);
  BOOST_TEST(bytes.find("$argon2id$") != std::string::npos);
}
#endif

BOOST_AUTO_TEST_CASE_TEMPLATE(update_and_remove, Backend, Backends) {
  Backend backend;
  auto opened = backend.open();
  AccountStore& store = *opened;
  store.add(alice(), "pw");
  Account changed = alice();
  changed.name = "Alice Renamed";
  changed.quota_bytes = 0;
  store.update(changed);
  BOOST_TEST(store.find("+15550100")->name == "Alice Renamed");
  BOOST_TEST(store.find("+15550100")->quota_bytes == 0u);
  BOOST_TEST(store.verify_password("+15550100", "pw"));  // update keeps the password
  store.remove("+15550100");
  BOOST_TEST(!store.find("+15550100").has_value());
  BOOST_TEST(store.list().empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(refuses_duplicates_unknown_and_bad_numbers, Backend, Backends) {
  Backend backend;
  auto opened = backend.open();
  AccountStore& store = *opened;
  store.add(alice(), "pw");
  BOOST_CHECK_EXCEPTION(store.add(alice(), "pw"), AccountError,
                        [](const AccountError& e) { return message_contains(e, "already exists"); });
  BOOST_CHECK_EXCEPTION(store.remove("+15550199"), AccountError,
                        [](const AccountError& e) { return message_contains(e, "no account for +15550199"); });
  BOOST_CHECK_EXCEPTION(store.update(Account{"+15550199", "x", "", 0}), AccountError,
                        [](const AccountError& e) { return message_contains(e, "no account"); });
  BOOST_CHECK_EXCEPTION(store.set_password("+15550199", "pw"), AccountError,
                        [](const AccountError& e) { return message_contains(e, "no account"); });
  for (const char* bad : {"15550100", "+0123", "+1", "+1234567890123456", "+1555 0100", ""}) {
    BOOST_CHECK_EXCEPTION(store.add(Account{bad, "x", "", 0}, "pw"), AccountError, [](const AccountError& e) {
      return message_contains(e, "is not an E.164 number: write it as + and 2 to 15 digits, e.g. +15550100");
    });
  }
  BOOST_CHECK_THROW(store.set_password("+15550100", ""), AccountError);
  BOOST_TEST(store.list().size() == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(two_instances_see_each_other, Backend, Backends) {
  Backend backend;
  auto server = backend.open();
  auto cli = backend.open();
  cli->add(alice(), "pw");
  BOOST_TEST(server->find("+15550100").has_value());
  BOOST_TEST(server->verify_password("+15550100", "pw"));
  Account changed = alice();
  changed.name = "Changed by server";
  server->update(changed);
  BOOST_TEST(cli->find("+15550100")->name == "Changed by server");
  MailboxDelivery delivery{PlayableAudio::mp3, true, true};
  cli->set_delivery("+15550100", delivery);
  BOOST_TEST((server->delivery("+15550100") == delivery));
  BOOST_TEST(!server->delivery("+15550199").has_value());
  BOOST_TEST((server->aging("+15550100") == MailboxAging{}));  // new accounts follow the configured default
  const MailboxAging aging{30, 0};
  cli->set_aging("+15550100", aging);
  BOOST_TEST((server->aging("+15550100") == aging));
  cli->set_aging("+15550100", MailboxAging{std::nullopt, 7});
  BOOST_TEST((server->aging("+15550100") == MailboxAging{std::nullopt, 7}));
  BOOST_TEST(!server->aging("+15550199").has_value());
  BOOST_CHECK_THROW(cli->set_aging("+15550199", aging), AccountError);
  cli->remove("+15550100");
  BOOST_TEST(!server->find("+15550100").has_value());
  BOOST_TEST(!server->verify_password("+15550100", "pw"));
}

BOOST_AUTO_TEST_SUITE_END()
