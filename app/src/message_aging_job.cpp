#include "message_aging_job.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

#include "admin/admin_store.hpp"
#include "common/log.hpp"
#include "common/parse_number.hpp"

namespace umstore::app {
namespace {

constexpr std::int64_t kDay = 24 * 3600;
// The first scheduled run waits for the listeners to settle.
constexpr std::chrono::seconds kFirstRunDelay{5};

std::int64_t aging_clock() {
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  if (const char* offset = std::getenv("UMSTORE_TEST_CLOCK_OFFSET_DAYS"))
    now += parse_number<std::int64_t>(offset).value_or(0) * kDay;
  return now;
}

struct Counts {
  std::size_t moved = 0;
  std::size_t purged = 0;
};

std::string describe(const Counts& c) {
  return fmt::format("moved {} to Trash, purged {} from Trash", c.moved, c.purged);
}

void record(admin::AdminStore& audit, std::string_view target, std::string outcome) {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  audit.record(admin::AuditEntry{0, now_ms, "aging", "aging.run", std::string(target), "-", std::move(outcome)});
}

}  // namespace

mailstore::AgingReport run_aging_once(mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                                      const mailstore::AgingDays& defaults, admin::AdminStore* audit,
                                      const std::string& number) {
  std::map<std::string, Counts> per_mailbox;
  const auto report = mailstore::run_message_aging(
      store, accounts, defaults, aging_clock(),
      [&](const mailstore::AgedMessage& m) {
        Counts& counts = per_mailbox[m.number];
        if (m.action == mailstore::AgedMessage::Action::purged) {
          ++counts.purged;
          log(LogLevel::Info, "aging", "purged mailbox={} folder={} uid={}", m.number, m.folder, m.uid);
        } else {
          ++counts.moved;
          log(LogLevel::Info, "aging", "moved mailbox={} folder={} uid={} to Trash uid={}", m.number, m.folder, m.uid,
              m.trash_uid);
        }
      },
      number);
  for (const auto& failure : report.failures)
    log(LogLevel::Error, "aging", "not aged mailbox={}: {}", failure.number, failure.reason);
  const Counts total{report.moved, report.purged};
  log(LogLevel::Info, "aging", "run: {} mailbox(es) with aging, {}, {} failure(s)", report.mailboxes, describe(total),
      report.failures.size());
  // The audit log is where the console reads what aging did: one entry per
  // mailbox it changed, one per failure, one for the run when it did anything.
  if (audit) {
    for (const auto& [n, counts] : per_mailbox) record(*audit, n, describe(counts));
    for (const auto& failure : report.failures) record(*audit, failure.number, "failed: " + failure.reason);
    if (!per_mailbox.empty() || !report.failures.empty() || !number.empty())
      record(*audit, number.empty() ? "all mailboxes" : number,
             fmt::format("{} mailbox(es): {}{}", report.mailboxes, describe(total),
                         report.failures.empty() ? "" : fmt::format(", {} failed", report.failures.size())));
  }
  return report;
}

AgingSchedule::AgingSchedule(mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                             mailstore::AgingDays defaults, admin::AdminStore* audit, std::chrono::seconds interval)
    : runs_(kFirstRunDelay, interval, [&store, &accounts, defaults, audit, interval] {
        try {
          run_aging_once(store, accounts, defaults, audit);
        } catch (const std::exception& e) {
          log(LogLevel::Error, "aging", "run failed, trying again in {} s: {}", interval.count(), e.what());
        }
      }) {}

}  // namespace umstore::app
