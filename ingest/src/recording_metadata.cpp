#include "ingest/recording_metadata.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <ctime>

#include "common/e164.hpp"
#include "ingest/routing.hpp"

namespace umstore::ingest {
namespace {

constexpr std::size_t kMaxField = 1024;

std::string field(const nlohmann::json& fields, const char* name) {
  if (!fields.contains(name) || fields[name].is_null()) return {};
  const auto& v = fields[name];
  std::string s = v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : std::string("\x01");
  if (s == "\x01") throw InvalidMetadata(std::string("field '") + name + "' must be a string");
  if (s.size() > kMaxField) throw InvalidMetadata(std::string("field '") + name + "' is longer than 1024 bytes");
  return s;
}

bool starts_with_magic(std::string_view b, std::string_view magic, std::size_t at = 0) {
  return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic;
}

int digits(std::string_view s, std::size_t at, std::size_t n) {
  int v = 0;
  if (at + n > s.size()) return -1;
  auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
  return ec == std::errc{} && p == s.data() + at + n ? v : -1;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view t) {
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos && t.size() <= 12) {
    std::int64_t secs = 0;
    std::from_chars(t.data(), t.data() + t.size(), secs);
    return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
  }
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') || t[13] != ':' || t[16] != ':')
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = digits(t, 0, 4) - 1900;
  tm.tm_mon = digits(t, 5, 2) - 1;
  tm.tm_mday = digits(t, 8, 2);
  tm.tm_hour = digits(t, 11, 2);
  tm.tm_min = digits(t, 14, 2);
  tm.tm_sec = digits(t, 17, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  std::size_t pos = 19;
  if (t[pos] == '.') {
    ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
  }
  int offset_minutes = 0;
  const std::string_view zone = t.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset_minutes = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int h = digits(zone, 1, 2), m = digits(zone, 4, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return std::nullopt;
    offset_minutes = (zone[0] == '-' ? -1 : 1) * (h * 60 + m);
  } else {
    return std::nullopt;
  }
  const std::time_t utc = timegm(&tm) - offset_minutes * 60;
  return std::chrono::system_clock::from_time_t(utc);
}

RecordingMetadata parse_metadata(const nlohmann::json& fields) {
  if (!fields.is_object()) throw InvalidMetadata("the metadata must be a JSON object");
  RecordingMetadata m;
  m.to = field(fields, "to");
  if (m.to.empty()) throw InvalidMetadata("field 'to' (the called number) is required");
  m.from = field(fields, "from");
  if (!m.from.empty()) {
    if (auto e164 = normalise_e164(m.from)) m.from = *e164;
    else if (m.from.find_first_not_of("0123456789") != std::string::npos)
      throw InvalidMetadata("field 'from' ('" + m.from + "') is neither E.164 (+15550123) nor digits");
  }
  m.caller_name = field(fields, "caller_name");
  if (const auto received = field(fields, "received_at"); !received.empty()) {
    m.received_at = parse_timestamp(received);
    if (!m.received_at)
      throw InvalidMetadata("field 'received_at' ('" + received + "') is neither RFC 3339 nor Unix seconds");
  }
  if (const auto kind = field(fields, "kind"); !kind.empty()) {
    if (kind != "voice" && kind != "fax") throw InvalidMetadata("field 'kind' must be 'voice' or 'fax'");
    m.kind = kind == "fax" ? Kind::Fax : Kind::Voice;
  }
  m.id = field(fields, "id");
  return m;
}

std::optional<std::string> unsupported_format(Kind kind, std::string_view b) {
  if (kind == Kind::Fax) {
    if (starts_with_magic(b, std::string_view("II*\0", 4)) || starts_with_magic(b, std::string_view("MM\0*", 4)))
      return std::nullopt;
    return "a fax must be a TIFF image (it starts with II* or MM*)";
  }
  const bool riff = (starts_with_magic(b, "RIFF") || starts_with_magic(b, "RIFX") || starts_with_magic(b, "RF64")) &&
                    starts_with_magic(b, "WAVE", 8);
  const bool aiff = starts_with_magic(b, "FORM") && (starts_with_magic(b, "AIFF", 8) || starts_with_magic(b, "AIFC", 8));
  if (riff || aiff || starts_with_magic(b, ".snd") || starts_with_magic(b, "fLaC") || starts_with_magic(b, "OggS"))
    return std::nullopt;
  return "a voicemail must be audio in WAV, AU, AIFF, FLAC or Ogg (the format is not recognised)";
}

Recording make_recording(Kind kind, const RecordingMetadata& m, const Route& route, std::string file_name,
                         std::string_view file) {
  Recording r;
  r.kind = kind;
  r.to_number = route.mailbox;
  r.to_name = route.owner_name;
  r.caller.number = m.from;
  r.caller.name = m.caller_name;
  r.file_name = std::move(file_name);
  r.file.assign(file.begin(), file.end());
  if (m.received_at) r.received = *m.received_at;
  return r;
}

}  // namespace umstore::ingest
