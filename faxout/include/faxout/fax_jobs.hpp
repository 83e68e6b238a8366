#pragma once
// The outbound fax queue: one job per number, kept in a directory as
// ID.tif (the pages to send), ID.eml (the message, for the DSN's returned
// content) and ID.json (the job), each fsync'ed and the job renamed into
// place last, so a job on disk always has its pages. Thread-safe.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/delivery_queue.hpp"

namespace umstore::faxout {

using Clock = std::chrono::system_clock;

// relayed: ENUM named an Internet fax address, and the SMTP queue took it.
enum class JobState { pending, sent, failed, relayed };
std::string_view to_string(JobState state) noexcept;

// The last call's outcome, as the DSN and the HTTP status report it.
struct CallReport {
  std::string outcome;         // "sent", "busy", "no_answer", "refused", "t30_failed", "unreachable"
  int sip_status = 0;
  std::string sip_reason;
  std::string t30_result;      // T.30's completion text
  unsigned pages_sent = 0;
  std::string remote_station;  // the receiver's CSI
  std::chrono::milliseconds duration{0};
  bool t38 = false;
  Clock::time_point at{};
};

struct FaxJob {
  std::string id;
  std::string source = "smtp";  // or "http:GATEWAY" for the HTTP API's
  std::string idempotency_key;  // the HTTP API's Idempotency-Key, may be empty
  std::string smtp_id;          // the message's SMTP queue id
  std::string sender;           // envelope sender, empty for <>
  std::string user;             // the submitting mailbox, empty for a trusted network
  std::string address;          // the recipient as accepted
  std::string orcpt;
  smtp::NotifyRequest notify;
  std::string ret, envid, received_from;
  std::string number;           // E.164 dialled
  std::string sub_address;
  unsigned pages = 0;
  JobState state = JobState::pending;
  unsigned attempts = 0;
  Clock::time_point arrival{};
  Clock::time_point next_attempt{};
  std::optional<CallReport> last_call;
  std::string relayed_to;       // the Internet fax address ENUM named
};

std::string serialise_job(const FaxJob& job);
FaxJob parse_job(std::string_view json);  // throws on damage

class FaxJobs {
 public:
  explicit FaxJobs(std::filesystem::path directory);

  // The pages and message, then the job: durable before it returns (the
  // SMTP server then answers 250). Throws IoError.
  void add(const FaxJob& job, std::string_view tiff, std::string_view message);
  void update(const FaxJob& job);  // durably
  void remove(std::string_view id);
  // An ended job (sent, failed, relayed) kept as a record for its status
  // (done/ID.json) while its pages and message go.
  void archive(const FaxJob& job);
  // Records older than `age` go.
  void expire_archive(std::chrono::seconds age);
  // The job or record a source's Idempotency-Key made, if any.
  std::optional<FaxJob> find_by_key(std::string_view source, std::string_view key) const;
  std::vector<FaxJob> all() const;  // by id (arrival order); damaged jobs logged and skipped
  std::optional<FaxJob> find(std::string_view id) const;  // pending, or a record
  // Pages and messages a crash in add() or remove() left without a job; at
  // start, before anything adds.
  void remove_orphans();
  std::filesystem::path pages(std::string_view id) const;
  std::string message(std::string_view id) const;
  const std::filesystem::path& directory() const noexcept { return directory_; }

 private:
  std::filesystem::path path(std::string_view id, std::string_view extension) const;
  std::filesystem::path record(std::string_view id) const;
  std::filesystem::path directory_;
};

}  // namespace umstore::faxout
