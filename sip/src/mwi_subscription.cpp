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
      source(peer.address()),
      call_id(subscribe.call_id()),
      their_from(subscribe.from_text()),
      our_from(subscribe.to_text()),
      routes(subscribe.record_routes()),
      expiry(server->strand) {
  const auto contact = subscribe.contact();
  target = contact ? contact->uri : subscribe.from().uri;
}

Subscription::Subscription(std::shared_ptr<SipEndpoint> server_, const StoredSubscription& row)
    : server(std::move(server_)),
      peer(row.peer),
      source(peer.address()),
      call_id(row.call_id),
      local_tag(row.local_tag),
      number(row.mailbox),
      their_from(row.their_from),
      our_from(row.our_from),
      target(row.target),
      routes(row.routes),
      cseq(row.cseq),
      answered_cseq(row.cseq),
      expiry(server->strand) {
  peer.tcp = row.tcp;
  peer.stream_target = row.stream_target;
}

StoredSubscription Subscription::record(std::chrono::milliseconds expires_in) const {
  return {call_id, local_tag, their_from, our_from, target, routes, peer.tcp, peer.endpoint, peer.stream_target,
          number, cseq, expires_in};
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

void Subscription::set_expiry(std::chrono::milliseconds from_now) {
  expires_at = Clock::now() + from_now;
  expiry.expires_at(expires_at);
  expiry.async_wait([weak = std::weak_ptr<Subscription>(shared_from_this())](const std::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->expire();
  });
}

void Subscription::expire() {
  auto* rows = server->subscription_store.get();
  if (!rows) return terminate("timeout");
  asio::post(server->workers, [self = shared_from_this(), rows] {
    bool ours = true;  // the database away: end it here all the same
    try {
      ours = rows->remove_if_owned(self->call_id);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "subscription {}: cannot remove it from the database: {}", self->call_id, e.what());
    }
    asio::post(self->server->strand, [self, ours] { ours ? self->terminate("timeout") : self->forget(); });
  });
}

void Subscription::terminate(std::string_view reason) {
  if (terminated) return;
  send_notify(MessageCounts{}, std::string("terminated;reason=") + std::string(reason), false);
  forget();
}

void Subscription::forget() {
  const auto keep = shared_from_this();  // the map may hold the last reference
  terminated = true;
  listener.reset();
  expiry.cancel();
  if (const auto it = server->subscriptions.find(call_id); it != server->subscriptions.end() && it->second == keep)
    server->release_subscription(call_id);
}

