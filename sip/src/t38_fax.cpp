#include "t38_fax.hpp"

#include <spandsp.h>

#include <stdexcept>

#include "common/log.hpp"
#include "net/task.hpp"

namespace umstore::sip {
namespace {

using namespace std::chrono_literals;
constexpr std::size_t kMaxDatagram = 2048;
constexpr unsigned kOurMaxDatagram = 1400;  // what we accept: kMaxDatagram less room to spare
constexpr std::size_t kRedundancy = 3;

}  // namespace

T38Answer negotiate_t38(const T38Offer& offer) {
  T38Answer a;
  a.version = std::min(offer.version, 3u);
  a.max_bit_rate = std::min(offer.max_bit_rate == 0 ? 14400u : offer.max_bit_rate, 14400u);
  a.transferred_tcf = offer.transferred_tcf;
  a.max_datagram = kOurMaxDatagram;
  // We send and read redundancy; FEC offered is answered with redundancy.
  a.error_correction =
      offer.error_correction == T38ErrorCorrection::None ? T38ErrorCorrection::None : T38ErrorCorrection::Redundancy;
  a.media = offer.media;
  return a;
}

T38FaxTerminal::T38FaxTerminal(const std::filesystem::path& tiff, const T38Answer& agreed, SendDatagram send,
                               const std::string& local_ident)
    : T38FaxTerminal(tiff, agreed, std::move(send), false) {
  configure(t38_terminal_get_t30_state(terminal_), local_ident);
}

T38FaxTerminal::T38FaxTerminal(const FaxToSend& fax, const T38Answer& agreed, SendDatagram send)
    : T38FaxTerminal(fax.tiff, agreed, std::move(send), true) {
  configure_sending(t38_terminal_get_t30_state(terminal_), fax);
}

T38FaxTerminal::T38FaxTerminal(const std::filesystem::path& tiff, const T38Answer& agreed, SendDatagram send,
                               bool calling)
    : FaxSession(tiff),
      send_(std::move(send)),
      udptl_tx_(agreed.error_correction == T38ErrorCorrection::None ? 0 : kRedundancy,
                agreed.peer_max_datagram) {
  terminal_ = t38_terminal_init(
      nullptr, calling ? 1 : 0,
      [](t38_core_state_t*, void* self, const uint8_t* buf, int len, int count) {
        return on_ifp(self, buf, len, count);
      },
      this);
  if (!terminal_) throw std::runtime_error("spandsp: cannot create a T.38 terminal");
  t38_core_state_t* core = t38_terminal_get_t38_core_state(terminal_);
  t38_set_t38_version(core, static_cast<int>(agreed.version));
  t38_set_data_rate_management_method(
      core, agreed.transferred_tcf ? T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF : T38_DATA_RATE_MANAGEMENT_LOCAL_TCF);
  t38_set_fastest_image_data_rate(core, static_cast<int>(agreed.max_bit_rate));
  t38_set_max_datagram_size(core, static_cast<int>(std::min<std::size_t>(agreed.peer_max_datagram, kMaxIfpBytes)));
  t38_terminal_set_tep_mode(terminal_, 0);
  t38_terminal_set_fill_bit_removal(terminal_, 0);
}

T38FaxTerminal::~T38FaxTerminal() { t38_terminal_free(terminal_); }

int T38FaxTerminal::on_ifp(void* self, const std::uint8_t* buf, int len, int count) {
  auto* me = static_cast<T38FaxTerminal*>(self);
  if (len <= 0) return 0;
  // spandsp asks for `count` copies of indicators; each goes in its own
  // datagram (a new sequence number), so a lost datagram costs nothing.
  for (int i = 0; i < std::max(count, 1); ++i)
    me->send_(me->udptl_tx_.next(std::span(buf, static_cast<std::size_t>(len))));
  return 0;
}

void T38FaxTerminal::receive(std::span<const std::uint8_t> datagram) {
  if (finished_) return;
  t38_core_state_t* core = t38_terminal_get_t38_core_state(terminal_);
  for (auto& ifp : udptl_rx_.receive(datagram))
    t38_core_rx_ifp_packet(core, ifp.data.data(), static_cast<int>(ifp.data.size()), ifp.sequence);
}

void T38FaxTerminal::advance(int samples) {
  if (!finished_) t38_terminal_send_timeout(terminal_, samples);
}

T38Channel::T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer,
                       const std::filesystem::path& tiff, std::function<void()> on_finished)
    : T38Channel(std::move(strand), local, offer, std::move(on_finished)) {
  terminal_ = std::make_unique<T38FaxTerminal>(tiff, agreed_, sender());
}

