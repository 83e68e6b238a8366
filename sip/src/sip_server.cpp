#include "sip/sip_server.hpp"

#include <atomic>
#include <future>
#include <map>
#include <random>
#include <unordered_map>

#include "call_routing.hpp"
#include "codecs/audio.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "fax_receiver.hpp"
#include "message_summary.hpp"
#include "net/task.hpp"
#include "recording_file.hpp"
#include "rtp.hpp"
#include "sdp.hpp"
#include "sip_message.hpp"
#include "request_admission.hpp"
#include "sip_transport.hpp"
#include "t38_fax.hpp"

namespace umstore::sip {
namespace {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kT1 = 500ms;
constexpr auto kT2 = 4s;
constexpr std::size_t kSamplesPerPacket = 160;  // 20 ms at 8 kHz
constexpr int kVoiceLevel = 300;                // mean |sample| above this is not silence
constexpr std::uint8_t kDtmfPound = 11;         // RFC 4733 event code of '#'
constexpr const char* kAllow = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE\r\n";
constexpr std::size_t kMaxSubscriptions = 10000;

std::string random_hex(std::mt19937_64& rng, int bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// A short rising chime: the prompt when the admin set no greeting.
std::vector<std::int16_t> default_greeting() {
  std::vector<std::int16_t> out = tone(660, 180);
  for (const auto& part : {silence(80), tone(880, 180), silence(80), tone(990, 260), silence(300)})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

std::vector<std::int16_t> load_greeting(const std::filesystem::path& wav) {
  const std::string bytes = read_file(wav);
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  auto audio = codecs::decode_audio(std::span(data, bytes.size()), wav.string(), codecs::AudioLimits{60, 8u << 20});
  if (audio.sample_rate != 8000) audio = codecs::resample(audio, 8000);
  return std::move(audio.samples);
}

std::string endpoint_text(const udp::endpoint& ep) { return ep.address().to_string() + ":" + std::to_string(ep.port()); }

bool aborted(const std::error_code& ec) { return ec == asio::error::operation_aborted; }

std::optional<DigestSettings> digest_settings(const SipServerConfig& config) {
  if (config.auth_realm.empty()) return std::nullopt;
  DigestSettings d;
  d.realm = config.auth_realm;
  for (const auto& [user, password] : config.auth_users) d.users[user] = password;
  d.algorithms = config.auth_algorithms;
  d.nonce_lifetime = config.auth_nonce_lifetime;
  return d;
}

}  // namespace

struct Call;
struct Subscription;

struct SipServer::Impl : std::enable_shared_from_this<SipServer::Impl> {
  Impl(asio::io_context& io_, SipServerConfig config_, const mailstore::AccountStore& accounts_,
       mailstore::MailStore& store_)
      : io(io_),
        strand(asio::make_strand(io_)),
        config(std::move(config_)),
        accounts(accounts_),
        store(store_),
        transport(strand, SipTransportConfig{config.listen, config.tcp, config.max_tcp_connections,
                                             config.tcp_idle_timeout}),
        admission(config.requests_per_window, config.rate_window, digest_settings(config)),
        rng(std::random_device{}()),
        greeting_default(default_greeting()) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  SipServerConfig config;
  const mailstore::AccountStore& accounts;
  mailstore::MailStore& store;
  SipTransport transport;
  RequestAdmission admission;  // rate limit and digest authentication, on the strand
  asio::thread_pool workers{2};  // fsync and delivery: blocking work off the I/O threads
  std::unordered_map<std::string, std::shared_ptr<Call>> calls;
  std::unordered_map<std::string, std::shared_ptr<Subscription>> subscriptions;
  std::mt19937_64 rng;
  std::vector<std::int16_t> greeting_default;
  std::atomic<std::size_t> active{0};
  bool stopped = false;

  void start();
  void stop();
  void send(std::string text, const Peer& to) { transport.send(std::move(text), to); }
  void handle(std::string_view message, const Peer& source);
  void handle_request(const SipMessage& m, const Peer& from);
  void handle_invite(const SipMessage& m, const Peer& from);
  void handle_subscribe(const SipMessage& m, const Peer& from);
  // Over TCP the Contact says so, so the peer's requests in the dialog come over TCP too.
  std::string contact_header(const Peer& toward = {}) const {
    return "Contact: <sip:umstore@" + endpoint_text(transport.local_endpoint()) +
           (toward.tcp ? ";transport=tcp" : "") + ">\r\n";
  }
  void reply(const SipMessage& m, const Peer& to, int code, std::string_view reason,
             std::string_view extra = {});
  bool gateway_allowed(const asio::ip::address& a) const;
  std::optional<mailstore::Account> find_mailbox(const SipMessage& invite) const;
  asio::ip::address media_address_toward(const udp::endpoint& peer) const;
  std::vector<std::int16_t> greeting_for(const std::string& number) const;
  void deliver_recording(std::shared_ptr<RecordingFile> file);
  void deliver_fax(const RecordingMeta& meta, const std::filesystem::path& tiff, unsigned pages,
                   const std::string& result, bool complete);
  void deliver_leftovers();
};

// One forwarded call, from INVITE to the delivered recording. Lives on the
// server's strand; every coroutine holds a shared_ptr to it.
struct Call : std::enable_shared_from_this<Call> {
  enum class State { Ringing, AwaitingAck, Connected, Ending, Done };

  Call(std::shared_ptr<SipServer::Impl> server_, SipMessage invite_, Peer peer_)
      : server(std::move(server_)),
        invite(std::move(invite_)),
        peer(peer_),
        rtp(server->strand),
        timer(server->strand),
        retransmit(server->strand),
        watchdog(server->strand) {}

  std::shared_ptr<SipServer::Impl> server;
  SipMessage invite;
  Peer peer;
  std::string local_tag;
  State state = State::Ringing;
  mailstore::Account mailbox;
  AudioOffer offer;
  G711 codec = G711::Pcmu;
  udp::socket rtp;
  udp::endpoint rtp_peer;
  asio::steady_timer timer, retransmit, watchdog;
  std::string final_response;
  std::string sdp_answer;
  std::vector<std::int16_t> prompt;
  std::shared_ptr<RecordingFile> recording;
  ReorderBuffer reorder;
  bool recording_active = false;
  Clock::time_point last_voice;
  std::uint64_t max_samples = 0;
  std::string end_reason;
  RecordingMeta meta;
  std::uint32_t tx_ssrc = 0;
  std::uint16_t tx_sequence = 0;
  std::uint32_t tx_timestamp = 0;
  std::unique_ptr<CngDetector> cng;
  std::unique_ptr<FaxReceiver> fax;
  ReorderBuffer fax_reorder{3};  // fax is real time: hold packets only briefly
  Clock::time_point last_fax_audio;  // spandsp's T.30 timers only run on received audio
  std::shared_ptr<T38Channel> t38;  // after the gateway's re-INVITE to T.38
  std::string t38_answer;
  std::uint64_t sdp_session = 0;

  void answer_after_delay();
  void answer();
  void on_ack();
  void on_cancel(const SipMessage& cancel);
  void on_bye(const SipMessage& bye);
  void on_reinvite(const SipMessage& reinvite);
  void start_t38(const SipMessage& reinvite, const T38Offer& image);
  void keep_pages_durable(FaxSession& session, const std::string& id);
  void hang_up(std::string reason);  // we end the call: BYE
  void finish(std::string reason);   // the call is over: stop media, deliver
  asio::awaitable<void> play_prompt();
  asio::awaitable<void> receive_media();
  asio::awaitable<void> retransmit_final();
  asio::awaitable<void> watch_recording();
  asio::awaitable<void> send_fax_audio();
  asio::awaitable<void> send_packet(std::span<const std::int16_t> samples, bool marker);
  void start_fax();
  void on_fax_audio(std::vector<std::int16_t> samples, const RtpPacket& p);
  void on_rtp(const RtpPacket& p);
  std::string bye_request(std::string_view branch) const;
};

// A phone's (or PBX's) message-summary subscription (RFC 3842, RFC 6665):
// a NOTIFY now and after every change to the mailbox's INBOX.
struct Subscription : std::enable_shared_from_this<Subscription> {
  Subscription(std::shared_ptr<SipServer::Impl> server_, const SipMessage& subscribe, Peer peer_)
      : server(std::move(server_)), peer(peer_), expiry(server->strand), retransmit(server->strand) {
    call_id = subscribe.call_id();
    their_from = subscribe.from_text();
    our_from = subscribe.to_text();
    const auto contact = subscribe.contact();
    target = contact ? contact->uri : subscribe.from().uri;
    routes = subscribe.record_routes();
  }

  std::shared_ptr<SipServer::Impl> server;
  Peer peer;
  std::string call_id, local_tag, number, their_from, our_from, target;
  std::vector<std::string> routes;
  std::uint32_t cseq = 0;
  std::uint32_t answered_cseq = 0;
  Clock::time_point expires_at;
  asio::steady_timer expiry, retransmit;
  mailstore::FolderPtr inbox;
  mailstore::Folder::ListenerHandle listener;
  bool counting = false, recount = false, terminated = false;

  void watch() {
    std::weak_ptr<Subscription> weak = shared_from_this();
    // Folder listeners run on the thread that changed the folder: only post.
    listener = inbox->listen([weak, strand = server->strand] {
      asio::post(strand, [weak] {
        if (auto self = weak.lock()) self->notify();
      });
    });
  }

  void set_expiry(std::chrono::seconds seconds) {
    expires_at = Clock::now() + seconds;
    expiry.expires_at(expires_at);
    expiry.async_wait([weak = std::weak_ptr<Subscription>(shared_from_this())](const std::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->terminate("timeout");
    });
  }

  void terminate(std::string_view reason) {
    if (terminated) return;
    terminated = true;
    listener.reset();
    expiry.cancel();
    send_notify(MessageCounts{}, std::string("terminated;reason=") + std::string(reason), false);
    server->subscriptions.erase(call_id);
  }

  // Counting reads the mailbox: done on a worker, coalescing bursts of changes.
  void notify() {
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

  void send_notify(const MessageCounts& counts, const std::string& state, bool with_body) {
    const std::uint32_t n = ++cseq;
    const std::string body =
        with_body ? message_summary_body(counts, "sip:" + number + "@" + server->transport.local_endpoint().address().to_string())
                  : std::string();
    std::string out = "NOTIFY " + target + " SIP/2.0\r\n";
    out += "Via: SIP/2.0/" + std::string(peer.transport()) + " " + endpoint_text(server->transport.local_endpoint()) + ";branch=z9hG4bK" +
           random_hex(server->rng, 8) + ";rport\r\n";
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
    // Non-INVITE retransmission over UDP (timer E), until answered.
    asio::co_spawn(
        server->strand,
        [self = shared_from_this(), out, n]() -> asio::awaitable<void> {
          asio::steady_timer wait(self->server->strand);
          auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
          for (int attempt = 0; attempt < 6; ++attempt) {
            wait.expires_after(interval);
            const auto [ec] = co_await wait.async_wait(net::use_nothrow);
            if (ec || self->answered_cseq >= n || !self->server->transport.is_open()) co_return;
            self->server->send(out, self->peer);
            interval = std::min<Clock::duration>(interval * 2, kT2);
          }
        },
        asio::detached);
  }
};

// ---- server -------------------------------------------------------------

void SipServer::Impl::start() {
  std::weak_ptr<Impl> weak = shared_from_this();
  transport.start([weak](std::string_view message, const Peer& from) {
    if (auto self = weak.lock()) self->handle(message, from);
  });
  if (!config.recordings_dir.empty()) deliver_leftovers();
  log(LogLevel::Info, "sip", "listening on udp{} {}", config.tcp ? " and tcp" : "",
      endpoint_text(transport.local_endpoint()));
}

void SipServer::Impl::stop() {
  if (stopped) return;
  stopped = true;
  auto remaining = calls;
  for (auto& [id, call] : remaining) call->hang_up("server stopping");
  auto subs = subscriptions;
  for (auto& [id, sub] : subs) sub->terminate("noresource");
  transport.stop();
}

void SipServer::Impl::reply(const SipMessage& m, const Peer& to, int code, std::string_view reason,
                            std::string_view extra) {
  send(m.response(code, reason, random_hex(rng, 6), extra), to);
}

void SipServer::Impl::handle(std::string_view datagram, const Peer& source) {
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
  // Responses: to our NOTIFYs and BYEs.
  if (m->cseq_method() == "NOTIFY") {
    const auto sub = subscriptions.find(m->call_id());
    if (sub == subscriptions.end()) return;
    auto subscription = sub->second;
    subscription->answered_cseq = std::max(subscription->answered_cseq, m->cseq_number());
    // The subscriber forgot the dialog: stop notifying it.
    if (m->status() == 481 || m->status() == 404) {
      subscription->terminated = true;
      subscriptions.erase(sub);
    }
    return;
  }
  const auto it = calls.find(m->call_id());
  if (it != calls.end() && m->cseq_method() == "BYE" && m->status() >= 200) {
    auto call = it->second;
    call->retransmit.cancel();
    call->finish(call->end_reason);
  }
}

void SipServer::Impl::handle_request(const SipMessage& m, const Peer& from) {
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

bool SipServer::Impl::gateway_allowed(const asio::ip::address& a) const {
  const auto v4 = a.is_v6() && a.to_v6().is_v4_mapped()
                      ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()))
                      : a;
  return std::find(config.allowed_gateways.begin(), config.allowed_gateways.end(), v4) !=
         config.allowed_gateways.end();
}

std::optional<mailstore::Account> SipServer::Impl::find_mailbox(const SipMessage& invite) const {
  for (const auto& number : mailbox_candidates(invite))
    if (auto account = accounts.find(number)) return account;
  if (!config.catch_all_mailbox.empty()) return accounts.find(config.catch_all_mailbox);
  return std::nullopt;
}

asio::ip::address SipServer::Impl::media_address_toward(const udp::endpoint& peer) const {
  if (!config.listen.address().is_unspecified()) return config.listen.address();
  // The kernel's route choice tells which of our addresses the peer reaches.
  udp::socket probe(io);
  std::error_code ec;
  probe.connect(peer, ec);
  if (!ec) return probe.local_endpoint(ec).address();
  return asio::ip::make_address("127.0.0.1");
}

std::vector<std::int16_t> SipServer::Impl::greeting_for(const std::string& number) const {
  if (config.greeting_for) {
    if (const auto path = config.greeting_for(number); path && std::filesystem::exists(*path)) {
      try {
        return load_greeting(*path);
      } catch (const std::exception& e) {
        log(LogLevel::Warning, "sip", "greeting for {} unusable, playing the default: {}", number, e.what());
      }
    }
  }
  return greeting_default;
}

void SipServer::Impl::handle_invite(const SipMessage& m, const Peer& from) {
  if (!gateway_allowed(from.address())) {
    log(LogLevel::Warning, "sip", "INVITE from {} refused: not an allowed gateway", endpoint_text(from));
    return reply(m, from, 403, "Forbidden");
  }
  if (stopped) return reply(m, from, 503, "Service Unavailable", "Retry-After: 30\r\n");
  if (const auto refusal = admission.check(m, from.address()))
    return reply(m, from, refusal->code, refusal->reason, refusal->headers);
  if (calls.size() >= config.max_calls) return reply(m, from, 486, "Busy Here");
  const auto mailbox = find_mailbox(m);
  if (!mailbox) {
    log(LogLevel::Info, "sip", "INVITE {} from {}: no such mailbox", m.request_uri_user(), endpoint_text(from));
    return reply(m, from, 404, "Not Found");
  }
  const auto offer = m.content_type() == "application/sdp" ? parse_audio_offer(m.body()) : std::nullopt;
  if (!offer || !offer->codec || offer->port == 0 || offer->address.empty())
    return reply(m, from, 488, "Not Acceptable Here", "Warning: 304 umstore \"PCMU or PCMA audio required\"\r\n");

  auto call = std::make_shared<Call>(shared_from_this(), m, from);
  call->local_tag = random_hex(rng, 6);
  call->mailbox = *mailbox;
  call->offer = *offer;
  call->codec = *offer->codec;
  calls.emplace(m.call_id(), call);
  active = calls.size();
  send(m.response(100, "Trying", {}), from);
  send(m.response(180, "Ringing", call->local_tag), from);
  log(LogLevel::Info, "sip", "call {} for {} from {} ({})", m.call_id(), mailbox->number, caller_of(m).number,
      endpoint_text(from));
  call->answer_after_delay();
}

void SipServer::Impl::handle_subscribe(const SipMessage& m, const Peer& from) {
  if (!gateway_allowed(from.address())) return reply(m, from, 403, "Forbidden");
  if (const auto refusal = admission.check(m, from.address()))
    return reply(m, from, refusal->code, refusal->reason, refusal->headers);
  const std::string event = m.header("event");
  if (event.substr(0, event.find(';')) != "message-summary")
    return reply(m, from, 489, "Bad Event", "Allow-Events: message-summary\r\n");
  long expires = 3600;
  if (const auto text = m.header("expires"); !text.empty()) {
    try {
      expires = std::stol(text);
    } catch (const std::exception&) {
      return reply(m, from, 400, "Bad Expires");
    }
  }
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
  sub->local_tag = random_hex(rng, 6);
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

void SipServer::Impl::deliver_recording(std::shared_ptr<RecordingFile> file) {
  asio::post(workers, [self = shared_from_this(), file] {
    try {
      if (file->samples() == 0) {
        file->remove();
        return;
      }
      auto recording = file->to_recording();
      const double seconds = static_cast<double>(file->samples()) / 8000.0;
      if (self->config.deliver) self->config.deliver(std::move(recording));
      file->remove();
      log(LogLevel::Info, "sip", "voicemail {:.1f} s for {} from {} delivered", seconds, file->meta().to_number,
          file->meta().caller.number);
    } catch (const std::exception& e) {
      log(LogLevel::Error, "sip", "voicemail {} not delivered, kept in {}: {}", file->id(),
          self->config.recordings_dir.string(), e.what());
    }
  });
}

void SipServer::Impl::deliver_fax(const RecordingMeta& meta, const std::filesystem::path& tiff, unsigned pages,
                                  const std::string& result, bool complete) {
  asio::post(workers, [self = shared_from_this(), meta, tiff, pages, result, complete] {
    std::error_code ec;
    try {
      // A fax cut short still goes out with the pages that arrived.
      if (pages > 0) {
        ingest::Recording r;
        r.kind = ingest::Kind::Fax;
        r.to_number = meta.to_number;
        r.to_name = meta.to_name;
        r.caller = meta.caller;
        r.file_name = tiff.filename().string();
        r.received = meta.received;
        if (!complete) r.note = "The fax ended early, after " + std::to_string(pages) + (pages == 1 ? " page" : " pages") +
                                " (T.30: " + result + "); the pages that arrived are attached.";
        const std::string bytes = read_file(tiff);
        r.file.assign(bytes.begin(), bytes.end());
        if (self->config.deliver) self->config.deliver(std::move(r));
        log(LogLevel::Info, "sip", "fax of {} page(s) for {} from {} delivered (T.30: {})", pages, meta.to_number,
            meta.caller.number, result);
      } else {
        log(LogLevel::Warning, "sip", "fax for {} from {} failed before any page arrived: {}", meta.to_number,
            meta.caller.number, result);
      }
      std::filesystem::remove(tiff, ec);
      std::filesystem::remove(std::filesystem::path(tiff).replace_extension(".fax.json"), ec);
    } catch (const std::exception& e) {
      log(LogLevel::Error, "sip", "fax {} not delivered, kept: {}", tiff.string(), e.what());
    }
  });
}

void SipServer::Impl::deliver_leftovers() {
  for (auto& leftover : find_leftover_recordings(config.recordings_dir)) {
    asio::post(workers, [self = shared_from_this(), leftover = std::move(leftover)]() mutable {
      try {
        if (!leftover.recording.file.empty() && self->config.deliver) {
          log(LogLevel::Info, "sip", "delivering {} for {} left by an interrupted run",
              leftover.recording.kind == ingest::Kind::Fax ? "the fax pages" : "voicemail",
              leftover.recording.to_number);
          self->config.deliver(std::move(leftover.recording));
        }
        std::error_code ec;
        std::filesystem::remove(leftover.json, ec);
        std::filesystem::remove(leftover.pcm, ec);
      } catch (const std::exception& e) {
        log(LogLevel::Error, "sip", "leftover {} not delivered: {}", leftover.pcm.string(), e.what());
      }
    });
  }
}

// ---- call ---------------------------------------------------------------

void Call::answer_after_delay() {
  timer.expires_after(server->config.answer_delay);
  timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (!ec && self->state == State::Ringing) self->answer();
  });
}

void Call::answer() {
  try {
    const auto local = server->media_address_toward(peer);
    rtp.open(local.is_v6() ? udp::v6() : udp::v4());
    rtp.bind(udp::endpoint(local, 0));
    rtp_peer = udp::endpoint(asio::ip::make_address(offer.address), offer.port);
    AudioAnswer a;
    a.address = local.to_string();
    a.port = rtp.local_endpoint().port();
    a.codec = codec;
    a.telephone_event_pt = offer.telephone_event_pt;
    a.session_id = sdp_session = server->rng() >> 12;
    sdp_answer = make_audio_answer(a);
    prompt = server->greeting_for(mailbox.number);
    const auto beep = tone(1000, 400, 10000);
    prompt.insert(prompt.end(), beep.begin(), beep.end());
    meta = RecordingMeta{mailbox.number, mailbox.name, caller_of(invite), std::chrono::system_clock::now()};
    cng = std::make_unique<CngDetector>();
    tx_ssrc = static_cast<std::uint32_t>(server->rng());
    tx_sequence = static_cast<std::uint16_t>(server->rng());
    tx_timestamp = static_cast<std::uint32_t>(server->rng());
    recording = std::make_shared<RecordingFile>(server->config.recordings_dir,
                                                random_hex(server->rng, 12), meta);
    max_samples = static_cast<std::uint64_t>(server->config.max_recording.count()) * 8000;
  } catch (const std::exception& e) {
    log(LogLevel::Error, "sip", "call {}: cannot answer: {}", invite.call_id(), e.what());
    final_response = invite.response(500, "Server Internal Error", local_tag);
    server->send(final_response, peer);
    state = State::Done;
    server->calls.erase(invite.call_id());
    server->active = server->calls.size();
    return;
  }
  const std::string contact = server->contact_header(peer);
  final_response = invite.response(200, "OK", local_tag, contact + kAllow, "application/sdp", sdp_answer);
  state = State::AwaitingAck;
  server->send(final_response, peer);
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self] { return self->retransmit_final(); }, asio::detached);
  asio::co_spawn(server->strand, [self] { return self->play_prompt(); }, asio::detached);
  asio::co_spawn(server->strand, [self] { return self->receive_media(); }, asio::detached);
}

