// SipServer's public face and SipEndpoint's start, stop and transaction
// dispatch: each request or response goes to its call or subscription (the
// jobs themselves are listed in sip_endpoint.hpp).
#include "sip/sip_server.hpp"

#include <algorithm>
#include <future>

#include "call.hpp"
#include "common/log.hpp"
#include "mwi_subscription.hpp"
#include "outbound_call.hpp"
#include "net/task.hpp"
#include "sip_endpoint.hpp"

namespace umstore::sip {
namespace {

using asio::ip::udp;

std::optional<DigestSettings> digest_settings(const SipServerConfig& config) {
  if (config.auth_realm.empty()) return std::nullopt;
  DigestSettings d;
  d.realm = config.auth_realm;
  for (const auto& [user, password] : config.auth_users) d.users[user] = password;
  d.algorithms = config.auth_algorithms;
  d.nonce_lifetime = config.auth_nonce_lifetime;
  return d;
}

SipTransportConfig transport_config(const SipServerConfig& config) {
  SipTransportConfig out;
  out.listen = config.listen;
  out.tcp = config.tcp;
  out.max_tcp_connections = config.max_tcp_connections;
  out.tcp_idle_timeout = config.tcp_idle_timeout;
  out.tls_listen = config.tls_listen;
  out.tls = config.tls;
  out.tls_client_ca = config.tls_client_ca;
  out.tls_ca_file = config.tls_ca_file;
  out.client_certificate = config.tls_client_certificate;
  return out;
}

}  // namespace

asio::awaitable<bool> retransmit_until_answered(asio::steady_timer& timer, std::function<bool()> answered,
                                                std::function<void()> resend) {
  auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
  for (int attempt = 0; attempt < 6; ++attempt) {
    timer.expires_after(interval);
    const auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec || answered()) co_return false;
    resend();
    interval = std::min<Clock::duration>(interval * 2, kT2);
  }
  co_return true;
}

SipEndpoint::SipEndpoint(asio::io_context& io_, SipServerConfig config_, const mailstore::AccountStore& accounts_,
                         mailstore::MailStore& store_)
    : io(io_),
      strand(asio::make_strand(io_)),
      config(std::move(config_)),
      accounts(accounts_),
      store(store_),
      transport(strand, transport_config(config)),
      admission(config.requests_per_window, config.rate_window, digest_settings(config)),
      adoption(strand),
      rng(std::random_device{}()),
      greeting_default(default_greeting()) {
  if (!config.subscriptions_dsn.empty())
    subscription_store =
        std::make_unique<SubscriptionStore>(config.subscriptions_dsn, config.node_id, config.subscription_lease);
}

void SipEndpoint::start() {
  std::weak_ptr<SipEndpoint> weak = shared_from_this();
  transport.start([weak](std::string_view message, const Peer& from) {
    if (auto self = weak.lock()) self->handle(message, from);
  });
  if (!config.recordings_dir.empty()) deliver_leftovers();
  if (subscription_store) asio::post(strand, [self = shared_from_this()] { self->adopt_subscriptions(true); });
  log(LogLevel::Info, "sip", "listening on udp{} {}", config.tcp ? " and tcp" : "",
      endpoint_text(transport.local_endpoint()));
}

void SipEndpoint::stop() {
  if (stopped) return;
  stopped = true;
  auto remaining = calls;
  for (auto& [id, call] : remaining) call->hang_up("server stopping");
  auto dialling = outbound;
  for (auto& [id, call] : dialling) call->abandon("stopped");
  auto subs = subscriptions;
  // Rows in the database live on: this node's next run or another node goes on with them.
  for (auto& [id, sub] : subs) subscription_store ? sub->forget() : sub->terminate("noresource");
  adoption.cancel();
  transport.stop();
}

