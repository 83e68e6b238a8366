#pragma once
// The durable queue: messages accepted for recipients that are not
// delivered at once (other domains, and everything of a message that has
// any), with their envelope and per-recipient state. A message is on disk
// and fsync'ed before enqueue() returns, so the server may answer 250.
// Storage only: the queue knows nothing about sockets or SMTP sessions.
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::smtp {

using Clock = std::chrono::system_clock;

// RFC 3461 NOTIFY; `given` false means the client sent no NOTIFY, which
// counts as FAILURE (and allows DELAY) but not SUCCESS.
struct NotifyRequest {
  bool given = false;
  bool never = false;
  bool success = false;
  bool failure = false;
  bool delay = false;

  bool wants_failure() const noexcept { return !given || failure; }
  bool wants_delay() const noexcept { return !given || delay; }
  bool wants_success() const noexcept { return given && success; }
};

// "NEVER" or a comma list of SUCCESS, FAILURE, DELAY; nullopt when invalid.
std::optional<NotifyRequest> parse_notify(std::string_view value);
std::string format_notify(const NotifyRequest& notify);  // "" when not given

enum class RecipientState { Pending, Delivered, Relayed, Failed };
std::string_view state_name(RecipientState state) noexcept;

struct QueuedRecipient {
  std::string address;        // envelope address as accepted, case preserved
  std::string mailbox;        // the local E.164 mailbox it maps to; empty for other domains
  std::string orcpt;          // RFC 3461 ORCPT as received ("rfc822;a@b", xtext), may be empty
  NotifyRequest notify;
  RecipientState state = RecipientState::Pending;
  unsigned attempts = 0;
  std::string last_reply;     // "550 5.1.1 no such user" or a connection error
  std::string status;         // enhanced status of the last outcome, "4.4.1"
  std::string remote_mta;     // host that gave last_reply, empty for local
  Clock::time_point last_attempt{};
  bool delay_reported = false;
  // Set (durably) just before a local delivery: after a crash the mailbox
  // is searched for the queue id instead of delivering a second copy.
  bool delivering = false;
};

struct QueuedEnvelope {
  std::string id;
  std::string sender;          // envelope sender without <>, empty for the null sender
  std::string ret;             // "FULL", "HDRS" or empty
  std::string envid;           // RFC 3461 ENVID, xtext as received, may be empty
  bool smtputf8 = false;
  bool body_8bit = false;
  std::string received_from;   // "helo ([1.2.3.4])" for the DSN's Received-From-MTA
  Clock::time_point arrival{};
  Clock::time_point next_attempt{};
  std::vector<QueuedRecipient> recipients;

  bool finished() const noexcept;  // no recipient pending
};

class QueueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DeliveryQueue {
 public:
  explicit DeliveryQueue(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  // Writes the message and its envelope, fsyncs both and the directory.
  // Thread-safe. Throws IoError/QueueError.
  void enqueue(const QueuedEnvelope& envelope, std::string_view message);

  // Rewrites the envelope durably (after a delivery attempt).
  void update(const QueuedEnvelope& envelope);

  // Removes the message and envelope; false when it was not there.
  bool remove(std::string_view id);

  std::vector<std::string> ids() const;  // ascending (ids sort by arrival)
  std::optional<QueuedEnvelope> envelope(std::string_view id) const;
  std::string message(std::string_view id) const;  // throws IoError when gone

  // Drops message files left without an envelope by a crash in enqueue().
  void remove_orphans();

 private:
  std::filesystem::path envelope_path(std::string_view id) const;
  std::filesystem::path message_path(std::string_view id) const;

  std::filesystem::path directory_;
};

// A fresh id: hex microseconds plus a process-wide counter, so ids sort by
// arrival and stay unique across restarts.
std::string new_queue_id();

// Queue ids are file names: letters and digits only.
bool is_queue_id(std::string_view id) noexcept;

// RFC 3461 xtext.
std::string xtext_encode(std::string_view text);
std::optional<std::string> xtext_decode(std::string_view xtext);

}  // namespace umstore::smtp
