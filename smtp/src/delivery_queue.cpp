#include "smtp/delivery_queue.hpp"
#include "common/ascii.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>

#include "common/durable_file.hpp"

namespace umstore::smtp {
namespace {

using nlohmann::json;

constexpr std::string_view kEnvelopeSuffix = ".env";
constexpr std::string_view kMessageSuffix = ".eml";

std::int64_t to_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
Clock::time_point from_seconds(std::int64_t s) { return Clock::time_point(std::chrono::seconds(s)); }

RecipientState state_from(std::string_view name) {
  if (name == "delivered") return RecipientState::Delivered;
  if (name == "relayed") return RecipientState::Relayed;
  if (name == "failed") return RecipientState::Failed;
  return RecipientState::Pending;
}

json to_json(const QueuedRecipient& r) {
  return {{"address", r.address}, {"mailbox", r.mailbox}, {"profile", r.profile}, {"orcpt", r.orcpt}, {"notify", format_notify(r.notify)},
          {"state", state_name(r.state)}, {"attempts", r.attempts}, {"last_reply", r.last_reply},
          {"status", r.status}, {"remote_mta", r.remote_mta}, {"last_attempt", to_seconds(r.last_attempt)},
          {"delay_reported", r.delay_reported}, {"delivering", r.delivering}};
}

QueuedRecipient recipient_from(const json& j) {
  QueuedRecipient r;
  r.address = j.at("address").get<std::string>();
  r.mailbox = j.value("mailbox", "");
  r.profile = j.value("profile", "");
  r.orcpt = j.value("orcpt", "");
  r.notify = parse_notify(j.value("notify", "")).value_or(NotifyRequest{});
  r.state = state_from(j.value("state", "pending"));
  r.attempts = j.value("attempts", 0u);
  r.last_reply = j.value("last_reply", "");
  r.status = j.value("status", "");
  r.remote_mta = j.value("remote_mta", "");
  r.last_attempt = from_seconds(j.value("last_attempt", std::int64_t{0}));
  r.delay_reported = j.value("delay_reported", false);
  r.delivering = j.value("delivering", false);
  return r;
}

}  // namespace

std::string serialise_envelope(const QueuedEnvelope& e) {
  json recipients = json::array();
  for (const auto& r : e.recipients) recipients.push_back(to_json(r));
  json j = {{"id", e.id}, {"sender", e.sender}, {"ret", e.ret}, {"envid", e.envid},
            {"smtputf8", e.smtputf8}, {"body_8bit", e.body_8bit}, {"received_from", e.received_from},
            {"arrival", to_seconds(e.arrival)}, {"next_attempt", to_seconds(e.next_attempt)},
            {"recipients", std::move(recipients)}};
  return j.dump(1) + "\n";
}

QueuedEnvelope parse_envelope(std::string_view text) {
  json j = json::parse(text);
  QueuedEnvelope e;
  e.id = j.at("id").get<std::string>();
  e.sender = j.value("sender", "");
  e.ret = j.value("ret", "");
  e.envid = j.value("envid", "");
  e.smtputf8 = j.value("smtputf8", false);
  e.body_8bit = j.value("body_8bit", false);
  e.received_from = j.value("received_from", "");
  e.arrival = from_seconds(j.value("arrival", std::int64_t{0}));
  e.next_attempt = from_seconds(j.value("next_attempt", std::int64_t{0}));
  for (const auto& r : j.at("recipients")) e.recipients.push_back(recipient_from(r));
  return e;
}

namespace {

// Writes and fsyncs `data` to `path` (a fresh temporary name).
void write_synced(const std::filesystem::path& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd) throw IoError("cannot create queue file", path, errno);
  write_all(fd.get(), data, path);
  fsync_fd(fd.get(), path);
}

void rename_or_throw(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) throw IoError("cannot rename queue file", from, errno);
}

}  // namespace

std::optional<NotifyRequest> parse_notify(std::string_view value) {
  NotifyRequest out;
  if (value.empty()) return out;
  out.given = true;
  while (!value.empty()) {
    auto comma = std::min(value.find(','), value.size());
    std::string word(value.substr(0, comma));
    value.remove_prefix(std::min(comma + 1, value.size()));
    word = ascii_upper(word);
    if (word == "NEVER") out.never = true;
    else if (word == "SUCCESS") out.success = true;
    else if (word == "FAILURE") out.failure = true;
    else if (word == "DELAY") out.delay = true;
    else return std::nullopt;
  }
  if (out.never && (out.success || out.failure || out.delay)) return std::nullopt;  // NEVER stands alone
  return out;
}

std::string format_notify(const NotifyRequest& n) {
  if (!n.given) return "";
  if (n.never) return "NEVER";
  std::string out;
  if (n.success) out += "SUCCESS,";
  if (n.failure) out += "FAILURE,";
  if (n.delay) out += "DELAY,";
  if (!out.empty()) out.pop_back();
  return out;
}