std::string SipEndpoint::random_hex(int bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string SipEndpoint::contact_header(const Peer& toward) const {
  if (const auto tls = transport.tls_endpoint(); tls && toward.tls)
    return "Contact: <sip:umstore@" + endpoint_text(udp::endpoint(tls->address(), tls->port())) + ";transport=tls>\r\n";
  return "Contact: <sip:umstore@" + endpoint_text(transport.local_endpoint()) +
         (toward.tcp ? ";transport=tcp" : "") + ">\r\n";
}

void SipEndpoint::reply(const SipMessage& m, const Peer& to, int code, std::string_view reason,
                        std::string_view extra) {
  send(m.response(code, reason, random_hex(6), extra), to);
}

void SipEndpoint::handle(std::string_view datagram, const Peer& source) {
  // Keep-alive CRLFs (RFC 5626) and empty datagrams are not messages.
  if (datagram.find_first_not_of("\r\n ") == std::string_view::npos) return;
  const auto m = SipMessage::parse(datagram);
  if (!m) {
    log(LogLevel::Debug, "sip", "{}: unparseable message of {} bytes dropped", endpoint_text(source),
        datagram.size());
    return;
  }
  Peer from = source;
  if (from.tcp && m->is_request()) from.stream_target = stream_target_of(*m);
  if (m->is_request()) return handle_request(*m, from);
  // Responses: to our NOTIFYs, BYEs and the requests of calls we placed.
  if (m->cseq_method() == "NOTIFY") return on_notify_response(*m);
  if (const auto placed = outbound.find(m->call_id()); placed != outbound.end()) {
    const auto call = placed->second;  // it may leave the table while handling this
    return call->on_response(*m);
  }
  const auto it = calls.find(m->call_id());
  if (it != calls.end() && m->cseq_method() == "BYE" && m->status() >= 200) it->second->on_bye_answered();
}

void SipEndpoint::handle_request(const SipMessage& m, const Peer& from) {
  if (const auto placed = outbound.find(m.call_id()); placed != outbound.end()) {
    const auto call = placed->second;
    return call->on_request(m, from);
  }
  const std::string method = m.method();
  const auto it = calls.find(m.call_id());
  const auto call = it == calls.end() ? nullptr : it->second;
  if (method == "INVITE") {
    if (!call) return handle_invite(m, from);
    if (m.cseq_number() == call->invite.cseq_number()) {  // retransmission
      if (!call->final_response.empty()) send(call->final_response, from);
      return;
    }
    return call->on_reinvite(m);
  }
  if (method == "ACK") {
    if (call) call->on_ack();
    return;
  }
  if (method == "CANCEL") {
    if (!call) return reply(m, from, 481, "Call/Transaction Does Not Exist");
    return call->on_cancel(m);
  }
  if (method == "BYE") {
    if (!call) return reply(m, from, 481, "Call/Transaction Does Not Exist");
    return call->on_bye(m);
  }
  if (method == "SUBSCRIBE") return handle_subscribe(m, from);
  if (method == "OPTIONS")
    return reply(m, from, 200, "OK", std::string(kAllow) + "Accept: application/sdp\r\n");
  reply(m, from, 405, "Method Not Allowed", kAllow);
}

bool SipEndpoint::gateway_allowed(const asio::ip::address& a) const {
  const auto v4 = a.is_v6() && a.to_v6().is_v4_mapped()
                      ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()))
                      : a;
  return std::find(config.allowed_gateways.begin(), config.allowed_gateways.end(), v4) !=
         config.allowed_gateways.end();
}

asio::ip::address SipEndpoint::media_address_toward(const udp::endpoint& peer) const {
  if (!config.listen.address().is_unspecified()) return config.listen.address();
  // The kernel's route choice tells which of our addresses the peer reaches.
  udp::socket probe(io);
  std::error_code ec;
  probe.connect(peer, ec);
  if (!ec) return probe.local_endpoint(ec).address();
  return asio::ip::make_address("127.0.0.1");
}

// ---- public face --------------------------------------------------------

SipServer::SipServer(asio::io_context& io, SipServerConfig config, const mailstore::AccountStore& accounts,
                     mailstore::MailStore& store)
    : endpoint_(std::make_shared<SipEndpoint>(io, std::move(config), accounts, store)) {}

SipServer::~SipServer() {
  stop();
  endpoint_->workers.join();
}

void SipServer::start() { endpoint_->start(); }

void SipServer::set_rate_limit(std::size_t requests_per_window, std::chrono::seconds window) {
  asio::post(endpoint_->strand, [endpoint = endpoint_, requests_per_window, window] {
    endpoint->admission.set_rate_limit(requests_per_window, window);
  });
}

void SipServer::stop() {
  // Calls and sockets belong to the strand; wait until it has run the stop.
  if (endpoint_->strand.running_in_this_thread()) return endpoint_->stop();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(endpoint_->strand, [endpoint = endpoint_, done] {
    endpoint->stop();
    done->set_value();
  });
  if (endpoint_->io.stopped()) return;
  finished.wait_for(std::chrono::seconds(5));
}

asio::ip::udp::endpoint SipServer::local_endpoint() const { return endpoint_->transport.local_endpoint(); }

std::optional<asio::ip::tcp::endpoint> SipServer::tls_endpoint() const { return endpoint_->transport.tls_endpoint(); }

std::size_t SipServer::active_calls() const { return endpoint_->active; }

void SipServer::append_metrics(std::string& out) const { endpoint_->metrics.append(out, endpoint_->active); }

}  // namespace umstore::sip
