#include "sdp.hpp"
#include "common/ascii.hpp"
#include "common/parse_number.hpp"

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

struct SdpLine {
  char type;
  std::string_view value;
};

// The next "x=value" line, consumed from `sdp`; other lines are skipped.
std::optional<SdpLine> next_line(std::string_view& sdp) {
  while (!sdp.empty()) {
    const auto eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp.remove_prefix(eol == std::string_view::npos ? sdp.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 2 && line[1] == '=') return SdpLine{line[0], line.substr(2)};
  }
  return std::nullopt;
}

// The address of a "c=" value: "IN IP4 192.0.2.1/127" -> "192.0.2.1".
std::optional<std::string> connection_address(std::string_view value) {
  const auto words = split_words(value);
  if (words.size() < 3 || words[0] != "IN") return std::nullopt;
  return std::string(words[2].substr(0, words[2].find('/')));
}

}  // namespace

std::optional<AudioOffer> parse_audio_offer(std::string_view sdp) {
  if (sdp.size() > kMaxSdpBytes) return std::nullopt;
  AudioOffer offer;
  std::string session_address;
  std::vector<std::uint8_t> payloads;
  bool in_audio = false, seen_audio = false;
  while (const auto line = next_line(sdp)) {
    const auto [type, value] = *line;
    if (type == 'm') {
      in_audio = false;
      const auto words = split_words(value);
      if (seen_audio || words.size() < 4 || words[0] != "audio") continue;
      in_audio = seen_audio = true;
      offer.port = parse_number<std::uint16_t>(words[1]).value_or(0);
      offer.savp = words[2] == "RTP/SAVP";
      for (std::size_t i = 3; i < words.size(); ++i)
        if (auto pt = parse_number<unsigned>(words[i]); pt && *pt < 128) payloads.push_back(static_cast<std::uint8_t>(*pt));
    } else if (type == 'c') {
      if (auto address = connection_address(value)) (in_audio ? offer.address : session_address) = std::move(*address);
    } else if (type == 'a' && in_audio && value.starts_with("crypto:")) {
      // "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY[|lifetime][|MKI:len]" (RFC 4568 §9.1)
      const auto words = split_words(value.substr(7));
      const auto tag = words.size() >= 3 ? parse_number<unsigned>(words[0]) : std::nullopt;
      if (tag && words[2].starts_with("inline:"))
        offer.crypto.push_back({*tag, std::string(words[1]), std::string(words[2].substr(7))});
    } else if (type == 'a' && in_audio && value.starts_with("rtpmap:")) {
      const auto words = split_words(value.substr(7));
      if (words.size() < 2) continue;
      const auto pt = parse_number<unsigned>(words[0]);
      if (pt && *pt < 128 && ascii_iequals(words[1].substr(0, words[1].find('/')), "telephone-event"))
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
      << "m=audio " << a.port << (a.savp ? " RTP/SAVP " : " RTP/AVP ") << pt;
  if (a.telephone_event_pt) out << " " << unsigned{*a.telephone_event_pt};
  out << "\r\n"
      << "a=rtpmap:" << pt << (a.codec == G711::Pcmu ? " PCMU/8000" : " PCMA/8000") << "\r\n";
  if (a.telephone_event_pt)
    out << "a=rtpmap:" << unsigned{*a.telephone_event_pt} << " telephone-event/8000\r\n"
        << "a=fmtp:" << unsigned{*a.telephone_event_pt} << " 0-15\r\n";
  if (a.crypto) out << "a=crypto:" << a.crypto->tag << " " << a.crypto->suite << " inline:" << a.crypto->key_params << "\r\n";
  out << "a=ptime:20\r\na=sendrecv\r\n";
  return out.str();
}

namespace {

// "name:value" or a bare "name" (a flag attribute) as name and value.
// Names are compared without regard to case: gateways differ
// (T38FaxVersion, t38faxversion).
std::pair<std::string_view, std::string_view> attribute(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return {line, {}};
  auto v = line.substr(colon + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return {line.substr(0, colon), v};
}

}  // namespace

std::optional<T38Offer> parse_t38_offer(std::string_view sdp) {
  if (sdp.size() > kMaxSdpBytes) return std::nullopt;
  T38Offer offer;
  offer.error_correction = T38ErrorCorrection::None;  // T.38 Annex D: absent means none
  std::string session_address;
  bool in_image = false, seen_image = false;
  while (const auto line = next_line(sdp)) {
    const auto [type, value] = *line;
    if (type == 'm') {
      in_image = false;
      const auto words = split_words(value);
      if (words.size() < 4) continue;
      if (!seen_image && words[0] == "image" && ascii_iequals(words[2], "udptl") && ascii_iequals(words[3], "t38")) {
        const auto port = parse_number<std::uint16_t>(words[1]);
        if (!port || *port == 0) continue;
        in_image = seen_image = true;
        offer.port = *port;
        offer.media.emplace_back("image");
        continue;
      }
      std::string rejected = "m=" + std::string(words[0]) + " 0";
      for (std::size_t i = 2; i < words.size(); ++i) rejected += " " + std::string(words[i]);
      offer.media.push_back(std::move(rejected));
    } else if (type == 'c') {
      auto address = connection_address(value);
      if (!address) continue;
      if (in_image) offer.address = std::move(*address);
      else if (!seen_image) session_address = std::move(*address);
    } else if (type == 'a' && in_image) {
      const auto [name, v] = attribute(value);
      if (ascii_iequals(name, "T38FaxVersion")) {
        offer.version = parse_number<unsigned>(v).value_or(0);
      } else if (ascii_iequals(name, "T38MaxBitRate")) {
        offer.max_bit_rate = parse_number<unsigned>(v).value_or(14400);
      } else if (ascii_iequals(name, "T38FaxRateManagement")) {
        offer.transferred_tcf = !ascii_iequals(v, "localTCF");
      } else if (ascii_iequals(name, "T38FaxMaxDatagram")) {
        offer.max_datagram = parse_number<unsigned>(v).value_or(0);
      } else if (ascii_iequals(name, "T38FaxUdpEC")) {
        offer.error_correction = ascii_iequals(v, "t38UDPRedundancy") ? T38ErrorCorrection::Redundancy
                                 : ascii_iequals(v, "t38UDPFEC")      ? T38ErrorCorrection::Fec
                                                                : T38ErrorCorrection::None;
      } else if (ascii_iequals(name, "T38FaxFillBitRemoval")) {
        offer.fill_bit_removal = v.empty() || v == "1";
      }
    }
  }
  if (!seen_image) return std::nullopt;
  if (offer.address.empty()) offer.address = session_address;
  if (offer.address.empty()) return std::nullopt;
  return offer;
}

std::string make_t38_answer(const T38Answer& a) {
  std::ostringstream out;
  out << "v=0\r\n"
      << "o=umstore " << a.session_id << " " << a.session_version << " IN IP4 " << a.address << "\r\n"
      << "s=umstore\r\n"
      << "c=IN IP4 " << a.address << "\r\n"
      << "t=0 0\r\n";
  const std::vector<std::string> image_only{"image"};
  for (const auto& m : a.media.empty() ? image_only : a.media) {
    if (m != "image") {
      out << m << "\r\n";
      continue;
    }
    out << "m=image " << a.port << " udptl t38\r\n"
        << "a=T38FaxVersion:" << a.version << "\r\n"
        << "a=T38MaxBitRate:" << a.max_bit_rate << "\r\n"
        << "a=T38FaxRateManagement:" << (a.transferred_tcf ? "transferredTCF" : "localTCF") << "\r\n"
        << "a=T38FaxMaxBuffer:1800\r\n"
        << "a=T38FaxMaxDatagram:" << a.max_datagram << "\r\n";
    switch (a.error_correction) {
      case T38ErrorCorrection::Redundancy: out << "a=T38FaxUdpEC:t38UDPRedundancy\r\n"; break;
      case T38ErrorCorrection::Fec: out << "a=T38FaxUdpEC:t38UDPFEC\r\n"; break;
      case T38ErrorCorrection::None: out << "a=T38FaxUdpEC:t38UDPNoEC\r\n"; break;
    }
  }
  return out.str();
}

}  // namespace umstore::sip
