#pragma once
// One line per event to stderr, written with one write(2) so concurrent
// threads never interleave. Two formats ([log] format):
//   text  2026-11-21T19:40:01.123Z info smtp: session peer=192.0.2.1:4711 ...
//   json  {"time":"2026-11-21T19:40:01.123Z","level":"info","component":"smtp",
//          "message":"session peer=...","peer":"192.0.2.1:4711",...}
// In JSON every key=value word of the message (id=, peer=, to=, ...) is also
// a field of its own, so a log collector can follow an SMTP session, a queue
// id or a call without parsing the text.
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace umstore {

enum class LogLevel { Debug, Info, Warning, Error };
enum class LogFormat { Text, Json };

void set_log_level(LogLevel level) noexcept;
void set_log_format(LogFormat format) noexcept;
bool log_enabled(LogLevel level) noexcept;
void log_line(LogLevel level, std::string_view component, std::string_view text);

// "debug", "info", "warning", "error"; "text", "json". nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::optional<LogFormat> parse_log_format(std::string_view name);

// The line log_line writes, without the time stamp's source (tests).
std::string format_log_line(LogFormat format, std::string_view time, LogLevel level, std::string_view component,
                            std::string_view text);

template <typename... Args>
void log(LogLevel level, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(level)) log_line(level, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace umstore