void Subscription::notify() {
  if (terminated) return;
  if (counting) {
    recount = true;
    return;
  }
  counting = true;
  asio::post(server->workers, [self = shared_from_this(), next = cseq + 1] {
    MessageCounts counts;
    try {
      counts = count_messages(*self->inbox);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "message summary for {}: {}", self->number, e.what());
    }
    bool ours = true;  // the database away: notify all the same
    if (auto* rows = self->server->subscription_store.get()) try {
        ours = rows->record_cseq(self->call_id, next);
      } catch (const std::exception& e) {
        log(LogLevel::Warning, "sip", "subscription {}: cannot record its CSeq: {}", self->call_id, e.what());
      }
    asio::post(self->server->strand, [self, counts, ours] {
      self->counting = false;
      if (self->terminated) return;
      if (!ours) {
        log(LogLevel::Info, "sip", "subscription {} for {}: another node serves it now", self->call_id, self->number);
        return self->forget();
      }
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

  const std::string call_id = m.call_id();
  // A retransmission while the first is looked up or written: the first's answer will do.
  if (subscribing.contains(call_id)) return;
  const auto it = subscriptions.find(call_id);
  const auto held = it == subscriptions.end() ? nullptr : it->second;  // a refresh or an unsubscribe
  if (held) {
    held->peer = from;  // a phone that reconnected over TCP is reached on its new connection
    if (!subscription_store) return accept_subscription(held, m, from, expires);
  } else if (!m.to().tag.empty() && !subscription_store) {
    return reply(m, from, 481, "Call/Transaction Does Not Exist");
  } else if (const auto refusal = subscription_refusal(from.address())) {
    // Once a minute: a source at its cap retries all the time.
    if (const auto now = Clock::now(); now - subscription_cap_logged > std::chrono::minutes(1)) {
      subscription_cap_logged = now;
      log(LogLevel::Warning, "sip", "SUBSCRIBE from {} refused with 503: {}", endpoint_text(from), *refusal);
    }
    return reply(m, from, 503, "Service Unavailable", "Retry-After: 60\r\n");
  }
  // The mailbox, the dialog's row and writing it block: on a worker. The
  // answer waits for the row, so a subscription acknowledged is one another
  // node can go on with.
  subscribing.emplace(call_id, from.address());
  std::optional<StoredSubscription> held_row;  // read here: `held` belongs to the strand
  if (held) held_row = held->record(std::chrono::seconds(expires));
  asio::post(workers, [self = shared_from_this(), m, from, expires, held, held_row = std::move(held_row),
                       local_tag = random_hex(6)] {
    auto sub = held;
    std::optional<std::pair<int, std::string_view>> refusal;
    try {
      if (!sub) sub = m.to().tag.empty() ? self->new_subscription(m, from, local_tag) : self->stored_subscription(m, from);
      if (!sub) {
        refusal = m.to().tag.empty() ? std::pair(404, "Not Found") : std::pair(481, "Call/Transaction Does Not Exist");
      } else if (auto* rows = self->subscription_store.get()) {
        if (expires == 0)
          rows->remove(sub->call_id);
        else
          rows->save(held_row ? *held_row : sub->record(std::chrono::seconds(expires)));
      }
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sip", "SUBSCRIBE {}: {}", m.call_id(), e.what());
      refusal = std::pair(503, "Service Unavailable");
    }
    asio::post(self->strand, [self, m, from, expires, sub, refusal] {
      self->subscribing.erase(m.call_id());
      if (refusal)
        return self->reply(m, from, refusal->first, refusal->second, refusal->first == 503 ? "Retry-After: 5\r\n" : "");
      if (sub->terminated) return self->reply(m, from, 481, "Call/Transaction Does Not Exist");
      self->accept_subscription(sub, m, from, expires);
    });
  });
}

std::shared_ptr<Subscription> SipEndpoint::new_subscription(const SipMessage& m, const Peer& from,
                                                            const std::string& local_tag) {
  std::optional<mailstore::Account> account;
  for (const auto& user : {m.request_uri_user(), m.to().user}) {
    if (const auto number = normalise_e164(user, PlusSign::optional)) account = accounts.find(*number);
    if (account) break;
  }
  if (!account) return nullptr;
  auto sub = std::make_shared<Subscription>(shared_from_this(), m, from);
  sub->local_tag = local_tag;
  sub->number = account->number;
  sub->inbox = store.user(account->number)->open("INBOX");
  return sub;
}

// A dialog this node does not hold: another node's (alive or not) or this
// node's previous run's. Taking the row makes this node its owner.
std::shared_ptr<Subscription> SipEndpoint::stored_subscription(const SipMessage& m, const Peer& from) {
  const auto row = subscription_store->take(m.call_id(), m.to().tag);
  if (!row) return nullptr;
  auto sub = std::make_shared<Subscription>(shared_from_this(), *row);
  sub->peer = from;
  sub->inbox = store.user(row->mailbox)->open("INBOX");
  log(LogLevel::Info, "sip", "subscription {} for {}: in-dialog SUBSCRIBE from {}, served here from now on",
      sub->call_id, sub->number, endpoint_text(from));
  return sub;
}

std::optional<std::string> SipEndpoint::subscription_refusal(const asio::ip::address& source) const {
  if (subscriptions.size() + subscribing.size() >= config.max_subscriptions)
    return fmt::format("{} live subscriptions, the most this node holds ([sip] max_subscriptions)",
                       config.max_subscriptions);
  const auto held = subscriptions_by_address.find(source);
  const std::size_t pending = std::count_if(subscribing.begin(), subscribing.end(),
                                            [&](const auto& entry) { return entry.second == source; });
  if ((held == subscriptions_by_address.end() ? 0 : held->second) + pending >= config.max_subscriptions_per_address)
    return fmt::format("{} live subscriptions from {}, the most one address holds ([sip] max_subscriptions_per_address)",
                       config.max_subscriptions_per_address, source.to_string());
  return std::nullopt;
}

void SipEndpoint::hold_subscription(const std::shared_ptr<Subscription>& sub) {
  release_subscription(sub->call_id);  // a row taken over from memory's own: counted once
  subscriptions.emplace(sub->call_id, sub);
  ++subscriptions_by_address[sub->source];
}

void SipEndpoint::release_subscription(const std::string& call_id) {
  const auto it = subscriptions.find(call_id);
  if (it == subscriptions.end()) return;
  const auto counted = subscriptions_by_address.find(it->second->source);
  if (counted != subscriptions_by_address.end() && --counted->second == 0) subscriptions_by_address.erase(counted);
  subscriptions.erase(it);
}

void SipEndpoint::accept_subscription(const std::shared_ptr<Subscription>& sub, const SipMessage& m,
                                      const Peer& from, long expires) {
  send(m.response(200, "OK", sub->local_tag,
                  "Expires: " + std::to_string(expires) + "\r\n" + contact_header(from)),
       from);
  if (!sub->listener) {  // not served here until now
    hold_subscription(sub);
    if (expires != 0) {
      sub->watch();
      log(LogLevel::Info, "sip", "message-summary subscription for {} from {}", sub->number, endpoint_text(from));
    }
  }
  if (expires == 0) return sub->terminate("timeout");  // an unsubscribe, or a one-off poll (RFC 6665 fetch)
  sub->set_expiry(std::chrono::seconds(expires));
  sub->notify();
}

// SKIP LOCKED in the store keeps nodes adopting at once apart; here a
// subscription someone refreshed meanwhile (it is in memory) is left alone.
void SipEndpoint::adopt_subscriptions(bool starting) {
  if (stopped) return;
  const std::size_t room =
      config.max_subscriptions - std::min(config.max_subscriptions, subscriptions.size() + subscribing.size());
  asio::post(workers, [self = shared_from_this(), starting, room] {
    std::vector<std::pair<std::shared_ptr<Subscription>, std::chrono::milliseconds>> adopted;
    try {
      for (const auto& row : self->subscription_store->adopt(starting, room)) {
        auto sub = std::make_shared<Subscription>(self, row);
        try {
          sub->inbox = self->store.user(row.mailbox)->open("INBOX");
          adopted.emplace_back(std::move(sub), row.expires_in);
        } catch (const std::exception& e) {  // the mailbox is gone: the row expires unserved
          log(LogLevel::Warning, "sip", "subscription {} for {}: {}", row.call_id, row.mailbox, e.what());
        }
      }
      if (std::exchange(self->adoption_failing, false))
        log(LogLevel::Info, "sip", "subscriptions: the database answers again");
    } catch (const std::exception& e) {
      if (!std::exchange(self->adoption_failing, true))
        log(LogLevel::Warning, "sip", "subscriptions: cannot look for those of stopped nodes: {}", e.what());
    }
    asio::post(self->strand, [self, starting, adopted = std::move(adopted)] {
      if (self->stopped) return;
      for (const auto& [sub, left] : adopted) {
        if (self->subscriptions.contains(sub->call_id) || self->subscribing.contains(sub->call_id)) continue;
        self->hold_subscription(sub);
        sub->watch();
        sub->set_expiry(left);
        sub->notify();  // the subscriber hears the counts now, from this node
      }
      if (starting && !adopted.empty())
        log(LogLevel::Info, "sip", "{} subscription(s) this node held before its restart served again",
            adopted.size());
      self->adoption.expires_after(std::max(std::chrono::milliseconds(100), self->config.subscription_lease / 3));
      self->adoption.async_wait([weak = std::weak_ptr<SipEndpoint>(self)](const std::error_code& ec) {
        if (auto endpoint = weak.lock(); endpoint && !ec) endpoint->adopt_subscriptions(false);
      });
    });
  });
}

void SipEndpoint::on_notify_response(const SipMessage& response) {
  const auto it = subscriptions.find(response.call_id());
  if (it == subscriptions.end()) return;
  auto subscription = it->second;
  subscription->answered_cseq = std::max(subscription->answered_cseq, response.cseq_number());
  // The subscriber forgot the dialog: stop notifying it.
  if (response.status() != 481 && response.status() != 404) return;
  subscription->forget();
  if (auto* rows = subscription_store.get())
    asio::post(workers, [rows, call_id = subscription->call_id] {
      try {
        rows->remove_if_owned(call_id);
      } catch (const std::exception& e) {  // left to expire
        log(LogLevel::Warning, "sip", "subscription {}: cannot remove it from the database: {}", call_id, e.what());
      }
    });
}

}  // namespace umstore::sip