T38Channel::T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer, const FaxToSend& fax,
                       std::function<void()> on_finished)
    : T38Channel(std::move(strand), local, offer, std::move(on_finished)) {
  terminal_ = std::make_unique<T38FaxTerminal>(fax, agreed_, sender());
}

T38Channel::T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer,
                       std::function<void()> on_finished)
    : socket_(strand),
      pace_(strand),
      peer_(asio::ip::make_address(offer.address), offer.port),
      agreed_(negotiate_t38(offer)),
      on_finished_(std::move(on_finished)) {
  socket_.open(local.is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4());
  socket_.bind(asio::ip::udp::endpoint(local, 0));
  agreed_.address = local.to_string();
  agreed_.port = socket_.local_endpoint().port();
  agreed_.peer_max_datagram = offer.max_datagram == 0 ? 400 : offer.max_datagram;
}

T38Channel::T38Channel(Strand strand, const asio::ip::address& local, const FaxToSend& fax)
    : T38Channel(std::move(strand), local, T38Offer{local.to_string(), 0, 0, 14400, true, 0,
                                                    T38ErrorCorrection::Redundancy, false, {"image"}},
                 {}) {
  offered_ = fax;
}

void T38Channel::connect(const T38Offer& answer, std::function<void()> on_finished) {
  peer_ = asio::ip::udp::endpoint(asio::ip::make_address(answer.address), answer.port);
  const auto port = agreed_.port;
  agreed_ = negotiate_t38(answer);
  agreed_.address = socket_.local_endpoint().address().to_string();
  agreed_.port = port;
  agreed_.peer_max_datagram = answer.max_datagram == 0 ? 400 : answer.max_datagram;
  on_finished_ = std::move(on_finished);
  terminal_ = std::make_unique<T38FaxTerminal>(*offered_, agreed_, sender());
}

T38FaxTerminal::SendDatagram T38Channel::sender() {
  return [this](std::vector<std::uint8_t> datagram) {
    if (stopped_) return;
    auto buffer = std::make_shared<std::vector<std::uint8_t>>(std::move(datagram));
    socket_.async_send_to(asio::buffer(*buffer), peer_, [buffer](const std::error_code&, std::size_t) {});
  };
}

void T38Channel::start() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), [self] { return self->receive_loop(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self] { return self->pace_loop(); }, asio::detached);
}

void T38Channel::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ignored;
  socket_.close(ignored);
  pace_.cancel();
}

asio::awaitable<void> T38Channel::receive_loop() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buffer(kMaxDatagram);
  while (!stopped_) {
    asio::ip::udp::endpoint from;
    const auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(buffer), from, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !socket_.is_open()) co_return;
      continue;
    }
    // Only the gateway's media address may feed the fax.
    if (from.address() != peer_.address()) continue;
    terminal_->receive(std::span(buffer.data(), n));
  }
}

asio::awaitable<void> T38Channel::pace_loop() {
  auto self = shared_from_this();
  auto next = std::chrono::steady_clock::now();
  const auto give_up = next + std::chrono::minutes(30);  // no fax takes this long
  while (!stopped_) {
    next += 20ms;
    pace_.expires_at(next);
    const auto [ec] = co_await pace_.async_wait(net::use_nothrow);
    if (ec || stopped_) co_return;
    terminal_->advance(160);
    if (terminal_->finished() || std::chrono::steady_clock::now() > give_up) {
      if (!terminal_->finished()) terminal_->terminate();
      on_finished_();
      co_return;
    }
  }
}

}  // namespace umstore::sip
