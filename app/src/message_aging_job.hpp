#pragma once
// Message aging as the program runs it (mailstore/message_aging.hpp does
// the work): on a schedule inside `umstore serve`, on a thread of its own
// (never an I/O thread), and on demand as `umstore aging run`. Every
// message moved or purged is logged (folder, UID, mailbox; numbers masked
// under [log] redact_numbers) and every run is written to the admin audit
// log (actor "aging", action "aging.run"), which the console shows.
//
// Test hook: UMSTORE_TEST_CLOCK_OFFSET_DAYS (an integer, may be negative)
// moves the clock of the aging job only, so tests can age messages without
// waiting days. Nothing else reads it.
#include <chrono>
#include <string>

#include "common/periodic_task.hpp"
#include "mailstore/message_aging.hpp"

namespace umstore::admin {
class AdminStore;
}

namespace umstore::app {

// One run over every mailbox (or `number`); `audit` may be null.
mailstore::AgingReport run_aging_once(mailstore::MailStore& store, const mailstore::AccountStore& accounts,
                                      const mailstore::AgingDays& defaults, admin::AdminStore* audit,
                                      const std::string& number = {});

// Runs aging every `interval` from a few seconds after it starts until destroyed.
class AgingSchedule {
 public:
  AgingSchedule(mailstore::MailStore& store, const mailstore::AccountStore& accounts, mailstore::AgingDays defaults,
                admin::AdminStore* audit, std::chrono::seconds interval);

 private:
  PeriodicTask runs_;
};

}  // namespace umstore::app
