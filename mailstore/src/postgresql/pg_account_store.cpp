#include "pg_account_store.hpp"

#include "../account_rules.hpp"
#include "common/e164.hpp"
#include "pg_connection_pool.hpp"

namespace umstore::mailstore {
namespace pg {
namespace {

constexpr std::string_view kSelectAccount =
    "SELECT a.number, a.name, a.email, coalesce(m.quota_bytes, 0) FROM accounts a "
    "LEFT JOIN mailboxes m ON m.number = a.number";

Account account_at(const Result& r, int row) {
  return Account{r.text(row, 0), r.text(row, 1), r.text(row, 2), static_cast<std::uint64_t>(r.integer(row, 3))};
}

std::string_view sql_bool(bool b) { return b ? "true" : "false"; }

class PgAccountStore final : public AccountStore {
 public:
  PgAccountStore(const std::string& conninfo, std::size_t pool_size) : pool_(conninfo, pool_size) {}

  void add(const Account& account, std::string_view password) override {
    detail::validate(account);
    add_with_hash(account, detail::hash_password(password));
  }

  void add_with_hash(const Account& account, std::string_view password_hash) override {
    detail::validate(account);
    detail::require_argon2id_hash(password_hash);
    with_connection(pool_, [&](Connection& c) {
      Transaction t(c);
      const auto inserted = c.exec(
          "INSERT INTO accounts (number, name, email, password_hash) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (number) DO NOTHING",
          {Param::text(account.number), Param::text(account.name), Param::text(account.email),
           Param::text(password_hash)});
      if (inserted.affected() == 0) throw AccountError(detail::already_exists(account.number));
      set_quota(c, account);
      t.commit();
    });
  }

  void update(const Account& account) override {
    detail::validate(account);
    with_connection(pool_, [&](Connection& c) {
      Transaction t(c);
      const auto changed = c.exec("UPDATE accounts SET name = $2, email = $3 WHERE number = $1",
                                  {Param::text(account.number), Param::text(account.name), Param::text(account.email)});
      if (changed.affected() == 0) throw AccountError(detail::unknown_number(account.number));
      set_quota(c, account);
      t.commit();
    });
  }

  void set_delivery(std::string_view number, const MailboxDelivery& delivery) override {
    detail::require_e164(number);
    change_one(number, "UPDATE accounts SET playable = $2, fax_pdf = $3, file_by_kind = $4 WHERE number = $1",
               {Param::text(number), Param::text(to_string(delivery.playable)), Param::text(sql_bool(delivery.fax_pdf)),
                Param::text(sql_bool(delivery.file_by_kind))});
  }

  std::optional<MailboxDelivery> delivery(std::string_view number) const override {
    if (!umstore::is_e164(number)) return std::nullopt;
    return with_connection(pool_, [&](Connection& c) -> std::optional<MailboxDelivery> {
      const auto r =
          c.exec("SELECT playable, fax_pdf, file_by_kind FROM accounts WHERE number = $1", {Param::text(number)});
      if (r.rows() == 0) return std::nullopt;
      MailboxDelivery delivery;
      delivery.playable = parse_playable(r.view(0, 0)).value_or(PlayableAudio::wav);
      delivery.fax_pdf = r.boolean(0, 1);
      delivery.file_by_kind = r.boolean(0, 2);
      return delivery;
    });
  }

  void set_aging(std::string_view number, const MailboxAging& aging) override {
    detail::require_e164(number);
    // -1 for "the default": NULL in the table.
    auto days = [](std::optional<unsigned> d) { return IntParam(d ? static_cast<std::int64_t>(*d) : -1); };
    change_one(number, "UPDATE accounts SET age_days = NULLIF($2::integer, -1), trash_days = NULLIF($3::integer, -1) "
               "WHERE number = $1",
               {Param::text(number), days(aging.move_to_trash_days), days(aging.purge_trash_days)});
  }

  std::optional<MailboxAging> aging(std::string_view number) const override {
    if (!umstore::is_e164(number)) return std::nullopt;
    return with_connection(pool_, [&](Connection& c) -> std::optional<MailboxAging> {
      const auto r = c.exec("SELECT coalesce(age_days, -1), coalesce(trash_days, -1) FROM accounts WHERE number = $1",
                            {Param::text(number)});
      if (r.rows() == 0) return std::nullopt;
      auto days = [&](int column) {
        const auto d = r.integer(0, column);
        return d < 0 ? std::nullopt : std::optional<unsigned>(static_cast<unsigned>(d));
      };
      return MailboxAging{days(0), days(1)};
    });
  }

  // The account only: its messages stay until an administrator removes them.
  void remove(std::string_view number) override {
    detail::require_e164(number);
    change_one(number, "DELETE FROM accounts WHERE number = $1", {Param::text(number)});
  }

  void set_password(std::string_view number, std::string_view password) override {
    detail::require_e164(number);
    const std::string hash = detail::hash_password(password);
    change_one(number, "UPDATE accounts SET password_hash = $2 WHERE number = $1",
               {Param::text(number), Param::text(hash)});
  }

  std::optional<Account> find(std::string_view number) const override {
    if (!umstore::is_e164(number)) return std::nullopt;
    return with_connection(pool_, [&](Connection& c) -> std::optional<Account> {
      const auto r = c.exec(std::string(kSelectAccount) + " WHERE a.number = $1", {Param::text(number)});
      if (r.rows() == 0) return std::nullopt;
      return account_at(r, 0);
    });
  }

  std::vector<Account> list() const override {
    return with_connection(pool_, [&](Connection& c) {
      const auto r = c.exec(std::string(kSelectAccount) + " ORDER BY a.number");
      std::vector<Account> accounts;
      for (int row = 0; row < r.rows(); ++row) accounts.push_back(account_at(r, row));
      return accounts;
    });
  }

  bool verify_password(std::string_view number, std::string_view password) const override {
    std::string hash;
    if (password.size() <= detail::kMaxPasswordLength) hash = password_hash(number).value_or("");
    return passwords_.verify(number, hash, password);
  }

  std::optional<std::string> password_hash(std::string_view number) const override {
    if (!umstore::is_e164(number)) return std::nullopt;
    return with_connection(pool_, [&](Connection& c) -> std::optional<std::string> {
      const auto r = c.exec("SELECT password_hash FROM accounts WHERE number = $1", {Param::text(number)});
      if (r.rows() == 0) return std::nullopt;
      return r.text(0, 0);
    });
  }

 private:
  // The quota lives in the mailbox's row, which appends lock and check.
  static void set_quota(Connection& c, const Account& account) {
    c.exec("INSERT INTO mailboxes (number, quota_bytes) VALUES ($1, $2) "
           "ON CONFLICT (number) DO UPDATE SET quota_bytes = EXCLUDED.quota_bytes",
           {Param::text(account.number), IntParam(static_cast<std::int64_t>(account.quota_bytes))});
  }

  void change_one(std::string_view number, std::string_view sql, std::initializer_list<Param> params) {
    const auto changed = with_connection(pool_, [&](Connection& c) { return c.exec(sql, params).affected(); });
    if (changed == 0) throw AccountError(detail::unknown_number(number));
  }

  mutable ConnectionPool pool_;
  detail::PasswordCheck passwords_;
};

}  // namespace
}  // namespace pg

std::unique_ptr<AccountStore> open_postgresql_accounts(const std::string& conninfo, std::size_t pool_size) {
  return std::make_unique<pg::PgAccountStore>(conninfo, pool_size);
}

}  // namespace umstore::mailstore
