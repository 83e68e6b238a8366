#include "faxout/send_policy.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <phonenumbers/phonenumberutil.h>

#include <ctime>

#include "common/durable_file.hpp"
#include "common/log.hpp"

namespace umstore::faxout {
namespace {

// The longest of `prefixes` that `number` starts with ("" for none).
std::string longest_match(const std::vector<std::string>& prefixes, std::string_view number) {
  std::string best;
  for (const auto& p : prefixes)
    if (number.starts_with(p) && p.size() > best.size()) best = p;
  return best;
}

// libphonenumber knows each country's premium-rate and shared-cost ranges.
std::optional<std::string> costly_kind(std::string_view number) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber parsed;
  if (util.Parse(std::string(number), "ZZ", &parsed) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  switch (util.GetNumberType(parsed)) {
    case PhoneNumberUtil::PREMIUM_RATE: return "a premium-rate number";
    case PhoneNumberUtil::SHARED_COST: return "a shared-cost number";
    default: return std::nullopt;
  }
}

std::string utc_day() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char day[16];
  std::strftime(day, sizeof day, "%F", &utc);
  return day;
}

}  // namespace

std::optional<std::string> destination_refusal(const SendPolicy& policy, std::string_view country_code,
                                               std::string_view number) {
  std::vector<std::string> allowed = policy.allowed_prefixes;
  const bool listed = !allowed.empty();
  if (!listed && !country_code.empty()) allowed.push_back("+" + std::string(country_code));
  const std::string allow = longest_match(allowed, number);
  const std::string refuse = longest_match(policy.refused_prefixes, number);
  if (!refuse.empty() && refuse.size() >= allow.size())
    return std::string(number) + " starts with " + refuse + ", which [fax_out] refused_prefixes refuses";
  if (allow.empty())
    return std::string(number) + " is outside the prefixes faxes may go to (" +
           (allowed.empty() ? std::string("none configured") : allowed.front() + (allowed.size() > 1 ? ", ..." : "")) +
           "; [fax_out] allowed_prefixes)";
  // A number the admin named by a prefix longer than any country code (+ and
  // up to 3 digits) is allowed whatever it costs.
  const bool named = listed && allow.size() > 4;
  if (!named)
    if (auto kind = costly_kind(number))
      return std::string(number) + " is " + *kind + "; list its prefix in [fax_out] allowed_prefixes to allow it";
  return std::nullopt;
}

FilePageBudget::FilePageBudget(std::filesystem::path file, unsigned pages_per_day)
    : file_(std::move(file)), pages_per_day_(pages_per_day) {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return;
  try {
    const auto saved = nlohmann::json::parse(read_file(file_));
    day_ = saved.at("day").get<std::string>();
    used_ = saved.at("used").get<std::map<std::string, unsigned>>();
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "fax", "page budget {} unreadable ({}): starting today's afresh", file_.string(), e.what());
  }
}

void FilePageBudget::roll_over() const {
  const auto today = utc_day();
  if (today == day_) return;
  day_ = today;
  used_.clear();
}

bool FilePageBudget::exhausted(const std::string& user) const {
  if (pages_per_day_ == 0) return false;
  std::lock_guard lock(mutex_);
  roll_over();
  const auto found = used_.find(user);
  return found != used_.end() && found->second >= pages_per_day_;
}

bool FilePageBudget::take(const std::string& user, unsigned pages, unsigned& left) {
  std::lock_guard lock(mutex_);
  roll_over();
  const unsigned used = used_.count(user) ? used_.at(user) : 0;
  left = pages_per_day_ == 0 ? pages : (used >= pages_per_day_ ? 0 : pages_per_day_ - used);
  if (pages_per_day_ != 0 && pages > left) return false;
  used_[user] = used + pages;
  save();
  return true;
}

void FilePageBudget::give_back(const std::string& user, unsigned pages) {
  std::lock_guard lock(mutex_);
  roll_over();
  const auto found = used_.find(user);
  if (found == used_.end()) return;
  found->second -= std::min(found->second, pages);
  save();
}

void FilePageBudget::save() const { replace_file_durably(file_, nlohmann::json{{"day", day_}, {"used", used_}}.dump()); }

}  // namespace umstore::faxout
