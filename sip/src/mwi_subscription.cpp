// Message-waiting subscriptions: SUBSCRIBE accepted, refreshed or ended,
// NOTIFYs of the INBOX's counts sent (and retransmitted over UDP) until the
// subscription expires, and the subscriber's answers to them.
#include "mwi_subscription.hpp"

#include <algorithm>
#include <charconv>

#include "call_routing.hpp"
#include "common/log.hpp"

namespace umstore::sip {
namespace {

constexpr std::size_t kMaxSubscriptions = 10000;

// The Expires header's seconds, 3600 when absent; nullopt when it holds no
// number or one too large for a long. Lenient: blanks and a sign before the
// digits are allowed, anything after them is ignored.
std::optional<long> expires_of(const SipMessage& subscribe) {
  const std::string text = subscribe.header("expires");
  if (text.empty()) return 3600L;
  std::string_view digits(text);
  digits.remove_prefix(std::min(digits.size(), digits.find_first_not_of(" \t")));
  if (digits.starts_with('+') && !digits.substr(1).starts_with('-')) digits.remove_prefix(1);
  long value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

Subscription::Subscription(std::shared_ptr<SipEndpoint> server_, const SipMessage& subscribe, Peer peer_)
    : server(std::move(server_)),
      peer(std::move(peer_)),
      call_id(subscribe.call_id()),
      their_from(subscribe.from_text()),
      our_from(subscribe.to_text()),
      routes(subscribe.record_routes()),
      expiry(server->strand) {
  const auto contact = subscribe.contact();
  target = contact ? contact->uri : subscribe.from().uri;
}

void Subscription::watch() {
  std::weak_ptr<Subscription> weak = shared_from_this();
  // Folder listeners run on the thread that changed the folder: only post.
  listener = inbox->listen([weak, strand = server->strand] {
    asio::post(strand, [weak] {
      if (auto self = weak.lock()) self->notify();
    });
  });
}

void Subscription::set_expiry(std::chrono::seconds seconds) {
  expires_at = Clock::now() + seconds;
  expiry.expires_at(expires_at);
  expiry.async_wait([weak = std::weak_ptr<Subscription>(shared_from_this())](const std::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->terminate("timeout");
  });
}

void Subscription::terminate(std::string_view reason) {
  if (terminated) return;
  terminated = true;
  listener.reset();
  expiry.cancel();
  send_notify(MessageCounts{}, std::string("terminated;reason=") + std::string(reason), false);
  server->subscriptions.erase(call_id);
}

void Subscription::notify() {
  if (terminated) return;
  if (counting) {
    recount = true;
    return;
  }
  counting = true;
  asio::post(server->workers, [self = shared_from_this()] {
    MessageCounts counts;
    try {
      counts = count_messages(*self->inbox);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "message summary for {}: {}", self->number, e.what());
    }
    asio::post(self->server->strand, [self, counts] {
      self->counting = false;
      if (self->terminated) return;
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(self->expires_at - Clock::now());
      self->send_notify(counts, "active;expires=" + std::to_string(std::max<long long>(0, left.count())), true);
      if (std::exchange(self->recount, false)) self->notify();
    });
  });
}

void Subscription::send_notify(const MessageCounts& counts, const std::string& state, bool with_body) {
  const std::uint32_t n = ++cseq;
  server->metrics.notifies.add();
  const auto local = server->transport.local_endpoint();
  const std::string body =
      with_body ? message_summary_body(counts, "sip:" + number + "@" + local.address().to_string()) : std::string();
  std::string out = "NOTIFY " + target + " SIP/2.0\r\n";
  out += "Via: SIP/2.0/" + std::string(peer.transport()) + " " + endpoint_text(local) + ";branch=z9hG4bK" +
         server->random_hex(8) + ";rport\r\n";
  out += "Max-Forwards: 70\r\n";
  for (const auto& route : routes) out += "Route: " + route + "\r\n";
  out += "From: " + our_from + ";tag=" + local_tag + "\r\n";
  out += "To: " + their_from + "\r\n";
  out += "Call-ID: " + call_id + "\r\n";
  out += "CSeq: " + std::to_string(n) + " NOTIFY\r\n";
  out += server->contact_header(peer);
  out += "Event: message-summary\r\n";
  out += "Subscription-State: " + state + "\r\n";
  if (with_body) out += "Content-Type: application/simple-message-summary\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  server->send(out, peer);
  if (peer.tcp) return;  // a reliable transport retransmits for us
  asio::co_spawn(
      server->strand,
      [self = shared_from_this(), out, n]() -> asio::awaitable<void> {
        asio::steady_timer wait(self->server->strand);
        co_await retransmit_until_answered(
            wait, [&] { return self->answered_cseq >= n || !self->server->transport.is_open(); },
            [&] { self->server->send(out, self->peer); });
      },
      asio::detached);
}

void SipEndpoint::handle_subscribe(const SipMessage& m, const Peer& from) {
  if (!gateway_allowed(from.address())) return reply(m, from, 403, "Forbidden");
  if (const auto refusal = admission.check(m, from.address()))
    return reply(m, from, refusal->code, refusal->reason, refusal->headers);
  const std::string event = m.header("event");
  if (event.substr(0, event.find(';')) != "message-summary")
    return reply(m, from, 489, "Bad Event", "Allow-Events: message-summary\r\n");
  const auto requested = expires_of(m);
  if (!requested) return reply(m, from, 400, "Bad Expires");
  long expires = *requested;
  if (expires != 0) expires = std::clamp(expires, 60L, 3600L);
  const std::string expires_header = "Expires: " + std::to_string(expires) + "\r\n";

  if (const auto it = subscriptions.find(m.call_id()); it != subscriptions.end()) {  // refresh or unsubscribe
    auto sub = it->second;
    sub->peer = from;  // a phone that reconnected over TCP is reached on its new connection
    send(m.response(200, "OK", sub->local_tag, expires_header + contact_header(from)), from);
    if (expires == 0) return sub->terminate("timeout");
    sub->set_expiry(std::chrono::seconds(expires));
    return sub->notify();
  }
  if (!m.to().tag.empty()) return reply(m, from, 481, "Call/Transaction Does Not Exist");
  std::optional<mailstore::Account> account;
  for (const auto& user : {m.request_uri_user(), m.to().user}) {
    if (const auto number = normalise_e164(user, PlusSign::optional)) account = accounts.find(*number);
    if (account) break;
  }
  if (!account) return reply(m, from, 404, "Not Found");
  if (subscriptions.size() >= kMaxSubscriptions) return reply(m, from, 503, "Service Unavailable");

  auto sub = std::make_shared<Subscription>(shared_from_this(), m, from);
  sub->local_tag = random_hex(6);
  sub->number = account->number;
  sub->inbox = store.user(account->number)->open("INBOX");
  send(m.response(200, "OK", sub->local_tag, expires_header + contact_header(from)), from);
  if (expires == 0) {  // a one-off poll (RFC 6665 fetch)
    sub->expires_at = Clock::now();
    subscriptions.emplace(sub->call_id, sub);
    return sub->terminate("timeout");
  }
  subscriptions.emplace(sub->call_id, sub);
  sub->watch();
  sub->set_expiry(std::chrono::seconds(expires));
  log(LogLevel::Info, "sip", "message-summary subscription for {} from {}", account->number, endpoint_text(from));
  sub->notify();
}

void SipEndpoint::on_notify_response(const SipMessage& response) {
  const auto it = subscriptions.find(response.call_id());
  if (it == subscriptions.end()) return;
  auto subscription = it->second;
  subscription->answered_cseq = std::max(subscription->answered_cseq, response.cseq_number());
  // The subscriber forgot the dialog: stop notifying it.
  if (response.status() == 481 || response.status() == 404) {
    subscription->terminated = true;
    subscriptions.erase(it);
  }
}

}  // namespace umstore::sip
