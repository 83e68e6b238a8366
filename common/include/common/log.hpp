#pragma once
// One line per event to stderr, written with one write(2) so concurrent
// threads never interleave. Two formats ([log] format):
//   text  2026-11-21T19:40:01.123Z info smtp: session peer=192.0.2.1:4711 ...
//   json  {"time":"2026-11-21T19:40:01.123Z","level":"info","component":"smtp",
//          "message":"session peer=...","peer":"192.0.2.1:4711",...}
// In JSON every key=value word of the message (id=, peer=, to=, ...) is also
// a field of its own, so a log collector can follow an SMTP session, a queue
// id or a call without parsing the text. Every line about one connection or
// call carries conn=<id> (ConnectionLog), so one session can be followed.
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace umstore {

enum class LogLevel { Debug, Info, Warning, Error };
enum class LogFormat { Text, Json };

void set_log_level(LogLevel level) noexcept;
void set_log_format(LogFormat format) noexcept;
// [log] redact_numbers: telephone numbers in E.164 form (+ and 6 to 15
// digits: callers, mailboxes) are masked in every line, keeping the first
// and last two digits ("+15550123" -> "+15****23"), so logs can be kept
// and shared without holding who called whom.
void set_log_redact_numbers(bool redact) noexcept;
std::string redact_numbers(std::string_view text);
bool log_enabled(LogLevel level) noexcept;
void log_line(LogLevel level, std::string_view component, std::string_view text);

// "debug", "info", "warning", "error"; "text", "json". nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::optional<LogFormat> parse_log_format(std::string_view name);

// The line log_line writes, without the time stamp's source (tests).
std::string format_log_line(LogFormat format, std::string_view time, LogLevel level, std::string_view component,
                            std::string_view text);

// A short id for one connection or call: `kind` (s SMTP, i IMAP, h HTTP,
// c SIP call) and five hex digits, unique among the recent ones.
std::string new_connection_id(char kind);

// The log of one connection or call: every line starts with conn=<id>.
class ConnectionLog {
 public:
  ConnectionLog(std::string_view component, char kind)
      : component_(component), prefix_("conn=" + new_connection_id(kind) + " ") {}
  std::string_view id() const { return std::string_view(prefix_).substr(5, prefix_.size() - 6); }

  template <typename... Args>
  void operator()(LogLevel level, fmt::format_string<Args...> f, Args&&... args) const {
    if (log_enabled(level)) log_line(level, component_, prefix_ + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  std::string_view component_;  // a literal
  std::string prefix_;
};

template <typename... Args>
void log(LogLevel level, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(level)) log_line(level, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace umstore
