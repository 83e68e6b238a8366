#include "sdp.hpp"

#include <charconv>
#include <sstream>
#include <vector>

namespace umstore::sip {
namespace {

constexpr std::size_t kMaxSdpBytes = 16 * 1024;

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto b = s.find_first_not_of(' ');
    if (b == std::string_view::npos) break;
    s.remove_prefix(b);
    const auto e = s.find(' ');
    out.push_back(s.substr(0, e));
    if (e == std::string_view::npos) break;
    s.remove_prefix(e);
  }
  return out;
}

template <typename T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

std::optional<AudioOffer> parse_audio_offer(std::string_view sdp) {
  if (sdp.size() > kMaxSdpBytes) return std::nullopt;
  AudioOffer offer;
  std::string session_address;
  std::vector<std::uint8_t> payloads;
  bool in_audio = false, seen_audio = false;
  while (!sdp.empty()) {
    const auto eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp.remove_prefix(eol == std::string_view::npos ? sdp.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 2 || line[1] != '=') continue;
    const char type = line[0];
    const std::string_view value = line.substr(2);
    if (type == 'm') {
      in_audio = false;
      const auto words = split_words(value);
      if (seen_audio || words.size() < 4 || words[0] != "audio") continue;
      in_audio = seen_audio = true;
      offer.port = number<std::uint16_t>(words[1]).value_or(0);
      for (std::size_t i = 3; i < words.size(); ++i)
        if (auto pt = number<unsigned>(words[i]); pt && *pt < 128) payloads.push_back(static_cast<std::uint8_t>(*pt));
    } else if (type == 'c') {
      const auto words = split_words(value);
      if (words.size() < 3 || words[0] != "IN") continue;
      std::string address(words[2].substr(0, words[2].find('/')));
      (in_audio ? offer.address : session_address) = address;
    } else if (type == 'a' && in_audio && value.starts_with("rtpmap:")) {
      const auto words = split_words(value.substr(7));
      if (words.size() < 2) continue;
      const auto pt = number<unsigned>(words[0]);
      if (pt && *pt < 128 && iequals(words[1].substr(0, words[1].find('/')), "telephone-event"))
        offer.telephone_event_pt = static_cast<std::uint8_t>(*pt);
    }
  }
  if (!seen_audio) return std::nullopt;
  if (offer.address.empty()) offer.address = session_address;
  for (const auto pt : payloads) {
    if (pt == 0) offer.codec = G711::Pcmu;
    if (pt == 8) offer.codec = G711::Pcma;
    if (offer.codec) break;
  }
  return offer;
}

std::string make_audio_answer(const AudioAnswer& a) {
  const auto pt = static_cast<unsigned>(a.codec);
  std::ostringstream out;
  out << "v=0\r\n"
      << "o=umstore " << a.session_id << " " << a.session_id << " IN IP4 " << a.address << "\r\n"
      << "s=umstore\r\n"
      << "c=IN IP4 " << a.address << "\r\n"
      << "t=0 0\r\n"
      << "m=audio " << a.port << " RTP/AVP " << pt;
  if (a.telephone_event_pt) out << " " << unsigned{*a.telephone_event_pt};
  out << "\r\n"
      << "a=rtpmap:" << pt << (a.codec == G711::Pcmu ? " PCMU/8000" : " PCMA/8000") << "\r\n";
  if (a.telephone_event_pt)
    out << "a=rtpmap:" << unsigned{*a.telephone_event_pt} << " telephone-event/8000\r\n"
        << "a=fmtp:" << unsigned{*a.telephone_event_pt} << " 0-15\r\n";
  out << "a=ptime:20\r\na=sendrecv\r\n";
  return out.str();
}

}  // namespace umstore::sip
