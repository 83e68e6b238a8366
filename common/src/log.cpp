#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace umstore {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Info};
std::atomic<LogFormat> g_format{LogFormat::Text};
std::atomic<bool> g_redact_numbers{false};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
  }
  return "?";
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
}

bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Appends ,"key":"value" for each word of the form key=value (lower-case
// key); the fixed fields and a key seen before keep their first value.
void append_message_fields(std::string& out, std::string_view text) {
  std::string seen = " time level component message ";
  while (!text.empty()) {
    const auto space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    const auto eq = word.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == word.size()) continue;
    const std::string_view key = word.substr(0, eq);
    bool plain = true;
    for (const char c : key) plain = plain && is_key_char(c);
    if (!plain || seen.find(fmt::format(" {} ", key)) != std::string::npos) continue;
    seen.append(key).push_back(' ');
    std::string_view value = word.substr(eq + 1);
    if (value.ends_with(',') || value.ends_with(':') || value.ends_with(';')) value.remove_suffix(1);
    out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
    append_json_string(out, value);
  }
}
}  // namespace

std::string new_connection_id(char kind) {
  // Started at a point that differs per process, so ids of one run are not
  // mistaken for the previous run's in a log collector.
  static std::atomic<std::uint32_t> next{static_cast<std::uint32_t>(
      std::chrono::steady_clock::now().time_since_epoch().count() ^ ::getpid())};
  return fmt::format("{}{:05x}", kind, next.fetch_add(1, std::memory_order_relaxed) & 0xFFFFF);
}

void set_log_level(LogLevel level) noexcept { g_level = level; }
void set_log_format(LogFormat format) noexcept { g_format = format; }
void set_log_redact_numbers(bool redact) noexcept { g_redact_numbers = redact; }

std::string redact_numbers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = i + 1;
    if (text[i] == '+')
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    const std::size_t digits = end - i - 1;
    if (digits < 6 || digits > 15) {
      out.append(text.substr(i, end - i));
      i = end;
      continue;
    }
    out += text.substr(i, 3);
    out.append(digits - 4, '*');
    out += text.substr(end - 2, 2);
    i = end;
  }
  return out;
}
bool log_enabled(LogLevel level) noexcept { return level >= g_level.load(std::memory_order_relaxed); }

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warning") return LogLevel::Warning;
  if (name == "error") return LogLevel::Error;
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::Text;
  if (name == "json") return LogFormat::Json;
  return std::nullopt;
}

std::string format_log_line(LogFormat format, std::string_view time, LogLevel level, std::string_view component,
                            std::string_view text) {
  if (format == LogFormat::Text) return fmt::format("{} {} {}: {}\n", time, level_name(level), component, text);
  std::string line = R"({"time":)";
  append_json_string(line, time);
  line += R"(,"level":)";
  append_json_string(line, level_name(level));
  line += R"(,"component":)";
  append_json_string(line, component);
  line += R"(,"message":)";
  append_json_string(line, text);
  append_message_fields(line, text);
  line += "}\n";
  return line;
}

void log_line(LogLevel level, std::string_view component, std::string_view text) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::string time = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  const std::string redacted = g_redact_numbers.load(std::memory_order_relaxed) ? redact_numbers(text) : std::string();
  const std::string line = format_log_line(g_format.load(std::memory_order_relaxed), time, level, component,
                                           redacted.empty() ? text : std::string_view(redacted));
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace umstore
