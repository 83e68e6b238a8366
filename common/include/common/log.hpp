#pragma once
// One line per event to stderr: "2026-11-21T19:40:01.123Z imap: ...".
// Lines are written with one write(2) so concurrent threads never interleave.
#include <fmt/format.h>

#include <string_view>

namespace umstore {

enum class LogLevel { Debug, Info, Warning, Error };

void set_log_level(LogLevel level) noexcept;
bool log_enabled(LogLevel level) noexcept;
void log_line(LogLevel level, std::string_view component, std::string_view text);

template <typename... Args>
void log(LogLevel level, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(level)) log_line(level, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace umstore
