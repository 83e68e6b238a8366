#pragma once
// Fax over T.38 (ITU-T T.38, UDPTL transport): spandsp's T.38 terminal as
// the answering fax machine (a fax received) or the calling one (a fax
// sent), IFP packets framed by udptl.hpp.
#include <asio.hpp>

#include <functional>
#include <memory>
#include <optional>

#include "fax_receiver.hpp"
#include "sdp.hpp"
#include "udptl.hpp"

struct t38_terminal_state_s;

namespace umstore::sip {

// The T.38 parameters both ends agreed on: what we answer to an offer.
T38Answer negotiate_t38(const T38Offer& offer);

class T38FaxTerminal : public FaxSession {
 public:
  using SendDatagram = std::function<void(std::vector<std::uint8_t>)>;
  // Answering: receives into `tiff`.
  T38FaxTerminal(const std::filesystem::path& tiff, const T38Answer& agreed, SendDatagram send,
                 const std::string& local_ident = "umstore");
  // Calling: sends `fax`.
  T38FaxTerminal(const FaxToSend& fax, const T38Answer& agreed, SendDatagram send);
  ~T38FaxTerminal() override;

  void receive(std::span<const std::uint8_t> datagram);
  // Advances T.30/T.38 timers by `samples` of 8 kHz time; call every 20 ms.
  void advance(int samples);
  std::uint64_t packets_recovered() const { return udptl_rx_.recovered(); }
  std::uint64_t packets_lost() const { return udptl_rx_.lost(); }

 private:
  T38FaxTerminal(const std::filesystem::path& tiff, const T38Answer& agreed, SendDatagram send, bool calling);
  static int on_ifp(void* self, const std::uint8_t* buf, int len, int count);
  t38_terminal_state_s* terminal_ = nullptr;
  SendDatagram send_;
  UdptlSender udptl_tx_;
  UdptlReceiver udptl_rx_;
};

// A T.38 fax on its own UDP port: receives UDPTL from the gateway, paces
// the terminal's timers, and says when T.30 is over. Lives on `strand`.
// Receives into `tiff`, or with a FaxToSend sends it.
class T38Channel : public std::enable_shared_from_this<T38Channel> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer,
             const std::filesystem::path& tiff, std::function<void()> on_finished);
  T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer, const FaxToSend& fax,
             std::function<void()> on_finished);

  // Calling with T.38 offered by us (a re-INVITE): the port is ours now,
  // the peer and what was agreed come with its answer (connect).
  T38Channel(Strand strand, const asio::ip::address& local, const FaxToSend& fax);
  // The answer to our offer: where the gateway's UDPTL is and its
  // parameters; the terminal is made here. Before start().
  void connect(const T38Offer& answer, std::function<void()> on_finished);

  std::uint16_t local_port() const { return socket_.local_endpoint().port(); }
  const T38Answer& agreed() const { return agreed_; }
  void start();
  void stop();  // closes the socket and timers; the terminal stays for its pages and result
  T38FaxTerminal& terminal() { return *terminal_; }

 private:
  asio::awaitable<void> receive_loop();
  asio::awaitable<void> pace_loop();
  T38Channel(Strand strand, const asio::ip::address& local, const T38Offer& offer, std::function<void()> on_finished);
  T38FaxTerminal::SendDatagram sender();

  asio::ip::udp::socket socket_;
  asio::steady_timer pace_;
  asio::ip::udp::endpoint peer_;
  T38Answer agreed_;
  std::unique_ptr<T38FaxTerminal> terminal_;
  std::function<void()> on_finished_;
  std::optional<FaxToSend> offered_;  // what to send once our offer is answered
  bool stopped_ = false;
};

}  // namespace umstore::sip
