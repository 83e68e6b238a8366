#pragma once
// The embedded store's accounts: SQLite (<data-dir>/accounts.db, WAL), so
// the admin CLI and a running server share them. A verified password is
// remembered as a keyed BLAKE2b digest, in memory only.
#include <filesystem>
#include <memory>
#include <mutex>

#include "mailstore/account_store.hpp"

namespace umstore::sqlite {
class Database;
}

namespace umstore::mailstore {
namespace detail {
class PasswordCheck;
}

class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(const std::filesystem::path& db_file);  // throws AccountError
  ~SqliteAccountStore() override;
  SqliteAccountStore(const SqliteAccountStore&) = delete;
  SqliteAccountStore& operator=(const SqliteAccountStore&) = delete;

  void add(const Account& account, std::string_view password) override;
  void update(const Account& account) override;
  void set_delivery(std::string_view number, const MailboxDelivery& delivery) override;
  std::optional<MailboxDelivery> delivery(std::string_view number) const override;
  void set_aging(std::string_view number, const MailboxAging& aging) override;
  std::optional<MailboxAging> aging(std::string_view number) const override;
  void remove(std::string_view number) override;
  void set_password(std::string_view number, std::string_view password) override;
  std::optional<Account> find(std::string_view number) const override;
  std::vector<Account> list() const override;
  bool verify_password(std::string_view number, std::string_view password) const override;
  std::optional<std::string> password_hash(std::string_view number) const override;
  void add_with_hash(const Account& account, std::string_view password_hash) override;

 private:
  std::unique_ptr<sqlite::Database> db_;  // behind a pointer: sqlite/ stays a private dependency
  mutable std::mutex mutex_;  // one statement at a time on the connection, also in const lookups
  std::unique_ptr<detail::PasswordCheck> passwords_;
};

}  // namespace umstore::mailstore