asio::awaitable<void> Call::retransmit_final() {
  auto self = shared_from_this();
  auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
  const auto give_up = Clock::now() + 64 * kT1;
  while (state == State::AwaitingAck) {
    retransmit.expires_after(interval);
    const auto [ec] = co_await retransmit.async_wait(net::use_nothrow);
    if (ec || state != State::AwaitingAck) co_return;
    if (Clock::now() >= give_up) {
      hang_up("no ACK");
      co_return;
    }
    server->send(final_response, peer);
    interval = std::min<Clock::duration>(interval * 2, kT2);
  }
}

void Call::on_ack() {
  if (state == State::AwaitingAck) {
    state = State::Connected;
    retransmit.cancel();
  }
}

void Call::on_cancel(const SipMessage& cancel) {
  server->send(cancel.response(200, "OK", local_tag), peer);
  if (state != State::Ringing) return;  // too late: the call was answered
  timer.cancel();
  final_response = invite.response(487, "Request Terminated", local_tag);
  server->send(final_response, peer);
  log(LogLevel::Info, "sip", "call {} cancelled before answer", invite.call_id());
  finish("cancelled");
}

void Call::on_bye(const SipMessage& bye) {
  server->send(bye.response(200, "OK", local_tag), peer);
  finish("caller hung up");
}

