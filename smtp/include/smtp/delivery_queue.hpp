#pragma once
// The durable queue: messages accepted for recipients that are not
// delivered at once (other domains, and everything of a message that has
// any), with their envelope and per-recipient state. A message is on disk
// and fsync'ed before enqueue() returns, so the server may answer 250.
// Storage only: the queue knows nothing about sockets or SMTP sessions.
#include <chrono>
#include <filesystem>
#include <memory>
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
  // The form it leaves in ("vpim": an ENUM route named a VPIM system);
  // empty: by the [relay] profiles of its domain.
  std::string profile;
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

// Where the queue keeps its messages: files in a directory (one node), or
// the PostgreSQL backend's database, shared by the nodes (a node works on
// an envelope while it holds its lease; those of a node gone are taken
// over once their leases run out). Every method is thread-safe.
class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  // Keeps the message and its envelope durably before it returns (so the
  // server may answer 250). Throws IoError/QueueError.
  virtual void enqueue(const QueuedEnvelope& envelope, std::string_view message) = 0;
  // Rewrites the envelope durably (after a delivery attempt).
  virtual void update(const QueuedEnvelope& envelope) = 0;
  // Removes the message and envelope; false when it was not there.
  virtual bool remove(std::string_view id) = 0;

  virtual std::vector<std::string> ids() const = 0;  // every message, ascending (ids sort by arrival)
  // The envelopes this node should attempt now (a superset: the runner
  // checks next_attempt): every one on one node; on a shared queue those
  // due that this node holds or takes over, leased to it.
  virtual std::vector<std::string> take_due() { return ids(); }
  virtual std::optional<QueuedEnvelope> envelope(std::string_view id) const = 0;
  virtual std::string message(std::string_view id) const = 0;  // throws IoError/QueueError when gone

  // Drops what a crash in enqueue() left behind.
  virtual void remove_orphans() {}
  // For messages to people: "queue directory /var/lib/umstore/queue".
  virtual std::string location() const = 0;
};

// The queue in a directory: ID.eml (the message) and ID.env (the envelope,
// JSON), each fsync'ed, the envelope renamed into place last.
class FileDeliveryQueue final : public DeliveryQueue {
 public:
  explicit FileDeliveryQueue(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  void enqueue(const QueuedEnvelope& envelope, std::string_view message) override;
  void update(const QueuedEnvelope& envelope) override;
  bool remove(std::string_view id) override;
  std::vector<std::string> ids() const override;
  std::optional<QueuedEnvelope> envelope(std::string_view id) const override;
  std::string message(std::string_view id) const override;
  // Drops message files left without an envelope by a crash in enqueue().
  void remove_orphans() override;
  std::string location() const override { return "queue directory " + directory_.string(); }

 private:
  std::filesystem::path envelope_path(std::string_view id) const;
  std::filesystem::path message_path(std::string_view id) const;

  std::filesystem::path directory_;
};

// The queue in the PostgreSQL backend's database (table smtp_queue, made at
// start), shared by every node on it; `lease`: how long an envelope stays
// with a node that stopped renewing before another takes it over;
// `pool_size`: its connections. Throws QueueError naming the database when
// it cannot be reached.
std::unique_ptr<DeliveryQueue> open_postgresql_queue(const std::string& conninfo, const std::string& node_id,
                                                     std::chrono::milliseconds lease, std::size_t pool_size = 2);

// The envelope's stored form (JSON), shared by both queues.
std::string serialise_envelope(const QueuedEnvelope& envelope);
QueuedEnvelope parse_envelope(std::string_view text);  // throws on damage

// A fresh id: hex microseconds plus a process-wide counter, so ids sort by
// arrival and stay unique across restarts.
std::string new_queue_id();

// Queue ids are file names: letters and digits only.
bool is_queue_id(std::string_view id) noexcept;

// RFC 3461 xtext.
std::string xtext_encode(std::string_view text);
std::optional<std::string> xtext_decode(std::string_view xtext);

}  // namespace umstore::smtp