std::string_view state_name(RecipientState state) noexcept {
  switch (state) {
    case RecipientState::Pending: return "pending";
    case RecipientState::Delivered: return "delivered";
    case RecipientState::Relayed: return "relayed";
    case RecipientState::Failed: return "failed";
  }
  return "pending";
}

bool QueuedEnvelope::finished() const noexcept {
  return std::none_of(recipients.begin(), recipients.end(),
                      [](const auto& r) { return r.state == RecipientState::Pending; });
}

std::string new_queue_id() {
  static std::atomic<std::uint32_t> counter{0};
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
  return fmt::format("{:X}{:04X}", micros, counter.fetch_add(1) & 0xFFFF);
}

bool is_queue_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

std::string xtext_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('+');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> xtext_decode(std::string_view xtext) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < xtext.size(); ++i) {
    char c = xtext[i];
    if (c == '+') {
      if (i + 2 >= xtext.size()) return std::nullopt;
      const int hi = nibble(xtext[i + 1]), lo = nibble(xtext[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

FileDeliveryQueue::FileDeliveryQueue(std::filesystem::path directory) : directory_(std::move(directory)) {
  create_directories_durably(directory_);
}

std::filesystem::path FileDeliveryQueue::envelope_path(std::string_view id) const {
  return directory_ / (std::string(id) + std::string(kEnvelopeSuffix));
}
std::filesystem::path FileDeliveryQueue::message_path(std::string_view id) const {
  return directory_ / (std::string(id) + std::string(kMessageSuffix));
}

void FileDeliveryQueue::enqueue(const QueuedEnvelope& envelope, std::string_view message) {
  if (!is_queue_id(envelope.id)) throw QueueError("bad queue id '" + envelope.id + "'");
  // The envelope is renamed into place last: a message file without one is
  // an interrupted enqueue, never answered 250, and is dropped on restart.
  // One directory fsync covers both renames.
  auto message_tmp = directory_ / ("tmp." + envelope.id + std::string(kMessageSuffix));
  auto envelope_tmp = directory_ / ("tmp." + envelope.id + std::string(kEnvelopeSuffix));
  write_synced(message_tmp, message);
  write_synced(envelope_tmp, serialise_envelope(envelope));
  rename_or_throw(message_tmp, message_path(envelope.id));
  rename_or_throw(envelope_tmp, envelope_path(envelope.id));
  fsync_directory(directory_);
}

void FileDeliveryQueue::update(const QueuedEnvelope& envelope) {
  if (!is_queue_id(envelope.id)) throw QueueError("bad queue id '" + envelope.id + "'");
  replace_file_durably(envelope_path(envelope.id), serialise_envelope(envelope));
}

bool FileDeliveryQueue::remove(std::string_view id) {
  if (!is_queue_id(id)) return false;
  std::error_code ec;
  // The envelope goes first: without it the message file is an orphan.
  bool existed = std::filesystem::remove(envelope_path(id), ec);
  std::filesystem::remove(message_path(id), ec);
  if (existed) fsync_directory(directory_);
  return existed;
}

std::vector<std::string> FileDeliveryQueue::ids() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= kEnvelopeSuffix.size() || !name.ends_with(kEnvelopeSuffix)) continue;
    std::string id = name.substr(0, name.size() - kEnvelopeSuffix.size());
    if (is_queue_id(id)) out.push_back(std::move(id));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

std::optional<QueuedEnvelope> FileDeliveryQueue::envelope(std::string_view id) const {
  if (!is_queue_id(id)) return std::nullopt;
  std::string text;
  try {
    text = read_file(envelope_path(id));
  } catch (const IoError&) {
    return std::nullopt;
  }
  try {
    return parse_envelope(text);
  } catch (const std::exception& e) {
    throw QueueError("queue envelope " + envelope_path(id).string() + " is damaged: " + e.what());
  }
}

std::string FileDeliveryQueue::message(std::string_view id) const {
  if (!is_queue_id(id)) throw QueueError("bad queue id '" + std::string(id) + "'");
  return read_file(message_path(id));
}

void FileDeliveryQueue::remove_orphans() {
  std::error_code ec;
  std::vector<std::filesystem::path> doomed;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("tmp.")) {
      doomed.push_back(entry.path());
    } else if (name.ends_with(kMessageSuffix)) {
      std::string id = name.substr(0, name.size() - kMessageSuffix.size());
      if (!std::filesystem::exists(envelope_path(id))) doomed.push_back(entry.path());
    }
  }
  for (const auto& path : doomed) std::filesystem::remove(path, ec);
}

}  // namespace umstore::smtp