void Call::on_reinvite(const SipMessage& reinvite) {
  if (reinvite.content_type() == "application/sdp" && (state == State::Connected || state == State::AwaitingAck))
    if (const auto image = parse_t38_offer(reinvite.body())) return start_t38(reinvite, *image);
  if (t38) {  // back to audio after T.38 is not something a fax needs
    server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
    return;
  }
  // Session refresh or hold: keep our media as it is.
  const auto offer2 = reinvite.content_type() == "application/sdp" ? parse_audio_offer(reinvite.body()) : std::nullopt;
  if (state == State::Ringing || (reinvite.content_type() == "application/sdp" && (!offer2 || !offer2->codec))) {
    server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
    return;
  }
  const std::string contact = server->contact_header(peer);
  server->send(reinvite.response(200, "OK", local_tag, contact, "application/sdp", sdp_answer), peer);
}

// The gateway heard a fax and moves the call to T.38 (T.38 Annex D): the
// voicemail or G.711 fax so far makes way for a T.38 terminal on a UDPTL port.
void Call::start_t38(const SipMessage& reinvite, const T38Offer& image) {
  const std::string contact = server->contact_header(peer);
  if (!t38) {
    const auto id = random_hex(server->rng, 12);
    const auto tiff = server->config.recordings_dir / (id + ".tif");
    try {
      std::weak_ptr<Call> weak = shared_from_this();
      t38 = std::make_shared<T38Channel>(server->strand, server->media_address_toward(peer), image, tiff, [weak] {
        if (auto self = weak.lock(); self && self->t38) self->hang_up("fax " + self->t38->receiver().result());
      });
    } catch (const std::exception& e) {
      log(LogLevel::Error, "sip", "call {}: cannot start T.38: {}", invite.call_id(), e.what());
      server->send(reinvite.response(488, "Not Acceptable Here", local_tag), peer);
      return;
    }
    log(LogLevel::Info, "sip", "call {}: switched to T.38, receiving a fax for {}", invite.call_id(), mailbox.number);
    recording_active = false;
    watchdog.cancel();
    if (recording) recording->remove();
    recording.reset();
    if (fax) {  // T.30 starts again over T.38; the G.711 attempt had no page yet
      fax->terminate();
      const auto old = fax->tiff();
      fax.reset();
      std::error_code ignored;
      std::filesystem::remove(old, ignored);
      std::filesystem::remove(std::filesystem::path(old).replace_extension(".fax.json"), ignored);
    }
    keep_pages_durable(t38->receiver(), id);
    auto answer = t38->agreed();
    answer.session_id = sdp_session;
    answer.session_version = sdp_session + 1;
    t38_answer = make_t38_answer(answer);
    t38->start();
  }
  server->send(reinvite.response(200, "OK", local_tag, contact, "application/sdp", t38_answer), peer);
}

