#include "command_line.hpp"

#include <termios.h>
#include <unistd.h>

#include <iostream>

namespace umstore::app {

bool CommandLine::printed_help(std::string_view usage) const {
  if (!flag("--help")) return false;
  std::cout << usage;
  return true;
}

CommandLine::CommandLine(std::span<const std::string> args, const OptionSpec& spec) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags_.insert("--help");
    } else if (arg.starts_with("--")) {
      auto eq = arg.find('=');
      std::string name = arg.substr(0, eq);
      if (spec.with_value.contains(name)) {
        if (eq != std::string::npos) {
          values_[name] = arg.substr(eq + 1);
        } else if (i + 1 < args.size()) {
          values_[name] = args[++i];
        } else {
          throw UsageError("option " + name + " needs a value");
        }
      } else if (spec.flags.contains(name) && eq == std::string::npos) {
        flags_.insert(name);
      } else {
        throw UsageError("unknown option " + name);
      }
    } else {
      positionals_.push_back(arg);
    }
  }
}

std::optional<std::string> CommandLine::value(const std::string& option) const {
  auto it = values_.find(option);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

const std::string& CommandLine::single(const std::string& what) const {
  if (positionals_.size() != 1)
    throw UsageError(positionals_.empty() ? "missing " + what : "expected only " + what + ", got extra arguments");
  return positionals_.front();
}

std::string read_password_from_stdin() {
  // On a terminal: asked for, without echo.
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << "password: " << std::flush;
  }
  std::string password;
  std::getline(std::cin, password);
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw UsageError("no password on standard input");
  return password;
}

}  // namespace umstore::app
