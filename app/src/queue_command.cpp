// umstore queue: look into and act on the SMTP delivery queue in
// DATA_DIR/queue. Safe while 'umstore serve' runs: the server's queue runner
// rescans the queue every few seconds.
#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "common/rfc5322_date.hpp"
#include "settings.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::app {
namespace {

constexpr const char* kQueueUsage = R"(usage:
  umstore [--data-dir DIR] queue list          one line per queued message
  umstore [--data-dir DIR] queue show ID       envelope, per-recipient state and headers
  umstore [--data-dir DIR] queue retry ID      attempt delivery at the next queue scan
  umstore [--data-dir DIR] queue delete ID     drop the message without notifying anyone

The queue holds mail for other domains, and delivery status notifications,
until every recipient is delivered or has finally failed.
)";

std::string when(smtp::Clock::time_point t) {
  return t == smtp::Clock::time_point{} ? "-" : format_rfc5322_date(t);
}

smtp::QueuedEnvelope load(const smtp::DeliveryQueue& queue, const std::string& id) {
  if (!smtp::is_queue_id(id)) throw UsageError("'" + id + "' is not a queue id (letters and digits)");
  auto envelope = queue.envelope(id);
  if (!envelope) throw std::runtime_error("no message " + id + " in the " + queue.location());
  return *envelope;
}

std::size_t pending(const smtp::QueuedEnvelope& e) {
  return static_cast<std::size_t>(std::count_if(e.recipients.begin(), e.recipients.end(), [](const auto& r) {
    return r.state == smtp::RecipientState::Pending;
  }));
}

int list(const smtp::DeliveryQueue& queue) {
  std::size_t count = 0;
  for (const auto& id : queue.ids()) {
    auto e = queue.envelope(id);
    if (!e) continue;
    ++count;
    std::cout << id << "  from=<" << e->sender << ">  pending=" << pending(*e) << "/" << e->recipients.size()
              << "  next=" << when(e->next_attempt) << "\n";
    for (const auto& r : e->recipients)
      if (r.state == smtp::RecipientState::Pending)
        std::cout << "    " << r.address << (r.last_reply.empty() ? "" : "  (" + r.last_reply + ")") << "\n";
  }
  std::cout << count << " message(s) queued\n";
  return 0;
}

int show(const smtp::DeliveryQueue& queue, const std::string& id) {
  const auto e = load(queue, id);
  std::cout << "id: " << e.id << "\nsender: <" << e.sender << ">\narrival: " << when(e.arrival)
            << "\nnext attempt: " << when(e.next_attempt) << "\nreceived from: " << e.received_from << "\n";
  if (!e.envid.empty()) std::cout << "envid: " << e.envid << "\n";
  if (!e.ret.empty()) std::cout << "ret: " << e.ret << "\n";
  for (const auto& r : e.recipients) {
    std::cout << "recipient: " << r.address << "  state=" << smtp::state_name(r.state) << "  attempts=" << r.attempts;
    if (!r.mailbox.empty()) std::cout << "  mailbox=" << r.mailbox;
    if (r.notify.given) std::cout << "  notify=" << smtp::format_notify(r.notify);
    if (!r.orcpt.empty()) std::cout << "  orcpt=" << r.orcpt;
    std::cout << "\n";
    if (!r.last_reply.empty()) std::cout << "    last: " << r.last_reply << " at " << when(r.last_attempt) << "\n";
  }
  const std::string message = queue.message(id);
  const auto end = message.find("\r\n\r\n");
  std::cout << "\n" << message.substr(0, end == std::string::npos ? message.size() : end + 2);
  return 0;
}

}  // namespace

int run_queue(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({}));
  if (cmd.printed_help(kQueueUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.empty()) throw UsageError("queue needs a subcommand: list, show, retry or delete");
  const Settings s = load_settings(cmd);
  const auto opened = s.delivery_queue();
  smtp::DeliveryQueue& queue = *opened;
  const std::string& action = words[0];
  if (action == "list") {
    if (words.size() != 1) throw UsageError("queue list takes no arguments");
    return list(queue);
  }
  if (words.size() != 2) throw UsageError("queue " + action + " needs exactly one ID");
  const std::string& id = words[1];
  if (action == "show") return show(queue, id);
  if (action == "retry") {
    auto e = load(queue, id);
    e.next_attempt = smtp::Clock::now();
    queue.update(e);
    std::cout << id << " will be retried at the next queue scan\n";
    return 0;
  }
  if (action == "delete") {
    load(queue, id);
    queue.remove(id);
    std::cout << id << " deleted\n";
    return 0;
  }
  throw UsageError("unknown queue subcommand '" + action + "'");
}

}  // namespace umstore::app