std::string Call::bye_request(std::string_view branch) const {
  const auto contact = invite.contact();
  const std::string target = contact ? contact->uri : invite.from().uri;
  std::string out = "BYE " + target + " SIP/2.0\r\n";
  out += "Via: SIP/2.0/" + std::string(peer.transport()) + " " + endpoint_text(server->transport.local_endpoint()) +
         ";branch=" + std::string(branch) +
         ";rport\r\n";
  out += "Max-Forwards: 70\r\n";
  for (const auto& route : invite.record_routes()) out += "Route: " + route + "\r\n";
  out += "From: " + invite.to_text() + ";tag=" + local_tag + "\r\n";
  out += "To: " + invite.from_text() + "\r\n";
  out += "Call-ID: " + invite.call_id() + "\r\n";
  out += "CSeq: 1 BYE\r\n";
  out += "User-Agent: " + server->config.user_agent + "\r\n";
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

void Call::hang_up(std::string reason) {
  if (state == State::Ending || state == State::Done) return;
  if (state == State::Ringing) {
    final_response = invite.response(480, "Temporarily Unavailable", local_tag);
    server->send(final_response, peer);
    return finish(std::move(reason));
  }
  state = State::Ending;
  end_reason = std::move(reason);
  const auto bye = bye_request("z9hG4bK" + random_hex(server->rng, 8));
  server->send(bye, peer);
  // Stop media now; the call leaves the table when the BYE is answered or given up.
  std::error_code ignored;
  rtp.close(ignored);
  watchdog.cancel();
  auto self = shared_from_this();
  asio::co_spawn(
      server->strand,
      [self, bye]() -> asio::awaitable<void> {
        auto interval = std::chrono::duration_cast<Clock::duration>(kT1);
        for (int attempt = 0; attempt < 6 && self->state == State::Ending; ++attempt) {
          self->retransmit.expires_after(interval);
          const auto [ec] = co_await self->retransmit.async_wait(net::use_nothrow);
          if (ec || self->state != State::Ending) co_return;
          if (!self->peer.tcp) self->server->send(bye, self->peer);  // TCP delivers it or breaks (RFC 3261 17.1.2.2)
          interval = std::min<Clock::duration>(interval * 2, kT2);
        }
        self->finish(self->end_reason);
      },
      asio::detached);
  if (server->stopped) finish(end_reason);
}

void Call::finish(std::string reason) {
  if (state == State::Done) return;
  state = State::Done;
  std::error_code ignored;
  rtp.close(ignored);
  timer.cancel();
  retransmit.cancel();
  watchdog.cancel();
  server->calls.erase(invite.call_id());
  server->active = server->calls.size();
  if (fax || t38) {
    FaxSession& session = t38 ? static_cast<FaxSession&>(t38->receiver()) : *fax;
    session.terminate();  // closes the TIFF
    const auto tiff = session.tiff();
    const auto pages = session.pages();
    const auto result = session.result();
    if (t38) {
      log(LogLevel::Info, "sip", "call {}: T.38 UDPTL packets recovered from redundancy {}, lost {}",
          invite.call_id(), t38->receiver().packets_recovered(), t38->receiver().packets_lost());
      t38->stop();
    }
    fax.reset();
    t38.reset();
    log(LogLevel::Info, "sip", "call {} ended ({}): fax of {} page(s), T.30: {}", invite.call_id(), reason, pages,
        result);
    server->deliver_fax(meta, tiff, pages, result, session.succeeded());
    return;
  }
  if (!recording) return;
  if (recording_active) {
    const auto tail = reorder.flush();
    const auto room = max_samples > recording->samples() ? max_samples - recording->samples() : 0;
    recording->append(std::span(tail).first(std::min<std::size_t>(tail.size(), room)));
  }
  log(LogLevel::Info, "sip", "call {} ended ({}): {:.1f} s recorded, {} RTP packets lost, {} late", invite.call_id(),
      reason, static_cast<double>(recording->samples()) / 8000.0, reorder.lost(), reorder.dropped());
  server->deliver_recording(std::move(recording));
}

asio::awaitable<void> Call::send_packet(std::span<const std::int16_t> samples, bool marker) {
  const auto payload = encode_g711(codec, samples);
  RtpPacket p;
  p.payload_type = static_cast<std::uint8_t>(codec);
  p.marker = marker;
  p.sequence = tx_sequence++;
  p.timestamp = tx_timestamp;
  p.ssrc = tx_ssrc;
  p.payload = payload;
  tx_timestamp += static_cast<std::uint32_t>(samples.size());
  const auto datagram = build_rtp(p);
  const auto [ec, sent] = co_await rtp.async_send_to(asio::buffer(datagram), rtp_peer, net::use_nothrow);
  (void)ec;  // a lost packet of prompt is not worth ending the call for
  (void)sent;
}

asio::awaitable<void> Call::play_prompt() {
  auto self = shared_from_this();
  asio::steady_timer pace(server->strand);
  auto next = Clock::now();
  for (std::size_t at = 0; at < prompt.size(); at += kSamplesPerPacket) {
    if (state == State::Ending || state == State::Done || fax || t38) co_return;
    const auto chunk = std::span(prompt).subspan(at, std::min(kSamplesPerPacket, prompt.size() - at));
    co_await send_packet(chunk, at == 0);
    next += 20ms;
    pace.expires_at(next);
    const auto [ec] = co_await pace.async_wait(net::use_nothrow);
    if (ec) co_return;
  }
  if (state == State::Ending || state == State::Done || fax || t38) co_return;
  recording_active = true;
  last_voice = Clock::now();
  asio::co_spawn(server->strand, [self] { return self->watch_recording(); }, asio::detached);
}

void Call::start_fax() {
  log(LogLevel::Info, "sip", "call {}: fax tone heard, receiving a fax for {}", invite.call_id(), mailbox.number);
  recording_active = false;
  const auto id = recording->id();
  const auto tiff = server->config.recordings_dir / (id + ".tif");
  recording->remove();
  recording.reset();
  watchdog.cancel();
  fax = std::make_unique<FaxReceiver>(tiff);
  keep_pages_durable(*fax, id);
  last_fax_audio = Clock::now();
  auto self = shared_from_this();
  asio::co_spawn(server->strand, [self] { return self->send_fax_audio(); }, asio::detached);
}

// Who the fax is for goes to disk before the first page, and each page is
// fsync'ed when complete: after a crash the next start delivers the pages.
void Call::keep_pages_durable(FaxSession& session, const std::string& id) {
  try {
    write_fax_meta(server->config.recordings_dir, id, meta);
  } catch (const std::exception& e) {
    log(LogLevel::Error, "sip", "call {}: fax pages will not survive a restart: {}", invite.call_id(), e.what());
  }
  session.on_page([weak = std::weak_ptr<SipServer::Impl>(server), tiff = session.tiff(), call_id = invite.call_id(),
                   &session] {
    const auto impl = weak.lock();
    if (!impl) return;
    log(LogLevel::Info, "sip", "call {}: fax page {} received", call_id, session.pages());
    asio::post(impl->workers, [tiff] {
      try {
        sync_fax_pages(tiff);
      } catch (const std::exception& e) {
        log(LogLevel::Error, "sip", "fax {}: {}", tiff.string(), e.what());
      }
    });
  });
}

asio::awaitable<void> Call::send_fax_audio() {
  auto self = shared_from_this();
  asio::steady_timer pace(server->strand);
  auto next = Clock::now();
  const auto give_up = Clock::now() + std::chrono::minutes(30);  // no fax takes this long
  while (fax && state != State::Ending && state != State::Done) {
    if (fax->finished() || Clock::now() > give_up) {
      hang_up(fax->finished() ? "fax " + fax->result() : "fax took too long");
      co_return;
    }
    // A gateway gone silent would leave T.30 waiting forever: its timers
    // advance only with received samples.
    if (Clock::now() - last_fax_audio > 10s) {
      hang_up("no fax audio for 10 s");
      co_return;
    }
    const auto samples = fax->transmit(kSamplesPerPacket);
    co_await send_packet(samples, false);
    next += 20ms;
    pace.expires_at(next);
    const auto [ec] = co_await pace.async_wait(net::use_nothrow);
    if (ec) co_return;
  }
}

void Call::on_fax_audio(std::vector<std::int16_t> samples, const RtpPacket& p) {
  last_fax_audio = Clock::now();
  const auto ready = fax_reorder.push(p.sequence, p.timestamp, std::move(samples));
  fax->receive(ready);
}

asio::awaitable<void> Call::receive_media() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buffer(2048);
  const auto media_source = asio::ip::make_address(offer.address);
  while (state != State::Done && state != State::Ending) {
    udp::endpoint from;
    const auto [ec, n] = co_await rtp.async_receive_from(asio::buffer(buffer), from, net::use_nothrow);
    if (ec) {
      if (aborted(ec) || !rtp.is_open()) co_return;
      continue;
    }
    // Media from anyone but the gateway would let a stranger talk into the recording.
    if (from.address() != media_source && from.address() != peer.address()) continue;
    if (const auto p = parse_rtp(std::span(buffer.data(), n))) on_rtp(*p);
  }
}

