#pragma once
// The SIP endpoint that gateways forward unanswered calls to: a UAS over UDP
// (RFC 3261) that answers, plays a greeting and a beep, records the caller
// over G.711 RTP and hands the recording to the voice pipeline.
#include <asio.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/pipeline.hpp"
#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::sip {

struct SipServerConfig {
  asio::ip::udp::endpoint listen{asio::ip::make_address("127.0.0.1"), 5060};
  // Only these addresses may INVITE (our gateways); an empty list refuses everyone.
  std::vector<asio::ip::address> allowed_gateways;
  std::size_t max_calls = 200;
  // Token bucket per source address for INVITEs, so one gateway gone wild
  // cannot starve the others.
  double invites_per_second_per_source = 20;
  double invite_burst = 40;
  // Crash-safe raw recordings (<id>.pcm plus <id>.json); leftovers from a
  // crash are delivered by start().
  std::filesystem::path recordings_dir;
  // The admin's greeting WAV for a mailbox, if any; otherwise a built-in prompt.
  std::function<std::optional<std::filesystem::path>(std::string_view number)> greeting_for;
  // Mailbox for calls whose target has none; empty: answer 404.
  std::string catch_all_mailbox;
  // Called (on a worker thread, may block) with each finished recording.
  std::function<void(ingest::Recording)> deliver;
  std::chrono::milliseconds answer_delay{0};     // ring this long before answering (lets CANCEL arrive)
  std::chrono::seconds max_recording{180};
  std::chrono::seconds max_silence{10};          // silence or no RTP this long ends the recording
  std::string user_agent = "umstore";
};

class SipServer {
 public:
  SipServer(asio::io_context& io, SipServerConfig config, const mailstore::AccountStore& accounts,
            mailstore::MailStore& store);
  ~SipServer();
  SipServer(const SipServer&) = delete;
  SipServer& operator=(const SipServer&) = delete;

  void start();
  // Ends every call (BYE), delivers what was recorded and closes the socket.
  void stop();
  asio::ip::udp::endpoint local_endpoint() const;
  std::size_t active_calls() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace umstore::sip
