#pragma once
// Who may send faxes and where: a fax gateway open to anyone, or to any
// number, is what toll fraud looks for first. Only authenticated users (and
// trusted networks when allowed) send; destinations are allowed by prefix
// (the home country by default), premium-rate and shared-cost numbers are
// refused unless an admin lists them; each user has a page budget per day.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::faxout {

struct SendPolicy {
  bool trusted_networks_may_send = false;
  // E.164 prefixes ("+49", "+1202"); empty: "+" and the home country code.
  std::vector<std::string> allowed_prefixes;
  std::vector<std::string> refused_prefixes;  // win over an allowed prefix as long or shorter
  unsigned max_pages = 50;                    // per fax, cover page included
  unsigned pages_per_day = 200;               // per user, all faxes and recipients; 0: no budget
};

// Why `number` (E.164) may not be dialled, or nullopt. `country_code` is
// the home country's ("49"), for the default prefix.
std::optional<std::string> destination_refusal(const SendPolicy& policy, std::string_view country_code,
                                               std::string_view number);

// Pages sent per user and UTC day, kept so a restart does not hand out a
// fresh budget. Thread-safe.
class PageBudget {
 public:
  virtual ~PageBudget() = default;
  // Whether `user` has no pages left today.
  virtual bool exhausted(const std::string& user) const = 0;
  // Takes `pages` from today's budget, durably; false (and nothing taken)
  // when they do not fit. `left` is set to what was left before.
  virtual bool take(const std::string& user, unsigned pages, unsigned& left) = 0;
  // Pages taken for a fax that was not kept after all (today's, if still today).
  virtual void give_back(const std::string& user, unsigned pages) = 0;
};

// In a file (one node).
class FilePageBudget final : public PageBudget {
 public:
  FilePageBudget(std::filesystem::path file, unsigned pages_per_day);
  bool exhausted(const std::string& user) const override;
  bool take(const std::string& user, unsigned pages, unsigned& left) override;
  void give_back(const std::string& user, unsigned pages) override;

 private:
  void roll_over() const;
  void save() const;  // a new day starts empty

  std::filesystem::path file_;
  unsigned pages_per_day_;
  mutable std::mutex mutex_;
  mutable std::string day_;
  mutable std::map<std::string, unsigned> used_;
};

// In the PostgreSQL backend's database (table fax_page_budget), shared by
// the nodes; the day is the database's UTC day.
std::unique_ptr<PageBudget> open_postgresql_page_budget(const std::string& conninfo, unsigned pages_per_day);

}  // namespace umstore::faxout