void Call::on_rtp(const RtpPacket& p) {
  if (state == State::Ending || state == State::Done || t38) return;
  if (offer.telephone_event_pt && p.payload_type == *offer.telephone_event_pt) {
    if (recording_active && p.payload.size() >= 4 && p.payload[0] == kDtmfPound) hang_up("caller pressed #");
    return;
  }
  if (p.payload_type != static_cast<std::uint8_t>(codec) || p.payload.size() > 1600) return;
  auto samples = decode_g711(codec, p.payload);
  if (fax) return on_fax_audio(std::move(samples), p);
  // A fax machine announces itself with CNG during the greeting or the recording.
  if (cng && recording && cng->feed(samples)) return start_fax();
  if (!recording_active) return;
  long long level = 0;
  for (const auto s : samples) level += std::abs(static_cast<int>(s));
  if (!samples.empty() && level / static_cast<long long>(samples.size()) > kVoiceLevel) last_voice = Clock::now();
  const auto ready = reorder.push(p.sequence, p.timestamp, std::move(samples));
  const auto room = max_samples > recording->samples() ? max_samples - recording->samples() : 0;
  recording->append(std::span(ready).first(std::min<std::size_t>(ready.size(), room)));
  if (recording->samples() >= max_samples) hang_up("maximum length reached");
}

