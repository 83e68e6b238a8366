#pragma once
// Fax over G.711 audio with spandsp: the CNG tone (1100 Hz) that says a fax
// machine is calling, and a T.30 answering terminal writing received pages
// to a TIFF.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

struct modem_connect_tones_rx_state_s;
struct fax_state_s;

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

class FaxReceiver {
 public:
  explicit FaxReceiver(const std::filesystem::path& tiff, const std::string& local_ident = "umstore");
  ~FaxReceiver();
  FaxReceiver(const FaxReceiver&) = delete;
  FaxReceiver& operator=(const FaxReceiver&) = delete;

  void receive(std::span<const std::int16_t> samples);
  std::vector<std::int16_t> transmit(std::size_t samples);
  // Ends a session the caller cut short, so the pages that arrived are written.
  void terminate();

  bool finished() const { return finished_; }
  bool succeeded() const;
  unsigned pages() const;
  std::string result() const;  // T.30 completion text, e.g. "OK" or why it failed
  const std::filesystem::path& tiff() const { return tiff_; }

 private:
  std::filesystem::path tiff_;
  fax_state_s* fax_ = nullptr;
  bool finished_ = false;
  int completion_code_ = -1;
};

}  // namespace umstore::sip
