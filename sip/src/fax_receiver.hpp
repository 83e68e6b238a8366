#pragma once
// Fax with spandsp: the CNG tone (1100 Hz) that says a fax machine is
// calling, and a T.30 answering terminal writing received pages to a TIFF
// (over G.711 audio here, over T.38 in t38_fax.hpp).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

struct modem_connect_tones_rx_state_s;
struct fax_state_s;
struct t30_state_s;

namespace umstore::sip {

class CngDetector {
 public:
  CngDetector();
  ~CngDetector();
  CngDetector(const CngDetector&) = delete;
  CngDetector& operator=(const CngDetector&) = delete;
  // True once a CNG tone has been heard.
  bool feed(std::span<const std::int16_t> samples);

 private:
  static void on_tone(void* self, int code, int level, int delay);
  modem_connect_tones_rx_state_s* state_ = nullptr;
  bool heard_ = false;
};

// What a calling terminal sends (fax_sender.hpp): the pages and how it
// introduces itself.
struct FaxToSend {
  std::filesystem::path tiff;
  std::string station_id;   // TSI
  std::string sub_address;  // SUB, may be empty
  std::string page_header;  // may be empty
};

// One fax session with spandsp's T.30: the answering terminal writing the
// pages to a TIFF (FaxReceiver over G.711, T38FaxTerminal over T.38), or the
// calling terminal sending a TIFF (FaxSender, T38FaxTerminal).
class FaxSession {
 public:
  virtual ~FaxSession() = default;
  FaxSession(const FaxSession&) = delete;
  FaxSession& operator=(const FaxSession&) = delete;

  // Ends a session the caller cut short, so the pages that arrived are written.
  void terminate();

  bool finished() const { return finished_; }
  bool succeeded() const;
  int completion_code() const { return completion_code_; }  // -1 until T.30 ends
  unsigned pages() const;  // received, or sent when sending
  std::string remote_station() const;  // the far end's CSI (we send) or TSI (we receive)
  std::string remote_sub_address() const;
  std::string result() const;  // T.30 completion text, e.g. "OK" or why it failed
  const std::filesystem::path& tiff() const { return tiff_; }
  // Called (on the thread feeding the fax) each time a page is complete.
  void on_page(std::function<void()> handler) { on_page_ = std::move(handler); }

 protected:
  explicit FaxSession(std::filesystem::path tiff) : tiff_(std::move(tiff)) {}
  // Sets T.30 up to receive into tiff_ and to report its end to us.
  void configure(t30_state_s* t30, const std::string& local_ident);
  // Sets T.30 up to send `fax` (fax_sender.cpp).
  void configure_sending(t30_state_s* t30, const FaxToSend& fax);
  // What both directions share: ECM, compressions, the phase D and E handlers.
  void configure_common(t30_state_s* t30);

  std::filesystem::path tiff_;
  t30_state_s* t30_ = nullptr;
  bool finished_ = false;
  bool sending_ = false;
  int completion_code_ = -1;
  std::function<void()> on_page_;
};

// T.30 over G.711 audio, either end: spandsp's modems fed and drained in samples.
class AudioFaxSession : public FaxSession {
 public:
  ~AudioFaxSession() override;
  void receive(std::span<const std::int16_t> samples);
  std::vector<std::int16_t> transmit(std::size_t samples);

 protected:
  AudioFaxSession(std::filesystem::path tiff, bool calling);
  t30_state_s* t30() const;

 private:
  fax_state_s* fax_ = nullptr;
};

class FaxReceiver : public AudioFaxSession {
 public:
  explicit FaxReceiver(const std::filesystem::path& tiff, const std::string& local_ident = "umstore");
};

}  // namespace umstore::sip