asio::awaitable<void> Call::watch_recording() {
  auto self = shared_from_this();
  auto last_sync = Clock::now();
  while (state == State::Connected || state == State::AwaitingAck) {
    watchdog.expires_after(500ms);
    const auto [ec] = co_await watchdog.async_wait(net::use_nothrow);
    if (ec || !recording) co_return;
    if (Clock::now() - last_voice >= server->config.max_silence) {
      hang_up("silence");
      co_return;
    }
    if (Clock::now() - last_sync >= 1s) {
      last_sync = Clock::now();
      asio::post(server->workers, [file = recording] {
        try {
          file->sync();
        } catch (const std::exception& e) {
          log(LogLevel::Error, "sip", "recording {}: {}", file->id(), e.what());
        }
      });
    }
  }
}

// ---- public face --------------------------------------------------------

SipServer::SipServer(asio::io_context& io, SipServerConfig config, const mailstore::AccountStore& accounts,
                     mailstore::MailStore& store)
    : impl_(std::make_shared<Impl>(io, std::move(config), accounts, store)) {}

SipServer::~SipServer() {
  stop();
  impl_->workers.join();
}

void SipServer::start() { impl_->start(); }

void SipServer::stop() {
  // Calls and sockets belong to the strand; wait until it has run the stop.
  if (impl_->strand.running_in_this_thread()) return impl_->stop();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl_->strand, [impl = impl_, done] {
    impl->stop();
    done->set_value();
  });
  if (impl_->io.stopped()) return;
  finished.wait_for(std::chrono::seconds(5));
}

asio::ip::udp::endpoint SipServer::local_endpoint() const { return impl_->transport.local_endpoint(); }

std::size_t SipServer::active_calls() const { return impl_->active; }

}  // namespace umstore::sip
